// Decoding the external term format. The input is hostile until proven otherwise: every length is
// checked against the bytes that are really there before anything is allocated by it, nesting
// lives on an explicit stack instead of the call stack, and each object joins the result tree as
// soon as it exists, so an error midway frees everything by dropping the root.
#include <algorithm>
#include <string>
#include <string_view>

#include "distribute/etf.hpp"
#include "term/etf_compress.hpp"
#include "term/etf_decoder.hpp"
#include "term/etf_tags.hpp"

namespace distribute::etf {
namespace decoding {

using detail::TermAccess;
using wire::load16;
using wire::load32;
using wire::load64;

ThreadState& thread_state() {
    thread_local ThreadState state;
    return state;
}

namespace {

// Atom order is the byte order of the names; they are short, so compare words inline.
bool name_less(std::string_view a, std::string_view b) noexcept {
    std::size_t n = std::min(a.size(), b.size());
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t x = load64(reinterpret_cast<const std::uint8_t*>(a.data() + i));
        std::uint64_t y = load64(reinterpret_cast<const std::uint8_t*>(b.data() + i));
        if (x != y) return x < y;
    }
    for (; i < n; ++i)
        if (a[i] != b[i])
            return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
    return a.size() < b.size();
}

// Exact term order, with the common key kinds compared without the general machinery.
bool key_less(const Term& a, const Term& b) noexcept {
    detail::Tag ta = TermAccess::tag(a);
    detail::Tag tb = TermAccess::tag(b);
    if (ta == detail::Tag::atom && tb == detail::Tag::atom)
        return name_less(Atom::from_index(TermAccess::atom(a)).name(),
                         Atom::from_index(TermAccess::atom(b)).name());
    if (ta == detail::Tag::small_int && tb == detail::Tag::small_int)
        return TermAccess::small(a) < TermAccess::small(b);
    return a < b;
}

}  // namespace

bool Decoder::run(Term& result) {
    Term* dst = &result;
    while (dst != nullptr) {
        if (p_ == end_) return short_input(1, "a term");
        switch (*p_) {
            case tag::small_integer:
                if (!need(2, "SMALL_INTEGER_EXT")) return false;
                fill(*dst, std::int64_t{p_[1]});
                p_ += 2;
                break;
            case tag::integer:
                if (!need(5, "INTEGER_EXT")) return false;
                fill(*dst, std::int64_t{static_cast<std::int32_t>(load32(p_ + 1))});
                p_ += 5;
                break;
            case tag::small_atom_utf8:
            case tag::atom_utf8:
            case tag::atom:
            case tag::small_atom: {
                Atom a;
                if (!atom(a)) return false;
                fill(*dst, a);
                break;
            }
            case tag::nil:
                ++p_;
                fill(*dst);
                break;
            case tag::small_tuple:
                if (!need(2, "SMALL_TUPLE_EXT") || !tuple(*dst, 2, p_[1])) return false;
                break;
            case tag::large_tuple:
                if (!need(5, "LARGE_TUPLE_EXT") || !tuple(*dst, 5, load32(p_ + 1))) return false;
                break;
            case tag::list:
                if (!need(5, "LIST_EXT")) return false;
                if (load32(p_ + 1) == 0) {
                    // [] ++ Tail is Tail: the tail goes where the list would have.
                    if (!need(6, "LIST_EXT")) return false;
                    p_ += 5;
                    continue;
                }
                if (!list(*dst)) return false;
                break;
            case tag::string:
                if (!string(*dst)) return false;
                break;
            case tag::map:
                if (!map(*dst)) return false;
                break;
            case tag::new_fun:
                if (!closure(*dst)) return false;
                break;
            default:
                if (!scalar(*dst)) return false;
        }
        if (!next_slot(dst)) return false;
    }
    return true;
}

bool Decoder::next_slot(Term*& dst) {
    while (!stack_.empty()) {
        Frame& f = stack_.back();
        if (f.left > 0) {
            --f.left;
            if (f.kind == Frame::map) {
                std::size_t i = f.extra - f.left - 1;
                MapEntry& e = static_cast<detail::MapObject*>(f.object)->data()[i >> 1];
                dst = (i & 1) ? &e.value : &e.key;
            } else {
                dst = f.next++;
            }
            return true;
        }
        switch (f.kind) {
            case Frame::list: {
                bool more = false;
                if (!close_list(f, more)) return false;
                if (more) continue;
                break;
            }
            case Frame::map:
                if (!close_map(f)) return false;
                break;
            case Frame::closure:
                if (offset() != f.extra)
                    return fail(DecodeErrc::bad_fun, p_,
                                "NEW_FUN_EXT declares it ends at byte " + std::to_string(f.extra));
                break;
            case Frame::elements:
            case Frame::list_tail:
                break;
        }
        stack_.pop_back();
    }
    dst = nullptr;
    return true;
}

// The elements of a list are in; what follows is its tail. A tail that is itself a list (LIST_EXT,
// STRING_EXT or []) continues this list, so that [1|[2]] and [1,2] become the same term.
bool Decoder::close_list(Frame& f, bool& more) {
    auto* l = static_cast<detail::ListObject*>(f.object);
    std::size_t filled = static_cast<std::size_t>(f.next - l->data());
    if (!need(1, "the tail of a list")) return false;
    switch (*p_) {
        case tag::nil:
            ++p_;
            l->size = filled;
            return true;
        case tag::string: {
            if (!need(3, "STRING_EXT")) return false;
            std::size_t n = load16(p_ + 1);
            if (!need(3 + n, "STRING_EXT")) return false;
            grow_list(f, filled, filled + n);
            l = static_cast<detail::ListObject*>(f.object);
            for (std::size_t i = 0; i < n; ++i)
                fill(l->data()[filled + i], std::int64_t{p_[3 + i]});
            l->size = filled + n;
            p_ += 3 + n;
            return true;
        }
        case tag::list: {
            if (!need(5, "LIST_EXT")) return false;
            std::size_t n = load32(p_ + 1);
            if (!need(5 + n + 1, "LIST_EXT elements")) return false;
            p_ += 5;
            grow_list(f, filled, filled + n);
            f.left = n;
            more = true;
            return true;
        }
        default:
            l->size = filled;
            f.kind = Frame::list_tail;
            f.left = 1;
            f.next = &l->tail;
            more = true;
            return true;
    }
}

// Doubling keeps a chain of one-element LIST_EXT tails linear; every element needs at least one
// input byte, so the capacity stays within twice what the input can fill.
void Decoder::grow_list(Frame& f, std::size_t filled, std::size_t needed) {
    if (needed <= f.extra) return;
    auto* old = static_cast<detail::ListObject*>(f.object);
    std::size_t capacity = std::max(needed, f.extra * 2);
    auto* bigger = TermAccess::new_list(capacity);
    std::move(old->data(), old->data() + filled, bigger->data());
    *f.home = TermAccess::adopt(bigger);
    f.object = bigger;
    f.next = bigger->data() + filled;
    f.extra = capacity;
}

bool Decoder::close_map(Frame& f) {
    auto* m = static_cast<detail::MapObject*>(f.object);
    const MapEntry* e = m->data();
    bool sorted = true;
    for (std::size_t i = 1; i < m->size && sorted; ++i)
        sorted = key_less(e[i - 1].key, e[i].key);
    if (sorted) return true;
    // finish_map releases the map when it finds a duplicate, but the tree still owns it.
    detail::retain(m);
    if (!TermAccess::finish_map(m))
        return fail(DecodeErrc::duplicate_map_key, p_, "MAP_EXT ending here has a key twice");
    detail::release(m);
    return true;
}

bool Decoder::tuple(Term& dst, std::size_t header, std::size_t arity) {
    if (!need(header + arity, "tuple elements")) return false;
    if (arity > 0 && !can_nest()) return false;
    auto* t = TermAccess::new_tuple(arity);
    fill(dst, TermAccess::adopt(t));
    p_ += header;
    if (arity == 0) return true;
    stack_.push_back(Frame{Frame::elements, arity, t->data(), nullptr, nullptr, 0});
    return true;
}

bool Decoder::list(Term& dst) {
    std::size_t n = load32(p_ + 1);
    if (!need(5 + n + 1, "LIST_EXT elements")) return false;
    if (!can_nest()) return false;
    auto* l = TermAccess::new_list(n);
    fill(dst, TermAccess::adopt(l));
    p_ += 5;
    stack_.push_back(Frame{Frame::list, n, l->data(), l, &dst, n});
    return true;
}

bool Decoder::string(Term& dst) {
    if (!need(3, "STRING_EXT")) return false;
    std::size_t n = load16(p_ + 1);
    if (!need(3 + n, "STRING_EXT")) return false;
    const std::uint8_t* bytes = p_ + 3;
    p_ += 3 + n;
    if (n == 0) {
        fill(dst);
        return true;
    }
    auto* l = TermAccess::new_list(n);
    fill(dst, TermAccess::adopt(l));
    for (std::size_t i = 0; i < n; ++i)
        fill(l->data()[i], std::int64_t{bytes[i]});
    return true;
}

bool Decoder::map(Term& dst) {
    if (!need(5, "MAP_EXT")) return false;
    std::size_t n = load32(p_ + 1);
    if (!need(5 + 2 * n, "MAP_EXT entries")) return false;
    if (n > 0 && !can_nest()) return false;
    auto* m = TermAccess::new_map(n);
    fill(dst, TermAccess::adopt(m));
    p_ += 5;
    if (n == 0) return true;
    stack_.push_back(Frame{Frame::map, 2 * n, nullptr, m, nullptr, 2 * n});
    return true;
}

// NEW_FUN_EXT: Size counts itself and everything after it, free variables included.
bool Decoder::closure(Term& dst) {
    const std::uint8_t* start = p_;
    if (!need(30, "NEW_FUN_EXT")) return false;
    std::size_t size = load32(p_ + 1);
    Closure c;
    c.arity = p_[5];
    std::memcpy(c.uniq.data(), p_ + 6, 16);
    c.index = load32(p_ + 22);
    std::size_t free_count = load32(p_ + 26);
    std::size_t end_offset = offset() + 1 + size;
    if (size < 29) return fail(DecodeErrc::bad_fun, start, "NEW_FUN_EXT size below its fields");
    if (!need(1 + size, "NEW_FUN_EXT")) return false;
    p_ += 30;
    if (!need(free_count, "NEW_FUN_EXT free variables")) return false;
    if (!atom(c.module)) return false;
    Term* fields[] = {&c.old_index, &c.old_uniq, &c.pid};
    for (Term* field : fields) {
        if (!need(1, "NEW_FUN_EXT")) return false;
        std::uint8_t t = *p_;
        bool ok = field == &c.pid ? (t == tag::new_pid || t == tag::pid)
                                  : (t == tag::small_integer || t == tag::integer ||
                                     t == tag::small_big || t == tag::large_big);
        if (!ok) return fail(DecodeErrc::bad_fun, p_, "unexpected " + tag_name(t) + " in a fun");
        if (!scalar(*field)) return false;
    }
    if (free_count > 0 && !can_nest()) return false;
    c.free_vars.resize(free_count);
    auto* object = new detail::ClosureObject(std::move(c));
    fill(dst, TermAccess::adopt(object));
    if (free_count == 0) {
        if (offset() == end_offset) return true;
        return fail(DecodeErrc::bad_fun, p_,
                    "NEW_FUN_EXT declares it ends at byte " + std::to_string(end_offset));
    }
    stack_.push_back(Frame{Frame::closure, free_count, object->value.free_vars.data(), object,
                           nullptr, end_offset});
    return true;
}

}  // namespace decoding

namespace {

using decoding::Decoder;
using wire::load32;

DecodeError error_at(DecodeErrc code, std::size_t offset, std::string detail) {
    return {code, offset, std::move(detail)};
}

// Results travel through out-parameters so that the public functions build their Expected once.
bool decode_compressed(std::span<const std::uint8_t> bytes, const DecodeOptions& options,
                       Term& term, std::size_t& used, DecodeError& error) {
    constexpr std::size_t header = 6;  // 131, 80, UncompressedSize:32
    if (bytes.size() < header) {
        error =
            error_at(DecodeErrc::truncated, bytes.size(), "compressed term header needs 6 bytes");
        return false;
    }
    std::size_t declared = load32(bytes.data() + 2);
    std::size_t available = bytes.size() - header;
    if (declared > options.max_bytes) {
        error = error_at(DecodeErrc::too_large, 2,
                         "compressed term declares " + std::to_string(declared) +
                             " bytes, the limit is " + std::to_string(options.max_bytes));
        return false;
    }
    if (declared > available * zlib::max_inflate_ratio + 64) {
        error = error_at(DecodeErrc::bad_compression, 2,
                         std::to_string(available) + " compressed bytes cannot inflate to " +
                             std::to_string(declared));
        return false;
    }
    SharedBuffer inflated(declared);
    std::size_t consumed = 0;
    std::string why;
    if (!zlib::inflate_exact(bytes.subspan(header), std::span(inflated.data(), inflated.size()),
                             consumed, why)) {
        error = error_at(DecodeErrc::bad_compression, header, std::move(why));
        return false;
    }
    Decoder decoder(inflated.span(), 0, options, inflated.object());
    if (!decoder.run(term)) {
        error = std::move(decoder.error());
        error.detail = "in the inflated term: " + error.detail;
        return false;
    }
    if (decoder.offset() != declared) {
        error = error_at(DecodeErrc::trailing_bytes, header,
                         "the inflated data has " + std::to_string(declared - decoder.offset()) +
                             " bytes after the term");
        return false;
    }
    used = header + consumed;
    return true;
}

bool decode_from(std::span<const std::uint8_t> bytes, const DecodeOptions& options,
                 const detail::HeapObject* owner, bool with_version, Term& term, std::size_t& used,
                 DecodeError& error) {
    std::size_t start = 0;
    if (with_version) {
        if (bytes.empty()) {
            error = error_at(DecodeErrc::truncated, 0, "empty input");
            return false;
        }
        if (bytes[0] != version_magic) {
            error =
                error_at(DecodeErrc::bad_version, 0, "version byte " + std::to_string(bytes[0]));
            return false;
        }
        if (bytes.size() > 1 && bytes[1] == tag::compressed)
            return decode_compressed(bytes, options, term, used, error);
        start = 1;
    }
    Decoder decoder(bytes, start, options, owner);
    if (!decoder.run(term)) {
        error = std::move(decoder.error());
        return false;
    }
    used = decoder.offset();
    return true;
}

Expected<Term, DecodeError> decode_whole(std::span<const std::uint8_t> bytes,
                                         const DecodeOptions& options,
                                         const detail::HeapObject* owner) {
    Term term;
    std::size_t used = 0;
    DecodeError error;
    if (!decode_from(bytes, options, owner, true, term, used, error))
        return unexpected(std::move(error));
    if (used != bytes.size())
        return unexpected(error_at(DecodeErrc::trailing_bytes, used,
                                   std::to_string(bytes.size() - used) + " bytes after the term"));
    return term;
}

Expected<Decoded, DecodeError> decode_front(std::span<const std::uint8_t> bytes,
                                            const DecodeOptions& options, bool with_version) {
    Decoded out;
    DecodeError error;
    if (!decode_from(bytes, options, nullptr, with_version, out.term, out.used, error))
        return unexpected(std::move(error));
    return out;
}

}  // namespace

Expected<Term, DecodeError> decode(std::span<const std::uint8_t> bytes,
                                   const DecodeOptions& options) {
    return decode_whole(bytes, options, nullptr);
}

Expected<Term, DecodeError> decode(const SharedBuffer& buffer, const DecodeOptions& options) {
    return decode_whole(buffer.span(), options, buffer.object());
}

Expected<Decoded, DecodeError> decode_prefix(std::span<const std::uint8_t> bytes,
                                             const DecodeOptions& options) {
    return decode_front(bytes, options, true);
}

Expected<Decoded, DecodeError> decode_body(std::span<const std::uint8_t> bytes,
                                           const DecodeOptions& options) {
    return decode_front(bytes, options, false);
}

}  // namespace distribute::etf
