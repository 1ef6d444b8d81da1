// Typed reads of terms: each returns nullopt when the term is not of the asked shape, so a handler
// can match a request and pull out fields in one expression.
#include "distribute/term.hpp"

namespace distribute {

using detail::Tag;
using detail::TermAccess;

std::optional<Atom> Convert<Atom>::from(const Term& t) {
    if (!t.is_atom()) return std::nullopt;
    return Atom::from_index(TermAccess::atom(t));
}

std::optional<bool> Convert<bool>::from(const Term& t) {
    if (t.is_atom(atoms::true_)) return true;
    if (t.is_atom(atoms::false_)) return false;
    return std::nullopt;
}

std::optional<std::int64_t> Convert<std::int64_t>::from(const Term& t) {
    // Big integers never fit: a value that fits int64_t is always stored small.
    if (TermAccess::tag(t) != Tag::small_int) return std::nullopt;
    return TermAccess::small(t);
}

// Integers are accepted too: a peer may well send 1 where 1.0 was meant.
std::optional<double> Convert<double>::from(const Term& t) {
    switch (TermAccess::tag(t)) {
        case Tag::float_:
            return TermAccess::number(t);
        case Tag::small_int:
            return static_cast<double>(TermAccess::small(t));
        case Tag::big_int:
            return Convert<BigInt>::from(t)->to_double();
        default:
            return std::nullopt;
    }
}

std::optional<BigInt> Convert<BigInt>::from(const Term& t) {
    if (TermAccess::tag(t) == Tag::small_int) return BigInt(TermAccess::small(t));
    if (TermAccess::tag(t) != Tag::big_int) return std::nullopt;
    const auto& b = TermAccess::object<detail::BigObject>(t);
    return BigInt(b.negative, std::span(b.data(), b.size));
}

std::optional<std::string> Convert<std::string>::from(const Term& t) {
    if (t.is_binary()) return std::string(t.text());
    if (!t.is_proper_list()) return std::nullopt;
    std::string out;
    out.reserve(t.elements().size());
    for (const Term& e : t.elements()) {
        if (TermAccess::tag(e) != Tag::small_int) return std::nullopt;
        std::int64_t c = TermAccess::small(e);
        if (c < 0 || c > 255) return std::nullopt;
        out.push_back(static_cast<char>(c));
    }
    return out;
}

std::optional<std::string_view> Convert<std::string_view>::from(const Term& t) {
    if (!t.is_binary()) return std::nullopt;
    return t.text();
}

namespace {
template <class O>
auto value_of(const Term& t, Tag tag) -> std::optional<decltype(O::value)> {
    if (TermAccess::tag(t) != tag) return std::nullopt;
    return TermAccess::object<O>(t).value;
}
}  // namespace

std::optional<Pid> Convert<Pid>::from(const Term& t) {
    return value_of<detail::PidObject>(t, Tag::pid);
}
std::optional<Port> Convert<Port>::from(const Term& t) {
    return value_of<detail::PortObject>(t, Tag::port);
}
std::optional<Reference> Convert<Reference>::from(const Term& t) {
    return value_of<detail::ReferenceObject>(t, Tag::reference);
}
std::optional<ExportFun> Convert<ExportFun>::from(const Term& t) {
    return value_of<detail::ExportFunObject>(t, Tag::export_fun);
}
std::optional<Closure> Convert<Closure>::from(const Term& t) {
    return value_of<detail::ClosureObject>(t, Tag::closure);
}
std::optional<NativeRecord> Convert<NativeRecord>::from(const Term& t) {
    return value_of<detail::RecordObject>(t, Tag::record);
}

}  // namespace distribute
