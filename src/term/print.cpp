// Terms in Erlang syntax, as io_lib:format("~p", [T]) writes them on one line, as UTF-8.
//
// Deep terms print with an explicit stack, so a million-deep list costs heap, not stack.
#include <charconv>
#include <ostream>
#include <string>
#include <vector>

#include "distribute/term.hpp"
#include "term/text_chars.hpp"

namespace distribute {
namespace {

using detail::Tag;
using detail::TermAccess;

template <class Int>
void put_int(std::string& out, Int value) {
    char buf[24];
    auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
    out.append(buf, end);
}

// float_to_list(F, [short]): the shortest digits that read back exactly, in decimal or
// scientific notation, whichever is shorter (decimal on a tie); scientific always beyond 2^53.
void put_float(std::string& out, double value) {
    char buf[40];
    auto end = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific).ptr;
    std::string_view sci(buf, end - buf);
    if (sci.front() == '-') {
        out += '-';
        sci.remove_prefix(1);
    }
    auto e_at = sci.find('e');
    std::string digits;
    for (char c : sci.substr(0, e_at))
        if (c != '.') digits += c;
    int exponent = 0;
    auto exp_text = sci.substr(e_at + 1);
    if (exp_text.front() == '+') exp_text.remove_prefix(1);
    std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);

    std::string scientific = digits.substr(0, 1) + '.' +
                             (digits.size() > 1 ? digits.substr(1) : "0") + 'e' +
                             std::to_string(exponent);
    constexpr double two_pow_53 = 9007199254740992.0;
    if (value >= two_pow_53 || value <= -two_pow_53) {
        out += scientific;
        return;
    }
    std::string decimal;
    auto n = static_cast<int>(digits.size());
    if (exponent < 0) {
        decimal = "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
    } else if (exponent + 1 >= n) {
        decimal = digits + std::string(static_cast<std::size_t>(exponent + 1 - n), '0') + ".0";
    } else {
        decimal = digits.substr(0, exponent + 1) + '.' + digits.substr(exponent + 1);
    }
    out += decimal.size() <= scientific.size() ? decimal : scientific;
}

void put_integer(std::string& out, const Term& t) {
    if (TermAccess::tag(t) == Tag::small_int) {
        put_int(out, TermAccess::small(t));
        return;
    }
    const auto& big = TermAccess::object<detail::BigObject>(t);
    out += BigInt(big.negative, {big.data(), big.size}).to_string();
}

// A list that ~p shows as "text": a proper, non-empty list of printable latin-1 characters.
bool printable_list(const Term& t) {
    if (!t.is_list() || t.is_nil() || !t.tail().is_nil()) return false;
    for (const Term& e : t.elements()) {
        if (TermAccess::tag(e) != Tag::small_int) return false;
        auto c = TermAccess::small(e);
        if (c < 0 || c > 255 || !text::printable_latin1(static_cast<char32_t>(c))) return false;
    }
    return true;
}

void put_string(std::string& out, const Term& list) {
    out += '"';
    for (const Term& e : list.elements())
        text::put_quoted_char(out, static_cast<char32_t>(TermAccess::small(e)), U'"');
    out += '"';
}

void put_bitstring(std::string& out, const Term& t) {
    auto bytes = t.bytes();
    std::uint8_t tail_bits = t.tail_bits();
    bool whole = tail_bits == 8;
    bool text = whole && !bytes.empty();
    for (std::size_t i = 0; text && i < bytes.size(); ++i)
        text = text::printable_latin1(bytes[i]);
    out += "<<";
    if (text) {
        out += '"';
        for (std::uint8_t b : bytes)
            text::put_quoted_char(out, b, U'"');
        out += '"';
    } else {
        std::size_t full = whole ? bytes.size() : bytes.size() - 1;
        for (std::size_t i = 0; i < full; ++i) {
            if (i > 0) out += ',';
            put_int(out, bytes[i]);
        }
        if (!whole) {
            if (full > 0) out += ',';
            put_int(out, bytes[full] >> (8 - tail_bits));
            out += ':';
            put_int(out, tail_bits);
        }
    }
    out += ">>";
}

// Node-local identifiers carry the node's name where the BEAM would put a node number.
void put_pid(std::string& out, const Pid& p) {
    out += '<';
    out += p.node.name();
    out += '.';
    put_int(out, p.id);
    out += '.';
    put_int(out, p.serial);
    out += '>';
}

void put_port(std::string& out, const Port& p) {
    out += "#Port<";
    out += p.node.name();
    out += '.';
    put_int(out, p.id);
    out += '>';
}

// The BEAM shows reference words most significant first.
void put_reference(std::string& out, const Reference& r) {
    out += "#Ref<";
    out += r.node.name();
    auto ids = r.ids();
    for (std::size_t i = ids.size(); i-- > 0;) {
        out += '.';
        put_int(out, ids[i]);
    }
    out += '>';
}

void put_export_fun(std::string& out, const ExportFun& f) {
    out += "fun ";
    text::put_atom(out, f.module);
    out += ':';
    text::put_atom(out, f.function);
    out += '/';
    put_int(out, f.arity);
}

// erlang:fun_to_list/1 shows the old index and uniq.
void put_closure(std::string& out, const Closure& c) {
    out += "#Fun<";
    text::put_atom(out, c.module);
    out += '.';
    out += to_string(c.old_index);
    out += '.';
    out += to_string(c.old_uniq);
    out += '>';
}

// A container being printed: what comes next is element `next` (or its tail, or its end).
struct Frame {
    Tag tag;
    bool at_value = false;  // maps: the key of entry `next` is out, its value is due
    bool tail_done = false;
    std::size_t next = 0;
    std::size_t size = 0;
    const Term* items = nullptr;
    const MapEntry* entries = nullptr;
    const Term* tail = nullptr;
    const Atom* fields = nullptr;  // records: the field names, beside `items`, their values
};

class Printer {
  public:
    explicit Printer(std::string& out) : out_(out) {}

    void print(const Term& root) {
        visit(root);
        while (!stack_.empty())
            step();
    }

  private:
    // Writes `t` if it is a leaf; else opens it and leaves a frame for its contents.
    void visit(const Term& t) {
        switch (TermAccess::tag(t)) {
            case Tag::small_int:
            case Tag::big_int:
                return put_integer(out_, t);
            case Tag::float_:
                return put_float(out_, TermAccess::number(t));
            case Tag::atom:
                return text::put_atom(out_, Atom::from_index(TermAccess::atom(t)));
            case Tag::nil:
                out_ += "[]";
                return;
            case Tag::binary:
                return put_bitstring(out_, t);
            case Tag::pid:
                return put_pid(out_, TermAccess::object<detail::PidObject>(t).value);
            case Tag::port:
                return put_port(out_, TermAccess::object<detail::PortObject>(t).value);
            case Tag::reference:
                return put_reference(out_, TermAccess::object<detail::ReferenceObject>(t).value);
            case Tag::export_fun:
                return put_export_fun(out_, TermAccess::object<detail::ExportFunObject>(t).value);
            case Tag::closure:
                return put_closure(out_, TermAccess::object<detail::ClosureObject>(t).value);
            case Tag::tuple: {
                auto items = t.elements();
                out_ += '{';
                if (items.empty()) {
                    out_ += '}';
                    return;
                }
                stack_.push_back({.tag = Tag::tuple, .size = items.size(), .items = items.data()});
                return;
            }
            case Tag::list: {
                if (printable_list(t)) return put_string(out_, t);
                auto items = t.elements();
                out_ += '[';
                stack_.push_back({.tag = Tag::list,
                                  .tail_done = t.tail().is_nil(),
                                  .size = items.size(),
                                  .items = items.data(),
                                  .tail = &t.tail()});
                return;
            }
            case Tag::map: {
                auto entries = t.entries();
                out_ += "#{";
                if (entries.empty()) {
                    out_ += '}';
                    return;
                }
                stack_.push_back(
                    {.tag = Tag::map, .size = entries.size(), .entries = entries.data()});
                return;
            }
            case Tag::record: {
                // As OTP 29's ~p: #Module:Name{Field = Value,...}
                const auto& r = TermAccess::object<detail::RecordObject>(t).value;
                out_ += '#';
                text::put_atom(out_, r.module);
                out_ += ':';
                text::put_atom(out_, r.name);
                out_ += '{';
                if (r.fields.empty()) {
                    out_ += '}';
                    return;
                }
                stack_.push_back({.tag = Tag::record,
                                  .size = r.fields.size(),
                                  .items = r.values.data(),
                                  .fields = r.fields.data()});
                return;
            }
            case Tag::buffer:
                return;  // never the tag of a term
        }
    }

    // Writes the next piece of the innermost open container. The frame is updated before
    // visit(), which may grow the stack and move it.
    void step() {
        Frame& f = stack_.back();
        if (f.tag == Tag::map) {
            if (f.next == f.size) return close('}');
            const MapEntry& e = f.entries[f.next];
            if (!f.at_value) {
                if (f.next > 0) out_ += ',';
                f.at_value = true;
                return visit(e.key);
            }
            out_ += " => ";
            f.at_value = false;
            ++f.next;
            return visit(e.value);
        }
        if (f.next < f.size) {
            if (f.next > 0) out_ += ',';
            if (f.tag == Tag::record) {
                text::put_atom(out_, f.fields[f.next]);
                out_ += " = ";
            }
            return visit(f.items[f.next++]);
        }
        if (f.tag == Tag::tuple || f.tag == Tag::record) return close('}');
        if (!f.tail_done) {
            out_ += '|';
            f.tail_done = true;
            return visit(*f.tail);
        }
        close(']');
    }

    void close(char c) {
        out_ += c;
        stack_.pop_back();
    }

    std::string& out_;
    std::vector<Frame> stack_;
};

}  // namespace

std::string to_string(const Term& t) {
    std::string out;
    Printer(out).print(t);
    return out;
}

std::ostream& operator<<(std::ostream& out, const Term& t) {
    return out << to_string(t);
}

}  // namespace distribute
