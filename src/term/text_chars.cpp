#include "term/text_chars.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <vector>

#include "term/utf8.hpp"

namespace distribute::text {

bool reserved_word(std::string_view name) noexcept {
    static constexpr std::array<std::string_view, 27> words = {
        "after", "and",  "andalso", "band",   "begin",   "bnot", "bor", "bsl",  "bsr",
        "bxor",  "case", "catch",   "cond",   "div",     "end",  "fun", "if",   "let",
        "not",   "of",   "or",      "orelse", "receive", "rem",  "try", "when", "xor",
    };
    return std::find(words.begin(), words.end(), name) != words.end();
}

void put_quoted_char(std::string& out, char32_t c, char32_t quote) {
    if (c == quote || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
    } else if ((c >= 0x20 && c <= 0x7E) || (c >= 0xA0 && c <= 0xFF)) {
        utf8::append(out, c);
    } else if (c > 0xFF) {
        char buf[16];
        auto end = std::to_chars(buf, buf + sizeof buf, static_cast<std::uint32_t>(c), 16).ptr;
        out += "\\x{";
        for (char* p = buf; p != end; ++p)
            out += static_cast<char>(*p >= 'a' ? *p - 'a' + 'A' : *p);
        out += '}';
    } else {
        static constexpr std::string_view named =
            "\nn\rr\tt\vv\bb\ff\x1b"
            "e\x7f"
            "d";
        for (std::size_t i = 0; i < named.size(); i += 2) {
            if (static_cast<char32_t>(named[i]) == c) {
                out += '\\';
                out += named[i + 1];
                return;
            }
        }
        out += '\\';
        out += static_cast<char>('0' + ((c >> 6) & 7));
        out += static_cast<char>('0' + ((c >> 3) & 7));
        out += static_cast<char>('0' + (c & 7));
    }
}

void put_atom(std::string& out, Atom atom) {
    std::string_view name = atom.name();
    std::vector<char32_t> chars;
    chars.reserve(name.size());
    for (std::size_t pos = 0; pos < name.size();) {
        auto c = utf8::next(name, pos);
        if (!c) {  // the table holds valid UTF-8; stay total anyway
            c = static_cast<unsigned char>(name[pos]);
            ++pos;
        }
        chars.push_back(*c);
    }
    bool bare = !chars.empty() && atom_start(chars[0]) &&
                std::all_of(chars.begin() + 1, chars.end(), name_char) && !reserved_word(name);
    if (bare) {
        out += name;
        return;
    }
    out += '\'';
    for (char32_t c : chars)
        put_quoted_char(out, c, U'\'');
    out += '\'';
}

}  // namespace distribute::text
