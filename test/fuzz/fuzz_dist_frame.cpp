// libFuzzer target for what a peer sends after the handshake: a frame body through the frame
// decoder (pass-through layout, control-message validation). No input may crash, hang or read out
// of bounds; every control message it accepts must encode back to a frame that decodes to the
// same message.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "wire/flags.hpp"
#include "wire/framing.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace distribute;
    etf::DecodeOptions options{.max_depth = 4096, .max_bytes = 1 << 20, .max_bignum_bytes = 4096};
    // Pass-through, as agreed with C nodes; fuzz_dist_stream takes the header layouts.
    const std::uint64_t flags =
        wire::offered & ~(wire::flag::dist_hdr_atom_cache | wire::flag::fragments);
    wire::FrameDecoder decoder(flags, options);
    SharedBuffer buffer(std::span(data, size));
    if (size == 0) return 0;  // the session treats an empty frame as a tick
    auto decoded = decoder.decode(buffer, buffer.span());
    if (!decoded || !*decoded) return 0;
    const wire::Control& control = **decoded;
    // UNLINK and NODE_LINK are decoded but never sent.
    if (std::holds_alternative<wire::Unlink>(control) ||
        std::holds_alternative<wire::NodeLink>(control))
        return 0;
    std::vector<std::uint8_t> frame;
    wire::FrameEncoder(flags).encode(frame, control);
    SharedBuffer again(std::span<const std::uint8_t>(frame).subspan(4));
    auto back = wire::FrameDecoder(flags, options).decode(again, again.span());
    if (!back || !*back) __builtin_trap();
    // Send may come back as itself only when the flags do not upgrade it; compare by op name.
    if (wire::op_for(**back, flags) != wire::op_for(control, flags)) __builtin_trap();
    return 0;
}
