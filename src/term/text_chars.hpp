// Character classes and escapes of Erlang's text syntax, shared by the printer and the parser.
#pragma once

#include <string>
#include <string_view>

#include "distribute/term.hpp"

namespace distribute::text {

// io_lib's printable latin-1 characters: what ~p shows as text inside "..." and <<"...">>.
constexpr bool printable_latin1(char32_t c) noexcept {
    return (c >= 0x20 && c <= 0x7E) || (c >= 0xA0 && c <= 0xFF) || c == '\n' || c == '\r' ||
           c == '\t' || c == '\v' || c == '\b' || c == '\f' || c == 0x1B;
}

// Latin-1 letters that may start an unquoted atom (a-z, ß-ÿ but ÷).
constexpr bool atom_start(char32_t c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 0xDF && c <= 0xFF && c != 0xF7);
}

// Latin-1 letters that start a variable (A-Z, _, À-Þ but ×).
constexpr bool variable_start(char32_t c) noexcept {
    return (c >= 'A' && c <= 'Z') || c == '_' || (c >= 0xC0 && c <= 0xDE && c != 0xD7);
}

// What may follow the first character of an unquoted atom or a variable.
constexpr bool name_char(char32_t c) noexcept {
    return atom_start(c) || variable_start(c) || (c >= '0' && c <= '9') || c == '@';
}

// Erlang's reserved words (OTP 25 without the maybe feature): atoms that must be quoted.
bool reserved_word(std::string_view name) noexcept;

// Appends `c` as it appears inside a literal quoted with `quote`, escaped as io_lib escapes it
// (characters above 255 as \x{...}, as ~p does).
void put_quoted_char(std::string& out, char32_t c, char32_t quote);

// Appends the atom, quoted when Erlang syntax needs it.
void put_atom(std::string& out, Atom atom);

}  // namespace distribute::text
