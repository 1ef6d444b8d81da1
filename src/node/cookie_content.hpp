// A cookie file's bytes checked as erl checks them (OTP's auth.erl), apart from the file they came
// from: the reader in cookie_file.cpp does the I/O and the file's attributes, this the content.
#pragma once

#include <string>
#include <string_view>

#include "distribute/node.hpp"

namespace distribute::node {

inline constexpr std::size_t max_cookie_chars = 255;

// The cookie: characters ' '..'~' from the start; from the first other character on only '\n',
// '\r' and ' ' may follow ("Bad characters in cookie"); an empty cookie is "Too short cookie
// string". Spaces before the line end belong to the cookie, as in erl. A cookie longer than an
// atom can be is refused: erl (OTP 25, measured) fails to start its distribution on it.
Expected<std::string, NodeError> parse_cookie_content(std::string_view text);

}  // namespace distribute::node
