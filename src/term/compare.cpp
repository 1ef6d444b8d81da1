// Erlang's term order, without recursion: nested containers push frames on an explicit stack, so
// comparing two million-deep terms uses heap, not stack.
#include <bit>
#include <cmath>
#include <cstring>

#include "distribute/term.hpp"

namespace distribute {
namespace {

using detail::Tag;
using detail::TermAccess;

int sign(std::strong_ordering o) noexcept {
    return o < 0 ? -1 : o > 0 ? 1 : 0;
}
template <class T>
int three_way(const T& a, const T& b) noexcept {
    return a < b ? -1 : b < a ? 1 : 0;
}

// Position of a representation in Erlang's order of kinds.
int order_class(Tag t) noexcept {
    switch (t) {
        case Tag::small_int:
        case Tag::big_int:
        case Tag::float_:
            return 0;
        case Tag::atom:
            return 1;
        case Tag::reference:
            return 2;
        case Tag::export_fun:
        case Tag::closure:
            return 3;
        case Tag::port:
            return 4;
        case Tag::pid:
            return 5;
        case Tag::tuple:
            return 6;
        case Tag::record:
            return 7;
        case Tag::map:
            return 8;
        case Tag::nil:
            return 9;
        case Tag::list:
            return 10;
        case Tag::binary:
        case Tag::buffer:
            break;
    }
    return 11;
}

int compare_atoms(std::uint32_t a, std::uint32_t b) noexcept {
    if (a == b) return 0;
    return sign(Atom::from_index(a) <=> Atom::from_index(b));
}

// Big integers are outside the int64 range, so against a small one only the sign matters.
int compare_big(const detail::BigObject& a, const detail::BigObject& b) noexcept {
    if (a.negative != b.negative) return a.negative ? -1 : 1;
    int mag = three_way(a.size, b.size);
    for (std::size_t i = a.size; mag == 0 && i-- > 0;)
        mag = three_way(a.data()[i], b.data()[i]);
    return a.negative ? -mag : mag;
}

int compare_small_double(std::int64_t i, double d) noexcept {
    constexpr double two63 = 9223372036854775808.0;
    if (d >= two63) return -1;
    if (d < -two63) return 1;
    double whole = std::trunc(d);
    auto w = static_cast<std::int64_t>(whole);
    if (i != w) return i < w ? -1 : 1;
    double fraction = d - whole;
    return fraction > 0 ? -1 : fraction < 0 ? 1 : 0;
}

int compare_big_double(const detail::BigObject& big, double d) noexcept {
    constexpr double two63 = 9223372036854775808.0;
    if (std::fabs(d) < two63 || (d < 0) != big.negative) return big.negative ? -1 : 1;
    // |d| >= 2^63 is a whole number: write it as a big magnitude and compare exactly.
    int exponent = 0;
    double fraction = std::frexp(std::fabs(d), &exponent);
    auto mantissa = static_cast<std::uint64_t>(std::ldexp(fraction, 64));
    int shift = exponent - 64;
    std::vector<std::uint8_t> mag(static_cast<std::size_t>(shift / 8) + 9, 0);
    unsigned __int128 shifted = static_cast<unsigned __int128>(mantissa) << (shift % 8);
    for (std::size_t k = 0; k < 9; ++k)
        mag[shift / 8 + k] = static_cast<std::uint8_t>(shifted >> (8 * k));
    while (!mag.empty() && mag.back() == 0)
        mag.pop_back();
    int m = three_way(big.size, mag.size());
    for (std::size_t k = big.size; m == 0 && k-- > 0;)
        m = three_way(big.data()[k], mag[k]);
    return big.negative ? -m : m;
}

int compare_numbers(const Term& a, const Term& b, bool exact) noexcept {
    Tag ta = TermAccess::tag(a), tb = TermAccess::tag(b);
    if (ta == Tag::small_int && tb == Tag::small_int)
        return three_way(TermAccess::small(a), TermAccess::small(b));
    if (ta == Tag::float_ && tb == Tag::float_) {
        const double x = TermAccess::number(a), y = TermAccess::number(b);
        // Since OTP 27, -0.0 and 0.0 are == but not =:=, and in exact order (map keys) -0.0
        // comes first.
        if (int c = three_way(x, y); c != 0 || !exact) return c;
        return three_way(!std::signbit(x), !std::signbit(y));
    }
    bool a_float = ta == Tag::float_, b_float = tb == Tag::float_;
    if (!a_float && !b_float) {
        if (ta == Tag::big_int && tb == Tag::big_int)
            return compare_big(TermAccess::object<detail::BigObject>(a),
                               TermAccess::object<detail::BigObject>(b));
        const Term& big = ta == Tag::big_int ? a : b;
        int big_side = TermAccess::object<detail::BigObject>(big).negative ? -1 : 1;
        return ta == Tag::big_int ? big_side : -big_side;
    }
    // An integer and a float. In exact order (map keys) every integer comes first.
    if (exact) return a_float ? 1 : -1;
    const Term& integer = a_float ? b : a;
    double d = TermAccess::number(a_float ? a : b);
    int c = TermAccess::tag(integer) == Tag::small_int
                ? compare_small_double(TermAccess::small(integer), d)
                : compare_big_double(TermAccess::object<detail::BigObject>(integer), d);
    return a_float ? -c : c;
}

int compare_bits(const detail::BinaryObject& a, const detail::BinaryObject& b) noexcept {
    auto bits = [](const detail::BinaryObject& x) {
        return x.size == 0 ? std::size_t{0} : (x.size - 1) * 8 + x.tail_bits;
    };
    std::size_t na = bits(a), nb = bits(b), common = std::min(na, nb);
    std::size_t whole = common / 8;
    if (whole > 0) {
        int c = std::memcmp(a.data, b.data, whole);
        if (c != 0) return c < 0 ? -1 : 1;
    }
    if (unsigned rest = common % 8) {
        auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
        int c = three_way(a.data[whole] & mask, b.data[whole] & mask);
        if (c != 0) return c;
    }
    return three_way(na, nb);
}

// Pairs of terms still to compare, in order: `count` pairs from a and b, `stride` Terms apart.
// A frame with count 0 and a non-zero `verdict` decides the comparison when reached.
struct Frame {
    const Term* a;
    const Term* b;
    std::size_t count;
    std::size_t stride;
    bool exact;
    int verdict;
};

class FrameStack {
  public:
    void push(const Frame& f) {
        if (size_ < inline_capacity)
            inline_[size_++] = f;
        else
            overflow_.push_back(f), ++size_;
    }
    bool empty() const noexcept { return size_ == 0; }
    Frame& top() noexcept {
        return size_ <= inline_capacity ? inline_[size_ - 1] : overflow_.back();
    }
    void pop() noexcept {
        if (size_ > inline_capacity) overflow_.pop_back();
        --size_;
    }

  private:
    static constexpr std::size_t inline_capacity = 16;
    Frame inline_[inline_capacity];
    std::vector<Frame> overflow_;
    std::size_t size_ = 0;
};

int compare_closures(const Closure& a, const Closure& b, bool exact, FrameStack& stack);

// As OTP 29 orders them: module, name, exported (no before yes), field count, the field names
// in order, and only then the values.
int compare_records(const NativeRecord& x, const NativeRecord& y, bool exact, FrameStack& stack) {
    if (int c = sign(x.module <=> y.module)) return c;
    if (int c = sign(x.name <=> y.name)) return c;
    if (int c = three_way(x.exported, y.exported)) return c;
    if (int c = three_way(x.fields.size(), y.fields.size())) return c;
    for (std::size_t i = 0; i < x.fields.size(); ++i)
        if (int c = sign(x.fields[i] <=> y.fields[i])) return c;
    if (!x.values.empty())
        stack.push({x.values.data(), y.values.data(), x.values.size(), 1, exact, 0});
    return 0;
}

// Compares what can be compared without descending; containers push their contents.
int compare_shallow(const Term& a, const Term& b, bool exact, FrameStack& stack) {
    Tag ta = TermAccess::tag(a), tb = TermAccess::tag(b);
    int ca = order_class(ta), cb = order_class(tb);
    if (ca != cb) return ca < cb ? -1 : 1;
    switch (ca) {
        case 0:
            return compare_numbers(a, b, exact);
        case 1:
            return compare_atoms(TermAccess::atom(a), TermAccess::atom(b));
        case 2:
            return sign(TermAccess::object<detail::ReferenceObject>(a).value <=>
                        TermAccess::object<detail::ReferenceObject>(b).value);
        case 3: {
            if (ta != tb) return ta == Tag::closure ? -1 : 1;
            if (ta == Tag::export_fun) {
                const auto& x = TermAccess::object<detail::ExportFunObject>(a).value;
                const auto& y = TermAccess::object<detail::ExportFunObject>(b).value;
                if (int c = sign(x.module <=> y.module)) return c;
                if (int c = sign(x.function <=> y.function)) return c;
                return three_way(x.arity, y.arity);
            }
            return compare_closures(TermAccess::object<detail::ClosureObject>(a).value,
                                    TermAccess::object<detail::ClosureObject>(b).value, exact,
                                    stack);
        }
        case 4:
            return sign(TermAccess::object<detail::PortObject>(a).value <=>
                        TermAccess::object<detail::PortObject>(b).value);
        case 5:
            return sign(TermAccess::object<detail::PidObject>(a).value <=>
                        TermAccess::object<detail::PidObject>(b).value);
        case 6: {
            auto x = a.elements(), y = b.elements();
            if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
            if (!x.empty()) stack.push({x.data(), y.data(), x.size(), 1, exact, 0});
            return 0;
        }
        case 7:
            return compare_records(TermAccess::object<detail::RecordObject>(a).value,
                                   TermAccess::object<detail::RecordObject>(b).value, exact, stack);
        case 8: {
            auto x = a.entries(), y = b.entries();
            if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
            if (x.empty()) return 0;
            // All keys (always in exact order) first, then the values in key order.
            const auto* xa = reinterpret_cast<const Term*>(x.data());
            const auto* ya = reinterpret_cast<const Term*>(y.data());
            stack.push({xa + 1, ya + 1, x.size(), 2, exact, 0});
            stack.push({xa, ya, x.size(), 2, true, 0});
            return 0;
        }
        case 9:
            return 0;
        case 10: {
            auto x = a.elements(), y = b.elements();
            if (x.size() == y.size()) {
                stack.push({&a.tail(), &b.tail(), 1, 1, exact, 0});
            } else {
                // One side runs out of elements first: its tail (never a list) meets a list.
                bool a_short = x.size() < y.size();
                bool tail_after_lists = (a_short ? a.tail() : b.tail()).is_bitstring();
                int a_side = tail_after_lists ? 1 : -1;
                stack.push({nullptr, nullptr, 0, 0, exact, a_short ? a_side : -a_side});
            }
            std::size_t n = std::min(x.size(), y.size());
            stack.push({x.data(), y.data(), n, 1, exact, 0});
            return 0;
        }
        default:
            return compare_bits(TermAccess::object<detail::BinaryObject>(a),
                                TermAccess::object<detail::BinaryObject>(b));
    }
}

int compare_closures(const Closure& x, const Closure& y, bool exact, FrameStack& stack) {
    if (int c = sign(x.module <=> y.module)) return c;
    if (int c = three_way(x.index, y.index)) return c;
    if (int c = three_way(x.uniq, y.uniq)) return c;
    if (int c = three_way(x.arity, y.arity)) return c;
    if (int c = compare_shallow(x.old_index, y.old_index, exact, stack)) return c;
    if (int c = compare_shallow(x.old_uniq, y.old_uniq, exact, stack)) return c;
    if (int c = compare_shallow(x.pid, y.pid, exact, stack)) return c;
    if (int c = three_way(x.free_vars.size(), y.free_vars.size())) return c;
    if (!x.free_vars.empty())
        stack.push({x.free_vars.data(), y.free_vars.data(), x.free_vars.size(), 1, exact, 0});
    return 0;
}

int compare_terms(const Term& a, const Term& b, bool exact) {
    FrameStack stack;
    if (int c = compare_shallow(a, b, exact, stack)) return c;
    while (!stack.empty()) {
        Frame& f = stack.top();
        if (f.count == 0) {
            int verdict = f.verdict;
            stack.pop();
            if (verdict != 0) return verdict;
            continue;
        }
        const Term& x = *f.a;
        const Term& y = *f.b;
        f.a += f.stride;
        f.b += f.stride;
        --f.count;
        // `f` may move when compare_shallow pushes: nothing reads it after this call.
        if (int c = compare_shallow(x, y, f.exact, stack)) return c;
    }
    return 0;
}

std::size_t mix(std::size_t h, std::size_t v) noexcept {
    return (h ^ v) * 0x9E3779B97F4A7C15ull + (h >> 7);
}

}  // namespace

bool operator==(const Term& a, const Term& b) noexcept {
    if (TermAccess::tag(a) != TermAccess::tag(b)) return false;
    switch (TermAccess::tag(a)) {
        case Tag::small_int:
            return TermAccess::small(a) == TermAccess::small(b);
        case Tag::float_:
            // -0.0 =:= 0.0 is false since OTP 27.
            return TermAccess::number(a) == TermAccess::number(b) &&
                   std::signbit(TermAccess::number(a)) == std::signbit(TermAccess::number(b));
        case Tag::atom:
            return TermAccess::atom(a) == TermAccess::atom(b);
        case Tag::nil:
            return true;
        default:
            break;
    }
    if (&TermAccess::object<detail::HeapObject>(a) == &TermAccess::object<detail::HeapObject>(b))
        return true;
    return compare_terms(a, b, true) == 0;
}

std::strong_ordering operator<=>(const Term& a, const Term& b) noexcept {
    int c = compare_terms(a, b, true);
    return c < 0   ? std::strong_ordering::less
           : c > 0 ? std::strong_ordering::greater
                   : std::strong_ordering::equal;
}

bool equal(const Term& a, const Term& b) noexcept {
    return compare_terms(a, b, false) == 0;
}

std::weak_ordering compare(const Term& a, const Term& b) noexcept {
    int c = compare_terms(a, b, false);
    return c < 0   ? std::weak_ordering::less
           : c > 0 ? std::weak_ordering::greater
                   : std::weak_ordering::equivalent;
}

std::size_t hash(const Term& t) noexcept {
    std::size_t h = 0;
    std::vector<const Term*> pending{&t};
    while (!pending.empty()) {
        const Term& x = *pending.back();
        pending.pop_back();
        Tag tag = TermAccess::tag(x);
        h = mix(h, static_cast<std::size_t>(tag));
        switch (tag) {
            case Tag::small_int:
                h = mix(h, static_cast<std::size_t>(TermAccess::small(x)));
                break;
            case Tag::float_: {
                double d = TermAccess::number(x);
                // 0.0 and -0.0 hash alike, as erlang:phash2 has them.
                h = mix(h, std::bit_cast<std::uint64_t>(d == 0 ? 0.0 : d));
                break;
            }
            case Tag::atom:
                h = mix(h, TermAccess::atom(x));
                break;
            case Tag::big_int: {
                const auto& b = TermAccess::object<detail::BigObject>(x);
                h = mix(h, b.negative);
                for (std::size_t i = 0; i < b.size; ++i)
                    h = mix(h, b.data()[i]);
                break;
            }
            case Tag::binary:
                for (auto byte : x.bytes())
                    h = mix(h, byte);
                h = mix(h, x.tail_bits());
                break;
            case Tag::pid: {
                const auto& p = TermAccess::object<detail::PidObject>(x).value;
                h = mix(mix(mix(mix(h, p.node.index()), p.id), p.serial), p.creation);
                break;
            }
            case Tag::port: {
                const auto& p = TermAccess::object<detail::PortObject>(x).value;
                h = mix(mix(mix(h, p.node.index()), p.id), p.creation);
                break;
            }
            case Tag::reference: {
                const auto& r = TermAccess::object<detail::ReferenceObject>(x).value;
                h = mix(mix(h, r.node.index()), r.creation);
                // High zero words do not count (see Reference's order), so they are not hashed.
                std::size_t n = r.size;
                while (n > 0 && r.words[n - 1] == 0)
                    --n;
                for (std::size_t i = 0; i < n; ++i)
                    h = mix(h, r.words[i]);
                break;
            }
            case Tag::export_fun: {
                const auto& f = TermAccess::object<detail::ExportFunObject>(x).value;
                h = mix(mix(mix(h, f.module.index()), f.function.index()), f.arity);
                break;
            }
            case Tag::closure: {
                const auto& f = TermAccess::object<detail::ClosureObject>(x).value;
                h = mix(mix(h, f.module.index()), f.index);
                for (const Term& v : f.free_vars)
                    pending.push_back(&v);
                break;
            }
            case Tag::record: {
                const auto& r = TermAccess::object<detail::RecordObject>(x).value;
                h = mix(mix(mix(h, r.module.index()), r.name.index()), r.exported);
                for (Atom field : r.fields)
                    h = mix(h, field.index());
                for (const Term& v : r.values)
                    pending.push_back(&v);
                break;
            }
            case Tag::tuple:
            case Tag::list:
                for (const Term& e : x.elements())
                    pending.push_back(&e);
                if (tag == Tag::list) pending.push_back(&x.tail());
                break;
            case Tag::map:
                for (const MapEntry& e : x.entries()) {
                    pending.push_back(&e.key);
                    pending.push_back(&e.value);
                }
                break;
            case Tag::nil:
            case Tag::buffer:
                break;
        }
    }
    return h;
}

// ---------------------------------------------------------------------------------------------
// Node-bound identifiers, in the order erl_interface and the BEAM use

namespace {
std::strong_ordering compare_nodes(Atom a, std::uint32_t ca, Atom b, std::uint32_t cb) noexcept {
    if (auto c = a <=> b; c != 0) return c;
    return ca <=> cb;
}
}  // namespace

std::strong_ordering operator<=>(const Pid& a, const Pid& b) noexcept {
    if (auto c = a.serial <=> b.serial; c != 0) return c;
    if (auto c = a.id <=> b.id; c != 0) return c;
    return compare_nodes(a.node, a.creation, b.node, b.creation);
}

std::strong_ordering operator<=>(const Port& a, const Port& b) noexcept {
    if (auto c = compare_nodes(a.node, a.creation, b.node, b.creation); c != 0) return c;
    return a.id <=> b.id;
}

bool operator==(const Reference& a, const Reference& b) noexcept {
    return (a <=> b) == 0;
}

std::strong_ordering operator<=>(const Reference& a, const Reference& b) noexcept {
    if (auto c = compare_nodes(a.node, a.creation, b.node, b.creation); c != 0) return c;
    // Words compare from the most significant; missing high words count as zero.
    std::size_t n = std::max(a.size, b.size);
    for (std::size_t i = n; i-- > 0;) {
        std::uint32_t x = i < a.size ? a.words[i] : 0;
        std::uint32_t y = i < b.size ? b.words[i] : 0;
        if (auto c = x <=> y; c != 0) return c;
    }
    return std::strong_ordering::equal;
}

}  // namespace distribute
