// libFuzzer target for the EPMD request parser (what the embedded server reads from anyone who
// connects; the replies the client reads have fuzz_epmd_reply). No input may crash or read out of
// bounds; every request accepted must encode back to exactly the bytes it used, unless the
// parser normalised it (a trailing NUL dropped, bytes ignored after the last field).
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/epmd_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace codec = distribute::wire::epmd;
    const std::span<const std::uint8_t> input(data, size);
    auto request = codec::parse_request(input);
    if (request && *request) {
        const auto& parsed = **request;
        if (parsed.used > size) __builtin_trap();
        // Re-encoding never grows the request and parses back to the same value.
        const auto again = codec::encode_request(parsed.value);
        if (again.size() > parsed.used) __builtin_trap();
        auto reparsed = codec::parse_request(again);
        if (!reparsed || !*reparsed || (*reparsed)->used != again.size()) __builtin_trap();
        if (codec::encode_request((*reparsed)->value) != again) __builtin_trap();
    }
    return 0;
}
