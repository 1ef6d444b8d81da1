// libFuzzer target for the cookie file's content (src/node/cookie_content.cpp), what a node reads
// from ~/.erlang.cookie before it can connect anywhere. No input may crash; a cookie accepted is
// never empty, at most an atom long, holds only ' '..'~', and is the file's beginning followed by
// nothing but line ends and spaces, as erl accepts it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "node/cookie_content.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto cookie = distribute::node::parse_cookie_content(text);
    if (!cookie) {
        if (cookie.error().detail.empty()) __builtin_trap();
        return 0;
    }
    if (cookie->empty() || cookie->size() > distribute::node::max_cookie_chars ||
        !text.starts_with(*cookie))
        __builtin_trap();
    for (char c : *cookie)
        if (c < ' ' || c > '~') __builtin_trap();
    for (char c : text.substr(cookie->size()))
        if (c != '\n' && c != '\r' && c != ' ') __builtin_trap();
    return 0;
}
