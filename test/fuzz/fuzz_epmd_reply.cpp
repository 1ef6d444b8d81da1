// libFuzzer target for the EPMD replies the client reads (src/wire/epmd_codec.cpp): ALIVE2_RESP
// and ALIVE2_X_RESP, PORT2_RESP and the NAMES reply, each from whatever bytes an EPMD (or
// anything listening on its port) sends. No input may crash or read out of bounds; every reply
// accepted must use no more bytes than it was given and encode back to a reply that parses to
// the same value.
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/epmd_codec.hpp"

namespace {

namespace codec = distribute::wire::epmd;

void alive2(std::span<const std::uint8_t> input) {
    auto reply = codec::parse_alive2_reply(input);
    if (!reply || !*reply) return;
    if ((*reply)->used > input.size()) __builtin_trap();
    const auto again = codec::encode_alive2_reply((*reply)->value);
    auto reparsed = codec::parse_alive2_reply(again);
    if (!reparsed || !*reparsed || (*reparsed)->used != again.size()) __builtin_trap();
    const auto& [result, creation, extended] = (*reparsed)->value;
    const auto& first = (*reply)->value;
    if (result != first.result || extended != first.extended) __builtin_trap();
    // A 16-bit creation cannot carry more than 16 bits.
    if (creation != (first.extended ? first.creation : (first.creation & 0xffffu)))
        __builtin_trap();
}

void port2(std::span<const std::uint8_t> input) {
    auto reply = codec::parse_port2_reply(input);
    if (!reply || !*reply) return;
    if ((*reply)->used > input.size()) __builtin_trap();
    const auto again = codec::encode_port2_reply((*reply)->value);
    auto reparsed = codec::parse_port2_reply(again);
    if (!reparsed || !*reparsed || (*reparsed)->used != again.size()) __builtin_trap();
    if ((*reparsed)->value != (*reply)->value) __builtin_trap();
}

void names(std::span<const std::uint8_t> input) {
    auto reply = codec::parse_names_reply(input);
    if (!reply) return;
    // erl_epmd ends a name at its first space: no entry it would skip may be listed.
    for (const auto& entry : reply->names)
        if (entry.name.find(' ') != std::string::npos) __builtin_trap();
    const auto again = codec::encode_names_reply(reply->epmd_port, reply->names);
    auto reparsed = codec::parse_names_reply(again);
    if (!reparsed || reparsed->epmd_port != reply->epmd_port || reparsed->names != reply->names)
        __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> input(data, size);
    alive2(input);
    port2(input);
    names(input);
    return 0;
}
