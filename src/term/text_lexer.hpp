// Tokens of Erlang term literals, from UTF-8 text.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "distribute/term.hpp"

namespace distribute::text {

// Integer literals longer than this are refused: reading a number costs time quadratic in its
// length (a million digits is a 3.3-million-bit bignum, far past anything a peer sends).
inline constexpr std::size_t max_integer_digits = 1'000'000;

enum class TokenKind : std::uint8_t {
    end,       // no more input
    punct,     // { } [ ] , | => # << >> : / . - +
    atom,      // name holds the UTF-8 name
    variable,  // never a term, but named in errors
    integer,   // value holds it (also for $c)
    float_,    // number holds it
    string,    // chars holds the code points
};

struct Position {
    std::size_t line = 1;
    std::size_t column = 1;
};

struct Token {
    TokenKind kind = TokenKind::end;
    Position where;
    std::string_view text;  // the token's source
    std::string name;
    bool quoted = false;  // atoms: written in quotes
    std::u32string chars;
    Term value;
    double number = 0;

    bool is(std::string_view punct) const noexcept {
        return kind == TokenKind::punct && text == punct;
    }
    // For messages: "'}'", "atom foo", "end of input".
    std::string describe() const;
};

class Lexer {
  public:
    explicit Lexer(std::string_view source) noexcept : src_(source) {}

    // Reads the next token into `out`; on a lexical error returns false, and error_message()
    // and error_position() say what and where.
    bool next(Token& out);
    const std::string& error_message() const noexcept { return message_; }
    Position error_position() const noexcept { return error_at_; }

  private:
    Position here() const noexcept { return {line_, pos_ - line_start_ + 1}; }
    bool fail(Position at, std::string message);
    bool fail_here(std::string message) { return fail(here(), std::move(message)); }
    // The code point at pos_ (without consuming it), or nullopt at the end or on bad UTF-8.
    std::optional<char32_t> peek_char(std::size_t& length) const noexcept;
    bool take_char(char32_t& c);
    void skip_blanks() noexcept;
    bool read_number(Token& out);
    bool read_digits(std::string& digits, int base);
    bool read_quoted(char32_t quote, std::u32string& chars);
    bool read_escape(char32_t& c);
    bool read_name(Token& out, char32_t first);

    std::string_view src_;
    std::size_t pos_ = 0;
    std::size_t line_ = 1;
    std::size_t line_start_ = 0;
    std::string message_;
    Position error_at_;
};

}  // namespace distribute::text
