#include "node/log_fields.hpp"

namespace distribute::node {

std::string log_field(std::string_view key, std::string_view value) {
    const bool plain = !value.empty() && value.find_first_of(" \"=\\") == std::string_view::npos;
    std::string out(key);
    out += '=';
    if (plain) return out.append(value);
    out += '"';
    for (const char c : value) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + '"';
}

}  // namespace distribute::node
