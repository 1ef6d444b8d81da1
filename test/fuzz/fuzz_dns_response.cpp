// libFuzzer target for the DNS response parser (what discovery reads from a resolver, or from
// anyone who can answer its UDP queries first). No input may crash or read out of bounds, and a
// response accepted must hold only names the parser promises: at most 253 characters of text
// (255 on the wire), labels of at most 63 bytes, no empty label, lower case.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>

#include "wire/dns_message.hpp"

namespace {

namespace dns = distribute::wire::dns;

void check_name(const std::string& name) {
    if (name.size() > dns::max_name_bytes - 2) __builtin_trap();
    std::size_t label = 0;
    for (const char c : name) {
        if (c == '.') {
            if (label == 0) __builtin_trap();
            label = 0;
            continue;
        }
        if (++label > dns::max_label_bytes) __builtin_trap();
        if (std::isupper(static_cast<unsigned char>(c))) __builtin_trap();
    }
    if (!name.empty() && label == 0) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto response = dns::decode_response(std::span<const std::uint8_t>(data, size));
    if (!response) {
        if (response.error().offset > size) __builtin_trap();
        return 0;
    }
    check_name(response->question);
    for (const auto& record : response->answers) {
        check_name(record.name);
        if (const auto* srv = std::get_if<dns::SrvData>(&record.data)) check_name(srv->target);
        if (const auto* target = std::get_if<std::string>(&record.data)) check_name(*target);
    }
    return 0;
}
