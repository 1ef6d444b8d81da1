// Decoding the external term format. The input is hostile until proven otherwise: every length is
// checked against the bytes that are really there before anything is allocated by it, nesting
// lives on an explicit stack instead of the call stack, and each object joins the result tree as
// soon as it exists, so an error midway frees everything by dropping the root (once the slots not
// reached yet are filled with []: containers are allocated with raw slots, written exactly once).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
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

ThreadState& thread_state() {
    thread_local ThreadState state;
    return state;
}

namespace {

// Atom order: the byte order of the names (UTF-8 byte order is code point order). The first eight
// bytes decide most pairs in one compare: the table pads every name with zeros.
bool name_less(std::string_view a, std::string_view b) noexcept {
    static_assert(detail::atom_name_padding >= 8);
    std::uint64_t x = wire::load64(reinterpret_cast<const std::uint8_t*>(a.data()));
    std::uint64_t y = wire::load64(reinterpret_cast<const std::uint8_t*>(b.data()));
    if (x != y) return x < y;
    if (a.size() <= 8 && b.size() <= 8) return a.size() < b.size();
    return a < b;
}

// Whether the keys are in exact term order already (strictly: a duplicate is not), with the common
// key kinds compared without the general machinery and each atom's name looked up once.
bool keys_sorted(const MapEntry* e, std::size_t n) noexcept {
    std::string_view previous;  // the name of e[i - 1].key when it is an atom
    for (std::size_t i = 0; i < n; ++i) {
        const Term& key = e[i].key;
        const detail::Tag tag = TermAccess::tag(key);
        const bool atom = tag == detail::Tag::atom;
        const std::string_view name =
            atom ? Atom::from_index(TermAccess::atom(key)).name() : std::string_view();
        if (i > 0) {
            const Term& before = e[i - 1].key;
            const detail::Tag before_tag = TermAccess::tag(before);
            bool less;
            if (atom && before_tag == detail::Tag::atom)
                less = name_less(previous, name);
            else if (tag == detail::Tag::small_int && before_tag == detail::Tag::small_int)
                less = TermAccess::small(before) < TermAccess::small(key);
            else
                less = before < key;
            if (!less) return false;
        }
        previous = name;
    }
    return true;
}

// Slots stay raw memory: each is written once, by the decoder or by unwind().
template <class O>
O* make_container(std::size_t n, std::size_t slot_bytes) {
    return detail::heap::make<O>(sizeof(O) + n * slot_bytes, n);
}

}  // namespace

bool Decoder::run(Term& result) {
    top_->next = &result;
    top_->end = &result + 1;
    top_->kind = Frame::root;
    bool closing = false;
    try {
        for (;;) {
            Frame* f = top_;
            if (f->next == f->end) {
                // A tuple is done once it has its elements; the other kinds have checks.
                if (f->kind == Frame::elements) {
                    --top_;
                    continue;
                }
                if (f == base_) return true;
                closing = true;
                if (!close()) [[unlikely]] {
                    unwind();
                    return false;
                }
                closing = false;
                continue;
            }
            Term& dst = *f->next++;
            if (!item(dst)) [[unlikely]] {
                fill(dst);
                unwind();
                return false;
            }
        }
    } catch (...) {
        // Allocation failed. item() throws only before it fills its slot or pushes a frame; when
        // a container was closing, every slot handed out is filled.
        if (!closing) fill(*(top_->next - 1));
        unwind();
        throw;
    }
}

// The tree is about to be dropped: the slots of open containers that were never reached get [],
// and a list keeps only the elements it has.
void Decoder::unwind() noexcept {
    for (Frame* f = top_; f != base_; --f) {
        switch (f->kind) {
            case Frame::elements:
            case Frame::map:
                for (Term* t = f->next; t != f->end; ++t)
                    fill(*t);
                break;
            case Frame::list: {
                auto* l = static_cast<detail::ListObject*>(f->object);
                l->size = static_cast<std::size_t>(f->next - l->data());
                break;
            }
            case Frame::root:
            case Frame::list_tail:  // the tail was made [] with the list
            case Frame::closure:    // the free variables were made [] with the closure
                break;
        }
    }
    top_ = base_;
}

bool Decoder::make_room() {
    std::size_t depth = static_cast<std::size_t>(top_ - base_);
    if (depth >= options_.max_depth)
        return fail(DecodeErrc::too_deep, p_,
                    "more than " + std::to_string(options_.max_depth) + " nested containers");
    std::size_t count = state_.frame_count * 2;
    auto bigger = std::make_unique_for_overwrite<Frame[]>(count);
    std::copy(base_, top_ + 1, bigger.get());
    state_.frames = std::move(bigger);
    state_.frame_count = count;
    base_ = state_.frames.get();
    top_ = base_ + depth;
    cap_ = base_ + usable_frames();
    return true;
}

// One term into `dst`: a scalar, or a container whose frame is pushed for its elements.
[[gnu::always_inline]] inline bool Decoder::item(Term& dst) {
    for (;;) {
        if (p_ == end_) [[unlikely]]
            return short_input(1, "a term");
        switch (*p_) {
            case tag::small_integer:
                if (remaining() < 2) [[unlikely]]
                    return short_input(2, "SMALL_INTEGER_EXT");
                fill(dst, std::int64_t{p_[1]});
                p_ += 2;
                return true;
            case tag::integer:
                if (remaining() < 5) [[unlikely]]
                    return short_input(5, "INTEGER_EXT");
                fill(dst, std::int64_t{static_cast<std::int32_t>(load32(p_ + 1))});
                p_ += 5;
                return true;
            case tag::small_atom_utf8:
            case tag::atom_utf8:
            case tag::atom:
            case tag::small_atom: {
                Atom a;
                if (!known_atom(a)) return false;
                fill(dst, a);
                return true;
            }
            case tag::new_float: {
                if (!need(9, "NEW_FLOAT_EXT")) [[unlikely]]
                    return false;
                const double d = std::bit_cast<double>(wire::load64(p_ + 1));
                if (!std::isfinite(d)) [[unlikely]]
                    return fail(DecodeErrc::bad_float, p_, "NEW_FLOAT_EXT is not finite");
                fill(dst, TermAccess::unchecked_float(d));
                p_ += 9;
                return true;
            }
            case tag::atom_cache_ref: {
                Atom a;
                if (!cached_atom(a)) return false;
                fill(dst, a);
                return true;
            }
            case tag::nil:
                ++p_;
                fill(dst);
                return true;
            case tag::small_tuple:
                return need(2, "SMALL_TUPLE_EXT") && tuple(dst, 2, p_[1]);
            case tag::large_tuple:
                return need(5, "LARGE_TUPLE_EXT") && tuple(dst, 5, load32(p_ + 1));
            case tag::list:
                if (!need(5, "LIST_EXT")) return false;
                if (load32(p_ + 1) == 0) {
                    // [] ++ Tail is Tail: the tail goes where the list would have.
                    if (!need(6, "LIST_EXT")) return false;
                    p_ += 5;
                    continue;
                }
                return list(dst);
            case tag::string:
                return string(dst);
            case tag::binary: {
                if (!need(5, "BINARY_EXT")) return false;
                const std::size_t size = load32(p_ + 1);
                if (size >= slice_threshold || remaining() - 5 < size) {
                    if (owner_ == nullptr && remaining() - 5 >= size)
                        return copied_binary(dst, size);
                    return binary(dst, 5, size, 8);
                }
                fill(dst, TermAccess::adopt(small_binary(p_ + 5, size)));
                p_ += 5 + size;
                return true;
            }
            case tag::map:
                return map(dst);
            case tag::new_pid:
                return pid(dst, false);
            case tag::newer_reference:
                return reference(dst, tag::newer_reference);
            case tag::new_fun:
                return closure(dst);
            case tag::record:
                return record(dst);
            default:
                return scalar(dst);
        }
    }
}

// The innermost container has all its slots: check it, and pop it unless more slots follow.
bool Decoder::close() {
    Frame& f = *top_;
    switch (f.kind) {
        case Frame::list:
            return close_list(f);
        case Frame::map:
            if (!close_map(f)) return false;
            break;
        case Frame::closure:
            if (offset() != f.end_offset)
                return fail(DecodeErrc::bad_fun, p_,
                            "NEW_FUN_EXT declares it ends at byte " + std::to_string(f.end_offset));
            break;
        case Frame::root:
        case Frame::elements:
        case Frame::list_tail:
            break;
    }
    --top_;
    return true;
}

// The elements of a list are in; what follows is its tail. A tail that is itself a list (LIST_EXT,
// STRING_EXT or []) continues this list, so that [1|[2]] and [1,2] become the same term. While a
// list is open its size is its capacity; it becomes the count of elements when the list closes.
bool Decoder::close_list(Frame& f) {
    auto* l = static_cast<detail::ListObject*>(f.object);
    std::size_t filled = static_cast<std::size_t>(f.next - l->data());
    if (!need(1, "the tail of a list")) return false;
    switch (*p_) {
        case tag::nil:
            ++p_;
            l->size = filled;
            --top_;
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
            --top_;
            return true;
        }
        case tag::list: {
            if (!need(5, "LIST_EXT")) return false;
            std::size_t n = load32(p_ + 1);
            if (!need(5 + n + 1, "LIST_EXT elements")) return false;
            grow_list(f, filled, filled + n);
            p_ += 5;
            f.end = f.next + n;
            return true;
        }
        default:
            l->size = filled;
            f.kind = Frame::list_tail;
            f.next = &l->tail;
            f.end = f.next + 1;
            return true;
    }
}

// Doubling keeps a chain of one-element LIST_EXT tails linear; every element needs at least one
// input byte, so the capacity stays within twice what the input can fill.
void Decoder::grow_list(Frame& f, std::size_t filled, std::size_t needed) {
    auto* old = static_cast<detail::ListObject*>(f.object);
    if (needed <= old->size) return;
    std::size_t capacity = std::max(needed, old->size * 2);
    auto* bigger = make_container<detail::ListObject>(capacity, sizeof(Term));
    // Terms are relocated bytewise: the old list keeps no elements, so none is released twice.
    std::memcpy(static_cast<void*>(bigger->data()), static_cast<const void*>(old->data()),
                filled * sizeof(Term));
    old->size = 0;
    *f.home = TermAccess::adopt(bigger);
    f.object = bigger;
    f.next = bigger->data() + filled;
    f.end = f.next;
}

bool Decoder::close_map(Frame& f) {
    auto* m = static_cast<detail::MapObject*>(f.object);
    if (keys_sorted(m->data(), m->size)) return true;
    // finish_map releases the map when it finds a duplicate, but the tree still owns it.
    detail::retain(m);
    if (!TermAccess::finish_map(m))
        return fail(DecodeErrc::duplicate_map_key, p_, "MAP_EXT ending here has a key twice");
    detail::release(m);
    return true;
}

[[gnu::always_inline]] inline bool Decoder::tuple(Term& dst, std::size_t header,
                                                  std::size_t arity) {
    if (!need(header + arity, "tuple elements")) return false;
    if (arity > 0 && !can_nest()) return false;
    auto* t = make_container<detail::TupleObject>(arity, sizeof(Term));
    fill(dst, TermAccess::adopt(t));
    p_ += header;
    if (arity > 0) push(t->data(), arity, Frame::elements);
    return true;
}

[[gnu::always_inline]] inline bool Decoder::list(Term& dst) {
    std::size_t n = load32(p_ + 1);
    if (!need(5 + n + 1, "LIST_EXT elements")) return false;
    if (!can_nest()) return false;
    auto* l = make_container<detail::ListObject>(n, sizeof(Term));
    fill(dst, TermAccess::adopt(l));
    p_ += 5;
    push(l->data(), n, Frame::list, l).home = &dst;
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
    auto* l = make_container<detail::ListObject>(n, sizeof(Term));
    for (std::size_t i = 0; i < n; ++i)
        fill(l->data()[i], std::int64_t{bytes[i]});
    fill(dst, TermAccess::adopt(l));
    return true;
}

[[gnu::always_inline]] inline bool Decoder::map(Term& dst) {
    if (!need(5, "MAP_EXT")) return false;
    std::size_t n = load32(p_ + 1);
    if (!need(5 + 2 * n, "MAP_EXT entries")) return false;
    if (n > 0 && !can_nest()) return false;
    auto* m = make_container<detail::MapObject>(n, sizeof(MapEntry));
    fill(dst, TermAccess::adopt(m));
    p_ += 5;
    if (n == 0) return true;
    // An entry is a key and a value side by side: the entries are 2n slots in wire order.
    static_assert(sizeof(MapEntry) == 2 * sizeof(Term));
    Term* slots = reinterpret_cast<Term*>(m->data());
    push(slots, 2 * n, Frame::map, m);
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
    if (free_count == 0 && offset() != end_offset)
        return fail(DecodeErrc::bad_fun, p_,
                    "NEW_FUN_EXT declares it ends at byte " + std::to_string(end_offset));
    if (free_count > 0 && !can_nest()) return false;
    c.free_vars.resize(free_count);
    auto* object =
        detail::heap::make<detail::ClosureObject>(sizeof(detail::ClosureObject), std::move(c));
    fill(dst, TermAccess::adopt(object));
    if (free_count == 0) return true;
    Term* vars = object->value.free_vars.data();
    push(vars, free_count, Frame::closure, object).end_offset = end_offset;
    return true;
}

// RECORD_EXT (OTP 29): Arity:32, Flags:8, Module, Name, Arity field names, Arity values. Flags
// other than 0 and 1 (exported) and a field named twice are refused, as the BEAM refuses them.
bool Decoder::record(Term& dst) {
    const std::uint8_t* start = p_;
    if (!need(6, "RECORD_EXT")) return false;
    const std::size_t n = load32(p_ + 1);
    const std::uint8_t flags = p_[5];
    if (flags > 1)
        return fail(DecodeErrc::bad_record, start,
                    "RECORD_EXT flags " + std::to_string(flags) + " (only 0 and 1 exist)");
    // The module, the name, n field names and n values take a byte each at least.
    if (!need(6 + 2 + 2 * n, "RECORD_EXT fields")) return false;
    p_ += 6;
    NativeRecord r;
    r.exported = flags == 1;
    if (!atom(r.module) || !atom(r.name)) return false;
    r.fields.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t* at = p_;
        if (!atom(r.fields[i])) return false;
        for (std::size_t j = 0; j < i; ++j)
            if (r.fields[j] == r.fields[i])
                return fail(
                    DecodeErrc::bad_record, at,
                    "RECORD_EXT names the field " + std::string(r.fields[i].name()) + " twice");
    }
    if (n > 0 && !can_nest()) return false;
    r.values.resize(n);
    auto* object =
        detail::heap::make<detail::RecordObject>(sizeof(detail::RecordObject), std::move(r));
    fill(dst, TermAccess::adopt(object));
    if (n == 0) return true;
    push(object->value.values.data(), n, Frame::elements, object);
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

// The forms that need more than one Decoder run: no version byte, a wrong one, or compression.
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

// 131 and a term that is not compressed: what nearly every caller has, decoded in one step.
bool plain(std::span<const std::uint8_t> bytes) noexcept {
    return bytes.size() > 1 && bytes[0] == version_magic && bytes[1] != tag::compressed;
}

[[gnu::always_inline]] inline Expected<Term, DecodeError> decode_whole(
    std::span<const std::uint8_t> bytes, const DecodeOptions& options,
    const detail::HeapObject* owner) {
    Term term;
    std::size_t used = 0;
    if (plain(bytes)) [[likely]] {
        Decoder decoder(bytes, 1, options, owner);
        if (!decoder.run(term)) return unexpected(std::move(decoder.error()));
        used = decoder.offset();
    } else {
        DecodeError error;
        if (!decode_from(bytes, options, owner, true, term, used, error))
            return unexpected(std::move(error));
    }
    if (used != bytes.size())
        return unexpected(error_at(DecodeErrc::trailing_bytes, used,
                                   std::to_string(bytes.size() - used) + " bytes after the term"));
    return term;
}

Expected<Decoded, DecodeError> decode_front(std::span<const std::uint8_t> bytes,
                                            const DecodeOptions& options, bool with_version,
                                            const detail::HeapObject* owner) {
    Decoded out;
    if (!with_version || plain(bytes)) [[likely]] {
        Decoder decoder(bytes, with_version ? 1 : 0, options, owner);
        if (!decoder.run(out.term)) return unexpected(std::move(decoder.error()));
        out.used = decoder.offset();
        return out;
    }
    DecodeError error;
    if (!decode_from(bytes, options, owner, with_version, out.term, out.used, error))
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
    return decode_front(bytes, options, true, nullptr);
}

Expected<Decoded, DecodeError> decode_prefix(const SharedBuffer& owner,
                                             std::span<const std::uint8_t> bytes,
                                             const DecodeOptions& options) {
    return decode_front(bytes, options, true, owner.object());
}

Expected<Decoded, DecodeError> decode_body(const SharedBuffer& owner,
                                           std::span<const std::uint8_t> bytes,
                                           const DecodeOptions& options) {
    return decode_front(bytes, options, false, owner.object());
}

Expected<Decoded, DecodeError> decode_body(std::span<const std::uint8_t> bytes,
                                           const DecodeOptions& options) {
    return decode_front(bytes, options, false, nullptr);
}

Expected<Decoded, DecodeError> decode_body(const SharedBuffer& owner,
                                           std::span<const std::uint8_t> bytes,
                                           std::span<const Atom> header_atoms,
                                           const DecodeOptions& options) {
    Decoded out;
    Decoder decoder(bytes, 0, options, owner.object(), &header_atoms);
    if (!decoder.run(out.term)) return unexpected(std::move(decoder.error()));
    out.used = decoder.offset();
    return out;
}

}  // namespace distribute::etf
