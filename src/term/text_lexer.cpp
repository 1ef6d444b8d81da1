#include "term/text_lexer.hpp"

#include <charconv>

#include "term/text_chars.hpp"
#include "term/utf8.hpp"

namespace distribute::text {
namespace {

int digit_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'z') return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
    return 99;
}

// Whether `c` may appear in Erlang source: a scalar value other than U+FFFE and U+FFFF.
bool unicode_char(std::uint64_t c) noexcept {
    return c < 0xD800 || (c > 0xDFFF && c < 0xFFFE) || (c > 0xFFFF && c <= 0x10FFFF);
}

Term integer_term(const std::string& digits, int base) {
    std::int64_t small = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), small, base);
    if (ec == std::errc() && end == digits.data() + digits.size()) return Term(small);
    // The digits were checked, so parsing cannot fail.
    return Term(*BigInt::parse(digits, base));
}

// The power of ten of the leading digit of "<int>.<frac>e<exp>", or nullopt for zero: tells
// an overflow from an underflow when the float does not fit a double.
std::optional<long> decimal_magnitude(std::string_view int_part, std::string_view frac_part,
                                      long exponent) {
    auto lead = int_part.find_first_not_of('0');
    if (lead != std::string_view::npos)
        return static_cast<long>(int_part.size() - lead) - 1 + exponent;
    auto first = frac_part.find_first_not_of('0');
    if (first == std::string_view::npos) return std::nullopt;
    return -static_cast<long>(first) - 1 + exponent;
}

}  // namespace

std::string Token::describe() const {
    std::string out;
    switch (kind) {
        case TokenKind::end:
            return "end of input";
        case TokenKind::string:
            return "a string";
        case TokenKind::punct:
            out.append(1, '\'').append(text).append(1, '\'');
            return out;
        case TokenKind::atom:
            out = "atom ";
            break;
        case TokenKind::variable:
            out = "variable ";
            break;
        case TokenKind::integer:
        case TokenKind::float_:
            out = "number ";
            break;
    }
    return out.append(text.substr(0, 32));
}

bool Lexer::fail(Position at, std::string message) {
    if (message_.empty()) {
        message_ = std::move(message);
        error_at_ = at;
    }
    return false;
}

std::optional<char32_t> Lexer::peek_char(std::size_t& length) const noexcept {
    if (pos_ >= src_.size()) return std::nullopt;
    std::size_t at = pos_;
    auto c = utf8::next(src_, at);
    length = at - pos_;
    return c;
}

bool Lexer::take_char(char32_t& c) {
    std::size_t length = 0;
    auto got = peek_char(length);
    if (!got)
        return pos_ >= src_.size() ? fail_here("unexpected end of input")
                                   : fail_here("invalid UTF-8");
    pos_ += length;
    c = *got;
    if (c == '\n') {
        ++line_;
        line_start_ = pos_;
    }
    return true;
}

// Whitespace as erl_scan sees it (control characters, space, U+0080..U+00A0) and % comments.
void Lexer::skip_blanks() noexcept {
    while (pos_ < src_.size()) {
        auto b = static_cast<unsigned char>(src_[pos_]);
        if (b == '%') {
            while (pos_ < src_.size() && src_[pos_] != '\n')
                ++pos_;
        } else if (b <= 0x20) {
            ++pos_;
            if (b == '\n') {
                ++line_;
                line_start_ = pos_;
            }
        } else if (b >= 0x80) {
            std::size_t length = 0;
            auto c = peek_char(length);
            if (!c || *c > 0xA0) return;
            pos_ += length;
        } else {
            return;
        }
    }
}

bool Lexer::next(Token& out) {
    skip_blanks();
    out = Token{};
    out.where = here();
    std::size_t start = pos_;
    auto finish = [&] {
        out.text = src_.substr(start, pos_ - start);
        return true;
    };
    if (pos_ >= src_.size()) return finish();
    char b = src_[pos_];
    if (b >= '0' && b <= '9') return read_number(out) && finish();
    if (b == '$') {
        ++pos_;
        char32_t c = 0;
        if (pos_ >= src_.size()) return fail(out.where, "expected a character after '$'");
        if (src_[pos_] == '\\') {
            ++pos_;
            if (!read_escape(c)) return false;
        } else if (!take_char(c)) {
            return false;
        }
        out.kind = TokenKind::integer;
        out.value = Term(static_cast<std::int64_t>(c));
        return finish();
    }
    if (b == '"' || b == '\'') {
        if (!read_quoted(static_cast<char32_t>(b), out.chars)) return false;
        out.kind = b == '"' ? TokenKind::string : TokenKind::atom;
        if (b == '\'') {
            out.quoted = true;
            for (char32_t c : out.chars)
                utf8::append(out.name, c);
            out.chars.clear();
        }
        return finish();
    }
    for (std::string_view two : {"=>", "<<", ">>"}) {
        if (src_.substr(pos_, 2) == two) {
            pos_ += 2;
            out.kind = TokenKind::punct;
            return finish();
        }
    }
    if (std::string_view("{}[],|#:/.-+").find(b) != std::string_view::npos) {
        ++pos_;
        out.kind = TokenKind::punct;
        return finish();
    }
    char32_t c = 0;
    if (!take_char(c)) return false;
    if (atom_start(c) || variable_start(c)) return read_name(out, c) && finish();
    std::string shown;
    utf8::append(shown, c);
    return fail(out.where, "unexpected character '" + shown + "'");
}

bool Lexer::read_digits(std::string& digits, int base) {
    while (pos_ < src_.size()) {
        char c = src_[pos_];
        if (digit_value(c) < base) {
            digits += c;
            ++pos_;
        } else if (c == '_' && !digits.empty() && pos_ + 1 < src_.size() &&
                   digit_value(src_[pos_ + 1]) < base) {
            ++pos_;  // a digit separator, as in 1_000_000
        } else {
            break;
        }
        if (digits.size() > max_integer_digits)
            return fail_here("number has more than " + std::to_string(max_integer_digits) +
                             " digits");
    }
    return true;
}

bool Lexer::read_number(Token& out) {
    std::string digits;
    if (!read_digits(digits, 10)) return false;
    if (pos_ < src_.size() && src_[pos_] == '#') {
        int base = 0;
        std::from_chars(digits.data(), digits.data() + std::min<std::size_t>(digits.size(), 3),
                        base);
        if (digits.size() > 2 || base < 2 || base > 36)
            return fail(out.where, "base must be 2 to 36, not " + digits.substr(0, 32));
        ++pos_;
        std::string based;
        if (!read_digits(based, base)) return false;
        if (based.empty())
            return fail_here("expected a digit of base " + std::to_string(base) + " after '#'");
        out.kind = TokenKind::integer;
        out.value = integer_term(based, base);
        return true;
    }
    bool fraction = pos_ + 1 < src_.size() && src_[pos_] == '.' && digit_value(src_[pos_ + 1]) < 10;
    if (!fraction) {
        out.kind = TokenKind::integer;
        out.value = integer_term(digits, 10);
        return true;
    }
    ++pos_;
    std::string frac;
    if (!read_digits(frac, 10)) return false;
    std::string text = digits + '.' + frac;
    long exponent = 0;
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
        ++pos_;
        std::string exp_digits;
        if (pos_ < src_.size() && (src_[pos_] == '+' || src_[pos_] == '-'))
            exp_digits += src_[pos_++];
        std::size_t sign = exp_digits.size();
        if (!read_digits(exp_digits, 10)) return false;
        if (exp_digits.size() == sign) return fail_here("expected exponent digits");
        text += 'e' + exp_digits;
        auto e = std::string_view(exp_digits).substr(exp_digits[0] == '+' ? 1 : 0);
        if (std::from_chars(e.data(), e.data() + e.size(), exponent).ec != std::errc())
            exponent = e[0] == '-' ? -1'000'000'000L : 1'000'000'000L;
    }
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range) {
        auto magnitude = decimal_magnitude(digits, frac, exponent);
        if (magnitude && *magnitude > 0) return fail(out.where, "float out of range");
        value = 0.0;  // an underflow reads as zero, as in Erlang
    } else if (ec != std::errc() || end != text.data() + text.size()) {
        return fail(out.where, "invalid float");
    }
    out.kind = TokenKind::float_;
    out.number = value;
    return true;
}

bool Lexer::read_quoted(char32_t quote, std::u32string& chars) {
    Position start = here();
    ++pos_;
    for (;;) {
        if (pos_ >= src_.size())
            return fail(start, quote == '"' ? "unterminated string" : "unterminated quoted atom");
        char32_t c = 0;
        if (!take_char(c)) return false;
        if (c == quote) return true;
        if (c == '\\' && !read_escape(c)) return false;
        chars += c;
    }
}

// After a backslash: octal \NNN, \xHH, \x{H...}, \^C (control), or a named or literal character.
bool Lexer::read_escape(char32_t& c) {
    Position start{line_, pos_ - line_start_};  // at the backslash
    auto at = [&](std::size_t i) { return pos_ + i < src_.size() ? src_[pos_ + i] : '\0'; };
    if (pos_ >= src_.size()) return fail(start, "unterminated escape sequence");
    char b = src_[pos_];
    if (b >= '0' && b <= '7') {
        c = 0;
        for (int i = 0; i < 3 && at(0) >= '0' && at(0) <= '7'; ++i, ++pos_)
            c = c * 8 + static_cast<char32_t>(at(0) - '0');
        return true;
    }
    if (b == 'x') {
        ++pos_;
        if (at(0) == '{') {
            ++pos_;
            std::uint64_t value = 0;
            std::size_t count = 0;
            for (; digit_value(at(0)) < 16; ++pos_, ++count)
                value = std::min<std::uint64_t>(value * 16 + digit_value(at(0)), 0x110000);
            if (count == 0 || at(0) != '}' || !unicode_char(value))
                return fail(start, "invalid \\x{...} escape");
            ++pos_;
            c = static_cast<char32_t>(value);
            return true;
        }
        if (digit_value(at(0)) >= 16 || digit_value(at(1)) >= 16)
            return fail(start, "expected two hex digits or {...} after \\x");
        c = static_cast<char32_t>(digit_value(at(0)) * 16 + digit_value(at(1)));
        pos_ += 2;
        return true;
    }
    if (b == '^') {
        ++pos_;
        if (pos_ >= src_.size()) return fail(start, "unterminated escape sequence");
        if (!take_char(c)) return false;
        c &= 31;
        return true;
    }
    if (!take_char(c)) return false;
    static constexpr std::string_view named = "n\nr\rt\tv\vb\bf\fe\x1bs d\x7f";
    for (std::size_t i = 0; i < named.size(); i += 2) {
        if (static_cast<char32_t>(named[i]) == c) {
            c = static_cast<unsigned char>(named[i + 1]);
            break;
        }
    }
    return true;
}

bool Lexer::read_name(Token& out, char32_t first) {
    out.kind = atom_start(first) ? TokenKind::atom : TokenKind::variable;
    utf8::append(out.name, first);
    std::size_t length = 0;
    for (auto c = peek_char(length); c && name_char(*c); c = peek_char(length)) {
        utf8::append(out.name, *c);
        pos_ += length;
    }
    return true;
}

}  // namespace distribute::text
