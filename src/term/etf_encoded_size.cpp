// Sizes as etf_encode.cpp writes them; the two must change together (the unit tests compare them
// on every kind of term).
#include "term/etf_encoded_size.hpp"

#include <bit>
#include <limits>
#include <vector>

#include "distribute/etf.hpp"

namespace distribute::etf {
namespace {

using detail::Tag;
using detail::TermAccess;

constexpr std::uint64_t max_new_port_id = 0x0FFFFFFF;

struct Range {
    const Term* next;
    const Term* end;
};

std::size_t atom_size(Atom atom) {
    const std::size_t n = atom.name().size();
    return n <= 255 ? 2 + n : 3 + n;
}

std::size_t integer_size(std::int64_t v) {
    if (v >= 0 && v <= 255) return 2;
    if (v >= std::numeric_limits<std::int32_t>::min() &&
        v <= std::numeric_limits<std::int32_t>::max())
        return 5;
    const std::uint64_t magnitude = v < 0 ? ~static_cast<std::uint64_t>(v) + 1 : v;
    return 3 + (static_cast<std::size_t>(std::bit_width(magnitude)) + 7) / 8;
}

// The bytes of t's own head; its elements, if any, are pushed onto `stack`.
std::size_t head_size(const Term& t, std::vector<Range>& stack) {
    switch (TermAccess::tag(t)) {
        case Tag::small_int:
            return integer_size(TermAccess::small(t));
        case Tag::big_int: {
            const auto& b = TermAccess::object<detail::BigObject>(t);
            return (b.size <= 255 ? 3 : 6) + b.size;
        }
        case Tag::float_:
            return 9;
        case Tag::atom:
            return atom_size(Atom::from_index(TermAccess::atom(t)));
        case Tag::nil:
            return 1;
        case Tag::list: {
            const auto& l = TermAccess::object<detail::ListObject>(t);
            const Term* items = l.data();
            if (encodes_as_string_ext(l)) return 3 + l.size;
            stack.push_back({items, items + l.size});
            stack.push_back({&l.tail, &l.tail + 1});
            return 5;
        }
        case Tag::tuple: {
            const auto& tuple = TermAccess::object<detail::TupleObject>(t);
            stack.push_back({tuple.data(), tuple.data() + tuple.size});
            return tuple.size <= 255 ? 2 : 5;
        }
        case Tag::map: {
            const auto& map = TermAccess::object<detail::MapObject>(t);
            const Term* first = reinterpret_cast<const Term*>(map.data());
            stack.push_back({first, first + 2 * map.size});
            return 5;
        }
        case Tag::binary: {
            const auto& b = TermAccess::object<detail::BinaryObject>(t);
            return (b.tail_bits == 8 ? 5 : 6) + b.size;
        }
        case Tag::pid:
            return 1 + atom_size(TermAccess::object<detail::PidObject>(t).value.node) + 12;
        case Tag::port: {
            const Port& port = TermAccess::object<detail::PortObject>(t).value;
            return 1 + atom_size(port.node) + (port.id > max_new_port_id ? 12 : 8);
        }
        case Tag::reference: {
            const Reference& ref = TermAccess::object<detail::ReferenceObject>(t).value;
            return 3 + atom_size(ref.node) + 4 + 4 * std::size_t{ref.size};
        }
        case Tag::export_fun: {
            const ExportFun& fun = TermAccess::object<detail::ExportFunObject>(t).value;
            return 1 + atom_size(fun.module) + atom_size(fun.function) + 2;
        }
        case Tag::closure: {
            const Closure& c = TermAccess::object<detail::ClosureObject>(t).value;
            stack.push_back({c.free_vars.data(), c.free_vars.data() + c.free_vars.size()});
            stack.push_back({&c.pid, &c.pid + 1});
            stack.push_back({&c.old_uniq, &c.old_uniq + 1});
            stack.push_back({&c.old_index, &c.old_index + 1});
            return 30 + atom_size(c.module);
        }
        case Tag::record: {
            const NativeRecord& r = TermAccess::object<detail::RecordObject>(t).value;
            std::size_t n = 6 + atom_size(r.module) + atom_size(r.name);
            for (Atom field : r.fields)
                n += atom_size(field);
            stack.push_back({r.values.data(), r.values.data() + r.values.size()});
            return n;
        }
        case Tag::buffer:
            break;
    }
    return 0;
}

}  // namespace

std::size_t encoded_body_size(const Term& term, std::size_t limit) {
    thread_local std::vector<Range> stack;
    stack.clear();
    std::size_t total = head_size(term, stack);
    while (!stack.empty() && total <= limit) {
        Range& top = stack.back();
        if (top.next == top.end) {
            stack.pop_back();
            continue;
        }
        const Term& t = *top.next++;
        total += head_size(t, stack);
    }
    return total;
}

}  // namespace distribute::etf
