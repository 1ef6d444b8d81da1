// Erlang term literals to terms.
//
// Containers are parsed with an explicit stack of open frames over one shared vector of pending
// elements, so nesting never uses the call stack; max_term_depth bounds the frames.
#include <bit>
#include <cfloat>
#include <cmath>
#include <vector>

#include "distribute/term.hpp"
#include "term/text_bits.hpp"
#include "term/text_chars.hpp"
#include "term/text_lexer.hpp"

namespace distribute {
namespace {

using text::Position;
using text::Token;
using text::TokenKind;

// Bits that size fields may ask for in one term (1 MiB in all), so that a few bytes such as
// <<0:8000000>> cannot each demand megabytes.
constexpr std::size_t max_sized_bits = std::size_t{1} << 23;

// A bit syntax type specifier list, after checking.
struct SegmentType {
    enum Kind { integer, float_, utf8, utf16, utf32 } kind = integer;
    bool little = false;
    std::size_t bits = 8;  // integer and float
    bool sized = false;
};

class Parser {
  public:
    explicit Parser(std::string_view source) : lexer_(source) {}

    Expected<Term, ParseError> run() {
        Term value;
        Token t;
        if (!parse_value(value) || !advance(t)) return unexpected(error_);
        bool dot = t.is(".");
        if (dot && !advance(t)) return unexpected(error_);
        if (t.kind != TokenKind::end) {
            expected(t, dot ? "end of input after '.'" : "'.' or end of input");
            return unexpected(error_);
        }
        return value;
    }

  private:
    enum class Open : std::uint8_t { tuple, list, list_tail, map_key, map_value };
    struct Frame {
        Open open;
        std::size_t first;  // index of the frame's first element in pending_
    };

    bool fail(Position at, std::string message) {
        if (error_.message.empty()) error_ = {at.line, at.column, std::move(message)};
        return false;
    }
    bool expected(const Token& t, const std::string& what) {
        return fail(t.where, "expected " + what + ", found " + t.describe());
    }
    bool can_nest(const Token& opening) {
        if (frames_.size() < max_term_depth) return true;
        return fail(opening.where,
                    "containers nested more than " + std::to_string(max_term_depth) + " deep");
    }
    bool lexer_failed() { return fail(lexer_.error_position(), lexer_.error_message()); }
    bool advance(Token& t) {
        if (has_lookahead_) {
            t = std::move(lookahead_);
            has_lookahead_ = false;
            return true;
        }
        return lexer_.next(t) || lexer_failed();
    }
    // The next token without consuming it; nullptr on a lexical error.
    const Token* peek() {
        if (!has_lookahead_) {
            if (!lexer_.next(lookahead_)) {
                lexer_failed();
                return nullptr;
            }
            has_lookahead_ = true;
        }
        return &lookahead_;
    }
    // Consumes the next token when it is `punct`. False with no error when it is not.
    bool accept(std::string_view punct, bool& failed) {
        const Token* next = peek();
        failed = next == nullptr;
        if (failed || !next->is(punct)) return false;
        has_lookahead_ = false;
        return true;
    }

    bool parse_value(Term& result);
    bool close_containers(Term value, bool& more, Term& result);
    bool parse_simple(Token& t, Term& out);
    bool parse_signed(Token& sign, Term& out);
    bool parse_strings(Token& first, std::u32string& chars);
    bool parse_atom(const Token& t, Atom& out);
    bool parse_fun(Term& out);
    bool parse_binary(Term& out);
    bool parse_segment(text::BitBuilder& bits);
    bool parse_segment_type(SegmentType& type, bool value_is_float);

    text::Lexer lexer_;
    Token lookahead_;
    bool has_lookahead_ = false;
    ParseError error_;
    std::vector<Frame> frames_;
    std::vector<Term> pending_;
    std::size_t sized_bits_ = 0;
};

bool Parser::parse_value(Term& result) {
    for (;;) {
        Token t;
        if (!advance(t)) return false;
        Term value;
        bool failed = false;
        if (t.is("{") || t.is("[")) {
            bool is_tuple = t.is("{");
            if (accept(is_tuple ? "}" : "]", failed)) {
                value = is_tuple ? tuple_from({}) : Term();
            } else if (failed) {
                return false;
            } else {
                if (!can_nest(t)) return false;
                frames_.push_back({is_tuple ? Open::tuple : Open::list, pending_.size()});
                continue;
            }
        } else if (t.is("#")) {
            Token brace;
            if (!advance(brace)) return false;
            if (!brace.is("{")) return expected(brace, "'{' after '#'");
            if (accept("}", failed)) {
                value = map_from({});
            } else if (failed) {
                return false;
            } else {
                if (!can_nest(t)) return false;
                frames_.push_back({Open::map_key, pending_.size()});
                continue;
            }
        } else if (t.is("<<")) {
            if (!parse_binary(value)) return false;
        } else if (!parse_simple(t, value)) {
            return false;
        }
        bool more = false;
        if (!close_containers(std::move(value), more, result)) return false;
        if (!more) return true;
    }
}

// Hands a finished value to the innermost open container, closing every container that ends
// after it. Sets `more` when a container expects another value, else stores the whole term.
bool Parser::close_containers(Term value, bool& more, Term& result) {
    for (;;) {
        if (frames_.empty()) {
            result = std::move(value);
            return true;
        }
        Frame& f = frames_.back();
        Token t;
        if (f.open != Open::list_tail) pending_.push_back(std::move(value));
        if (f.open == Open::map_key) {
            if (!advance(t)) return false;
            if (!t.is("=>")) return expected(t, "'=>'");
            f.open = Open::map_value;
            more = true;
            return true;
        }
        if (!advance(t)) return false;
        std::span<const Term> items(pending_.data() + f.first, pending_.size() - f.first);
        if (t.is(",") && f.open != Open::list_tail) {
            if (f.open == Open::map_value) f.open = Open::map_key;
            more = true;
            return true;
        }
        if (f.open == Open::list && t.is("|")) {
            f.open = Open::list_tail;
            more = true;
            return true;
        }
        switch (f.open) {
            case Open::tuple:
                if (!t.is("}")) return expected(t, "',' or '}'");
                value = tuple_from(items);
                break;
            case Open::list:
                if (!t.is("]")) return expected(t, "',', '|' or ']'");
                value = list_from(items);
                break;
            case Open::list_tail:
                if (!t.is("]")) return expected(t, "']'");
                value = list_from(items, std::move(value));
                break;
            case Open::map_value: {
                if (!t.is("}")) return expected(t, "',' or '}'");
                std::vector<MapEntry> entries;
                entries.reserve(items.size() / 2);
                for (std::size_t i = 0; i + 1 < items.size(); i += 2)
                    entries.push_back({items[i], items[i + 1]});
                value = map_from(entries);
                break;
            }
            case Open::map_key:
                break;  // handled above
        }
        pending_.resize(f.first);
        frames_.pop_back();
    }
}

bool Parser::parse_simple(Token& t, Term& out) {
    switch (t.kind) {
        case TokenKind::integer:
            out = std::move(t.value);
            return true;
        case TokenKind::float_:
            out = Term(t.number);
            return true;
        case TokenKind::string: {
            std::u32string chars;
            if (!parse_strings(t, chars)) return false;
            std::vector<Term> items(chars.begin(), chars.end());
            out = list_from(items);
            return true;
        }
        case TokenKind::atom: {
            if (!t.quoted && t.name == "fun") return parse_fun(out);
            Atom atom;
            if (!parse_atom(t, atom)) return false;
            out = Term(atom);
            return true;
        }
        case TokenKind::punct:
            if (t.is("-") || t.is("+")) return parse_signed(t, out);
            break;
        case TokenKind::variable:
        case TokenKind::end:
            break;
    }
    return expected(t, "a term");
}

bool Parser::parse_signed(Token& sign, Term& out) {
    Token t;
    if (!advance(t)) return false;
    bool negate = sign.is("-");
    if (t.kind == TokenKind::float_) {
        out = Term(negate ? -t.number : t.number);
        return true;
    }
    if (t.kind != TokenKind::integer)
        return expected(t, "a number after '" + std::string(sign.text) + "'");
    if (!negate) {
        out = std::move(t.value);
    } else if (auto small = t.value.to<std::int64_t>()) {
        out = Term(-*small);  // literals are never negative, so this cannot overflow
    } else {
        out = Term(-*t.value.to<BigInt>());
    }
    return true;
}

// A string literal and the ones written right after it, which Erlang joins into one.
bool Parser::parse_strings(Token& first, std::u32string& chars) {
    chars = std::move(first.chars);
    for (const Token* next = peek(); next != nullptr; next = peek()) {
        if (next->kind != TokenKind::string) return true;
        chars += next->chars;
        has_lookahead_ = false;
    }
    return false;
}

bool Parser::parse_atom(const Token& t, Atom& out) {
    if (t.kind != TokenKind::atom) return expected(t, "an atom");
    if (!t.quoted && text::reserved_word(t.name))
        return fail(t.where, "'" + t.name + "' is a reserved word: quote it to make an atom");
    auto atom = Atom::make(t.name);
    if (atom) {
        out = *atom;
        return true;
    }
    switch (atom.error()) {
        case AtomErrc::too_long:
            return fail(t.where, "atom longer than 255 characters");
        case AtomErrc::table_full:
            return fail(t.where, "the atom table is full");
        default:
            return fail(t.where, "invalid atom");
    }
}

// After `fun`: Module:Function/Arity.
bool Parser::parse_fun(Term& out) {
    Token t;
    ExportFun fun;
    if (!advance(t) || !parse_atom(t, fun.module) || !advance(t)) return false;
    if (!t.is(":")) return expected(t, "':' in fun Module:Function/Arity");
    if (!advance(t) || !parse_atom(t, fun.function) || !advance(t)) return false;
    if (!t.is("/")) return expected(t, "'/' in fun Module:Function/Arity");
    if (!advance(t)) return false;
    auto arity = t.kind == TokenKind::integer ? t.value.to<std::uint8_t>() : std::nullopt;
    if (!arity) return expected(t, "an arity from 0 to 255");
    fun.arity = *arity;
    out = Term(fun);
    return true;
}

// After '<<': segments up to '>>'.
bool Parser::parse_binary(Term& out) {
    text::BitBuilder bits;
    bool failed = false;
    if (!accept(">>", failed)) {
        if (failed) return false;
        for (;;) {
            if (!parse_segment(bits)) return false;
            Token t;
            if (!advance(t)) return false;
            if (t.is(">>")) break;
            if (!t.is(",")) return expected(t, "',' or '>>'");
        }
    }
    out = bits.finish();
    return true;
}

bool Parser::parse_segment(text::BitBuilder& bits) {
    Token t;
    if (!advance(t)) return false;
    Position at = t.where;
    bool negate = false;
    if (t.is("-") || t.is("+")) {
        negate = t.is("-");
        if (!advance(t)) return false;
        if (t.kind != TokenKind::integer && t.kind != TokenKind::float_)
            return expected(t, "a number after the sign");
    }
    std::u32string chars;
    if (t.kind == TokenKind::string) {
        if (!parse_strings(t, chars)) return false;
    } else if (t.kind != TokenKind::integer && t.kind != TokenKind::float_) {
        return expected(t, "an integer, float or string segment");
    }
    if (negate && t.kind == TokenKind::integer) {
        auto small = t.value.to<std::int64_t>();
        t.value = small ? Term(-*small) : Term(-*t.value.to<BigInt>());
    }
    double number = negate ? -t.number : t.number;

    SegmentType type;
    if (!parse_segment_type(type, t.kind == TokenKind::float_)) return false;
    std::size_t count = t.kind == TokenKind::string ? chars.size() : 1;
    if (type.sized) {
        if (type.bits > 0 && count > (max_sized_bits - sized_bits_) / type.bits)
            return fail(at, "size fields ask for more than 1 MiB");
        sized_bits_ += type.bits * count;
    }
    if (t.kind == TokenKind::float_ && type.kind != SegmentType::float_)
        return fail(at, "a float segment needs the float type");

    auto put = [&](const Term& integer) {
        switch (type.kind) {
            case SegmentType::integer:
                bits.put_integer(integer, type.bits, type.little);
                return true;
            case SegmentType::float_: {
                double v = integer.is_float() ? integer.to<double>().value()
                           : integer.to<std::int64_t>()
                               ? static_cast<double>(*integer.to<std::int64_t>())
                               : integer.to<BigInt>()->to_double();
                if (!std::isfinite(v) || (type.bits == 32 && std::fabs(v) > FLT_MAX))
                    return fail(at,
                                "value does not fit a " + std::to_string(type.bits) + "-bit float");
                bits.put_float(v, type.bits, type.little);
                return true;
            }
            default: {
                auto c = integer.to<std::int64_t>();
                if (!c || *c < 0 || *c > 0x10FFFF || (*c >= 0xD800 && *c <= 0xDFFF))
                    return fail(at, "not a Unicode code point");
                int width = type.kind == SegmentType::utf8    ? 8
                            : type.kind == SegmentType::utf16 ? 16
                                                              : 32;
                bits.put_utf(static_cast<char32_t>(*c), width, type.little);
                return true;
            }
        }
    };
    if (t.kind == TokenKind::string) {
        for (char32_t c : chars)
            if (!put(Term(static_cast<std::int64_t>(c)))) return false;
        return true;
    }
    if (t.kind == TokenKind::float_) return put(Term(number));
    return put(t.value);
}

// [':' Size] ['/' Type('-' Type)*], Type one of integer float utf8 utf16 utf32 signed unsigned
// big little native unit:N.
bool Parser::parse_segment_type(SegmentType& type, bool value_is_float) {
    bool failed = false;
    std::optional<std::size_t> size;
    std::optional<std::size_t> unit;
    Token t;
    if (accept(":", failed)) {
        if (!advance(t)) return false;
        auto n = t.kind == TokenKind::integer ? t.value.to<std::uint64_t>() : std::nullopt;
        if (!n || *n > max_sized_bits) return expected(t, "a segment size up to 2^23");
        size = *n;
    } else if (failed) {
        return false;
    }
    if (value_is_float) type.kind = SegmentType::float_;
    Position types_at = peek() ? lookahead_.where : Position{};
    if (accept("/", failed)) {
        do {
            if (!advance(t)) return false;
            std::string_view name = t.kind == TokenKind::atom && !t.quoted
                                        ? std::string_view(t.name)
                                        : std::string_view();
            if (name == "signed" || name == "unsigned") {
                continue;  // signedness only matters when matching, not when building
            } else if (name == "integer") {
                type.kind = SegmentType::integer;
            } else if (name == "float") {
                type.kind = SegmentType::float_;
            } else if (name == "utf8" || name == "utf16" || name == "utf32") {
                type.kind = name == "utf8"    ? SegmentType::utf8
                            : name == "utf16" ? SegmentType::utf16
                                              : SegmentType::utf32;
            } else if (name == "big" || name == "little" || name == "native") {
                type.little = name == "little" ||
                              (name == "native" && std::endian::native == std::endian::little);
            } else if (name == "unit") {
                if (!advance(t)) return false;
                if (!t.is(":")) return expected(t, "':' after unit");
                if (!advance(t)) return false;
                auto n = t.kind == TokenKind::integer ? t.value.to<std::uint16_t>() : std::nullopt;
                if (!n || *n < 1 || *n > 256) return expected(t, "a unit from 1 to 256");
                unit = *n;
            } else {
                return expected(t,
                                "a type: integer, float, utf8, utf16, utf32, signed, "
                                "unsigned, big, little, native or unit:N");
            }
        } while (accept("-", failed));
        if (failed) return false;
    } else if (failed) {
        return false;
    }
    bool utf = type.kind != SegmentType::integer && type.kind != SegmentType::float_;
    if (utf && (size || unit)) return fail(types_at, "utf segments take no size or unit");
    if (unit && !size) return fail(types_at, "a unit needs a size");
    type.sized = size.has_value();
    if (type.kind == SegmentType::float_) {
        type.bits = size ? *size * unit.value_or(1) : 64;
        if (type.bits != 32 && type.bits != 64)
            return fail(types_at, "float segments are 32 or 64 bits");
    } else if (type.kind == SegmentType::integer) {
        type.bits = size ? *size * unit.value_or(1) : 8;
    }
    return true;
}

}  // namespace

std::string ParseError::to_string() const {
    return "line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + message;
}

Expected<Term, ParseError> parse_term(std::string_view text) {
    return Parser(text).run();
}

}  // namespace distribute
