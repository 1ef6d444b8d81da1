// libFuzzer target for the ETF decoder: no input may crash, hang, leak or read out of bounds, and
// every term it accepts must encode to bytes that decode back to the same term.
#include <cstddef>
#include <cstdint>
#include <span>

#include "distribute/etf.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace distribute;
    // Small limits keep each run fast; the limits themselves are part of what is exercised.
    etf::DecodeOptions options{.max_depth = 4096, .max_bytes = 1 << 20, .max_bignum_bytes = 4096};
    SharedBuffer buffer(std::span(data, size));
    auto term = etf::decode(buffer, options);
    auto prefix = etf::decode_prefix(std::span(data, size), options);
    if (term.has_value() && !(prefix.has_value() && prefix->used == size)) __builtin_trap();
    if (!term) return 0;
    auto again = etf::decode(etf::encode(*term), options);
    if (!again || !(*again == *term)) __builtin_trap();
    return 0;
}
