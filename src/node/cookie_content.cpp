#include "node/cookie_content.hpp"

namespace distribute::node {

Expected<std::string, NodeError> parse_cookie_content(std::string_view text) {
    std::size_t end = 0;
    while (end < text.size() && text[end] >= ' ' && text[end] <= '~')
        ++end;
    for (std::size_t i = end; i < text.size(); ++i)
        if (text[i] != '\n' && text[i] != '\r' && text[i] != ' ')
            return unexpected(NodeError{NodeErrc::no_cookie, "Bad characters in cookie"});
    if (end == 0) return unexpected(NodeError{NodeErrc::no_cookie, "Too short cookie string"});
    // erl makes the cookie an atom: a longer one stops its distribution with system_limit.
    if (end > max_cookie_chars)
        return unexpected(
            NodeError{NodeErrc::no_cookie, "Cookie of " + std::to_string(end) +
                                               " characters: erl's cookie is an atom, at most " +
                                               std::to_string(max_cookie_chars)});
    return std::string(text.substr(0, end));
}

}  // namespace distribute::node
