// libFuzzer target for a connection's stream of frames once a BEAM agreed distribution headers
// and fragments: the input is records of `Len:16, frame`, fed in order to one decoder, so that
// atom cache entries set by one header are referred to by later ones and fragment sequences
// interleave. No input may crash, hang, read out of bounds or hold more than the reassembly
// limit; every control message accepted must encode back to a frame that decodes to it, through
// our own encoder's atom cache: the re-encoded frames go, in order, to a second decoder, as a
// peer reads what we send.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "wire/flags.hpp"
#include "wire/framing.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace distribute;
    const etf::DecodeOptions options{
        .max_depth = 4096, .max_bytes = 1 << 20, .max_bignum_bytes = 4096};
    const wire::ReassemblyLimits limits{.max_bytes = 1 << 20, .max_sequences = 16};
    const std::uint64_t flags = wire::offered;
    wire::FrameDecoder decoder(flags, options, limits);
    wire::FrameEncoder encoder(flags, true);
    wire::FrameDecoder ours(flags, options, limits);
    std::span<const std::uint8_t> rest(data, size);
    while (rest.size() >= 2) {
        const std::size_t n =
            std::min<std::size_t>((std::size_t{rest[0]} << 8) | rest[1], rest.size() - 2);
        SharedBuffer frame(rest.subspan(2, n));
        rest = rest.subspan(2 + n);
        if (n == 0) continue;  // a tick
        auto decoded = decoder.decode(frame, frame.span());
        if (decoder.reassembly().bytes_held() > limits.max_bytes ||
            decoder.reassembly().sequences_in_progress() > limits.max_sequences)
            __builtin_trap();
        if (!decoded) return 0;  // the session closes the connection here
        if (!*decoded) continue;
        const wire::Control& control = **decoded;
        if (std::holds_alternative<wire::Unlink>(control) ||
            std::holds_alternative<wire::NodeLink>(control))
            continue;  // decoded but never sent
        std::vector<std::uint8_t> out;
        encoder.encode(out, control);
        SharedBuffer again(std::span<const std::uint8_t>(out).subspan(4));
        auto back = ours.decode(again, again.span());
        if (!back || !*back) __builtin_trap();
        if (wire::op_for(**back, flags) != wire::op_for(control, flags)) __builtin_trap();
    }
    return 0;
}
