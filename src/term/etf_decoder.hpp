// The decoder's state machine, shared by etf_decode.cpp (the main loop, containers and the entry
// points) and etf_decode_scalar.cpp (the terms without elements that are not on the hot path).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <utility>

#include "distribute/etf.hpp"
#include "term/etf_atom_cache.hpp"
#include "term/etf_tags.hpp"
#include "term/heap.hpp"

namespace distribute::etf::decoding {

// Smaller binaries are copied: a slice costs an allocation too and pins the whole buffer.
constexpr std::size_t slice_threshold = 64;
// 255 characters of at most 4 bytes each.
constexpr std::size_t max_atom_bytes = 255 * 4;
constexpr std::size_t max_latin1_atom = 255;
constexpr std::size_t first_stack_frames = 64;
// Frame stacks that grew past this are given back after the decode that grew them.
constexpr std::size_t kept_stack_frames = 4096;

// A container being filled. Its slots are handed out in wire order, from `next` up to `end`;
// the frame closes when they run out. Slots are raw memory until handed out and filled: an
// error fills the rest with [] (see Decoder::unwind) before the tree is dropped.
struct Frame {
    enum Kind : std::uint8_t { root, elements, list, list_tail, map, closure };
    Term* next;
    Term* end;
    detail::HeapObject* object;  // list, map, closure
    Term* home;                  // list: the slot holding it, replaced when the list grows
    std::size_t end_offset;      // closure: where its bytes end
    Kind kind;
};

// Reused by every decode on a thread: no allocation for the stack once it has grown.
struct ThreadState {
    std::unique_ptr<Frame[]> frames;
    std::size_t frame_count = 0;
    AtomCache atoms;
};
ThreadState& thread_state();

// A value is built over its slot in place: the slot is raw memory or [], which holds nothing
// to release.
template <class... Args>
void fill(Term& slot, Args&&... args) {
    new (&slot) Term(std::forward<Args>(args)...);
}

// Pids, ports, references and export funs from the thread's free lists.
template <class O, class T>
Term boxed(const T& value) {
    return detail::TermAccess::adopt(detail::heap::make<O>(sizeof(O), value));
}

std::string tag_name(std::uint8_t t);

// Decoder::known_atom and Decoder::text_atom tell the four atom tags apart by these bits.
static_assert((tag::small_atom_utf8 & 1) == 1 && (tag::small_atom & 1) == 1 &&
              (tag::atom_utf8 & 1) == 0 && (tag::atom & 1) == 0);
static_assert(tag::atom < tag::atom_utf8 && tag::small_atom < tag::atom_utf8 &&
              tag::small_atom_utf8 > tag::atom_utf8);

class Decoder {
  public:
    // `header_atoms`: the atoms of the distribution header the input follows, which
    // ATOM_CACHE_REF indexes; null outside a distribution header, where the tag is refused.
    Decoder(std::span<const std::uint8_t> input, std::size_t start, const DecodeOptions& options,
            const detail::HeapObject* owner, const std::span<const Atom>* header_atoms = nullptr)
        : begin_(input.data()),
          p_(input.data() + start),
          end_(input.data() + std::min(input.size(), options.max_bytes)),
          input_end_(input.data() + input.size()),
          options_(options),
          owner_(owner),
          header_atoms_(header_atoms),
          state_(thread_state()) {
        if (state_.frame_count == 0) [[unlikely]] {
            state_.frames = std::make_unique<Frame[]>(first_stack_frames);
            state_.frame_count = first_stack_frames;
        }
        base_ = state_.frames.get();
        top_ = base_;
        cap_ = base_ + usable_frames();
    }
    ~Decoder() {
        if (state_.frame_count > kept_stack_frames) {
            state_.frames.reset();
            state_.frame_count = 0;
        }
    }
    Decoder(const Decoder&) = delete;
    Decoder& operator=(const Decoder&) = delete;

    // One term into `result`. Another run() reads the term after it.
    bool run(Term& result);
    std::size_t offset() const noexcept { return static_cast<std::size_t>(p_ - begin_); }
    // The next run() counts its offsets and its max_bytes from where the last term ended, as if
    // its input started there: how terms that follow one another are read with one decoder.
    void start_next() noexcept {
        begin_ = p_;
        end_ = p_ + std::min(static_cast<std::size_t>(input_end_ - p_), options_.max_bytes);
    }
    DecodeError& error() noexcept { return error_; }

  private:
    std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - p_); }

    [[gnu::cold, gnu::noinline]] bool fail(DecodeErrc code, const std::uint8_t* at,
                                           std::string detail) {
        error_ = {code, static_cast<std::size_t>(at - begin_), std::move(detail)};
        return false;
    }
    // `n` bytes from p_ are needed to read `what`.
    [[gnu::cold, gnu::noinline]] bool short_input(std::size_t n, const char* what) {
        std::string detail = std::string(what) + " needs " + std::to_string(n) + " bytes, " +
                             std::to_string(remaining()) + " remain";
        if (input_end_ > end_)
            return fail(DecodeErrc::too_large, p_,
                        detail + " within the limit of " + std::to_string(options_.max_bytes));
        return fail(DecodeErrc::truncated, p_, std::move(detail));
    }
    bool need(std::size_t n, const char* what) { return remaining() >= n || short_input(n, what); }

    // Checked before a container is allocated, so a too-deep term costs nothing more; it also
    // makes room for the frame first, so that pushing it cannot throw once the container is in
    // the tree. One compare: cap_ stops at max_depth open containers as well as at the end of
    // the stack, and the slow path tells which.
    bool can_nest() {
        if (top_ + 1 == cap_) [[unlikely]]
            return make_room();
        return true;
    }
    std::size_t usable_frames() const noexcept {
        return options_.max_depth < state_.frame_count ? options_.max_depth + 1
                                                       : state_.frame_count;
    }
    [[gnu::noinline]] bool make_room();
    Frame& push(Term* first, std::size_t n, Frame::Kind kind,
                detail::HeapObject* object = nullptr) noexcept {
        Frame& f = *++top_;
        f.next = first;
        f.end = first + n;
        f.kind = kind;
        f.object = object;
        return f;
    }
    bool item(Term& dst);
    bool close();
    bool close_list(Frame& f);
    void grow_list(Frame& f, std::size_t filled, std::size_t needed);
    bool close_map(Frame& f);
    void unwind() noexcept;

    bool tuple(Term& dst, std::size_t header, std::size_t arity);
    bool list(Term& dst);
    bool string(Term& dst);
    bool map(Term& dst);
    bool closure(Term& dst);
    bool record(Term& dst);
    bool scalar(Term& dst);
    bool binary(Term& dst, std::size_t header, std::size_t size, std::uint8_t tail_bits);
    detail::BinaryObject* small_binary(const std::uint8_t* data, std::size_t size);
    // A BINARY_EXT of `size` bytes, all there, copied: there is no buffer to slice it from.
    [[gnu::noinline]] bool copied_binary(Term& dst, std::size_t size);
    bool bignum(Term& dst, std::size_t header, std::size_t size, bool negative);
    bool pid(Term& dst, bool old);
    bool port(Term& dst, std::uint8_t t);
    bool reference(Term& dst, std::uint8_t t);
    bool export_fun(Term& dst);

    // Any of the four atom tags at p_, or an error naming what is there instead.
    bool atom(Atom& out) {
        if (p_ == end_) return short_input(1, "an atom");
        switch (*p_) {
            case tag::small_atom_utf8:
            case tag::small_atom:
            case tag::atom_utf8:
            case tag::atom:
                return known_atom(out);
            case tag::atom_cache_ref:
                return cached_atom(out);
            default:
                return not_an_atom();
        }
    }
    // An atom whose tag at p_ is one of the four: a cache hit is the common case. A short small
    // atom is looked up by its wire bytes, read ahead within the input.
    [[gnu::always_inline]] bool known_atom(Atom& out) {
        const std::uint8_t* at = p_;
        // SMALL_ATOM_UTF8_EXT 119 and SMALL_ATOM_EXT 115 are odd.
        if ((*at & 1) != 0 && input_end_ - at >= static_cast<std::ptrdiff_t>(AtomCache::wire_max)) {
            const std::size_t n = std::size_t{at[1]} + 2;
            if (n <= AtomCache::wire_max && remaining() >= n) [[likely]] {
                if (auto hit = state_.atoms.find_wire(at, n)) [[likely]] {
                    out = *hit;
                    p_ = at + n;
                    return true;
                }
                return text_atom(out, n);
            }
        }
        return text_atom(out, 0);
    }
    // Any atom by its text; then, when `wire_bytes` is not 0, remembered by its wire form too.
    [[gnu::noinline]] bool text_atom(Atom& out, std::size_t wire_bytes);
    bool new_atom(const std::uint8_t* text, std::size_t len, bool latin1, bool padded, Atom& out);
    bool not_an_atom();
    // ATOM_CACHE_REF at p_: an atom its distribution header named. Inlined where it is read, as
    // it is after every header; bad_cached_atom() tells what is wrong with one that is not valid.
    [[gnu::always_inline]] bool cached_atom(Atom& out) {
        if (header_atoms_ != nullptr && remaining() >= 2 && p_[1] < header_atoms_->size())
            [[likely]] {
            out = (*header_atoms_)[p_[1]];
            p_ += 2;
            return true;
        }
        return bad_cached_atom();
    }
    [[gnu::cold, gnu::noinline]] bool bad_cached_atom();
    bool intern(std::string_view name, const std::uint8_t* at, Atom& out);

    const std::uint8_t* begin_;
    const std::uint8_t* p_;
    const std::uint8_t* end_;        // of what may be decoded: the input within max_bytes
    const std::uint8_t* input_end_;  // of the input, which may be read ahead within
    const DecodeOptions& options_;
    const detail::HeapObject* owner_;
    const std::span<const Atom>* header_atoms_;
    ThreadState& state_;
    Frame* base_;  // the root frame
    Frame* top_;   // the innermost open container
    Frame* cap_;   // one past the last frame that may be used: the stack's end or max_depth
    DecodeError error_;
};

// A binary of fewer than slice_threshold bytes at `data`, copied: word by word when the input
// has the bytes to read ahead (the object's block always has room for whole words).
static_assert(sizeof(detail::BinaryObject) % 8 == 0 &&
              sizeof(detail::BinaryObject) + slice_threshold <= detail::heap::fine_limit &&
              detail::heap::fine_step % 8 == 0);
inline detail::BinaryObject* Decoder::small_binary(const std::uint8_t* data, std::size_t size) {
    auto* b = detail::heap::make<detail::BinaryObject>(sizeof(detail::BinaryObject) + size);
    b->data = b->inline_data();
    b->size = size;
    std::uint8_t* out = b->inline_data();
    if (static_cast<std::size_t>(input_end_ - data) >= slice_threshold) {
        for (std::size_t i = 0; i < size; i += 8)
            std::memcpy(out + i, data + i, 8);
    } else if (size > 0) {
        std::memcpy(out, data, size);
    }
    return b;
}

inline bool Decoder::pid(Term& dst, bool old) {
    ++p_;
    Pid pid;
    if (!atom(pid.node)) return false;
    std::size_t size = old ? 9 : 12;
    if (!need(size, "a pid")) return false;
    pid.id = wire::load32(p_);
    pid.serial = wire::load32(p_ + 4);
    pid.creation = old ? p_[8] : wire::load32(p_ + 8);
    p_ += size;
    fill(dst, boxed<detail::PidObject>(pid));
    return true;
}

inline bool Decoder::reference(Term& dst, std::uint8_t t) {
    const std::uint8_t* at = p_;
    std::size_t words = 1;
    if (t != tag::reference) {
        if (!need(3, "a reference")) return false;
        words = wire::load16(p_ + 1);
        if (words == 0 || words > Reference::max_words)
            return fail(DecodeErrc::bad_reference, at,
                        "reference of " + std::to_string(words) + " words (1 to 5 allowed)");
        p_ += 2;
    }
    ++p_;
    Reference ref;
    if (!atom(ref.node)) return false;
    ref.size = static_cast<std::uint8_t>(words);
    if (t == tag::reference) {
        if (!need(5, "REFERENCE_EXT")) return false;
        ref.words[0] = wire::load32(p_);
        ref.creation = p_[4];
        p_ += 5;
    } else {
        std::size_t creation_size = t == tag::newer_reference ? 4 : 1;
        if (!need(creation_size + 4 * words, "a reference")) return false;
        ref.creation = creation_size == 4 ? wire::load32(p_) : p_[0];
        p_ += creation_size;
        for (std::size_t i = 0; i < words; ++i, p_ += 4)
            ref.words[i] = wire::load32(p_);
    }
    fill(dst, boxed<detail::ReferenceObject>(ref));
    return true;
}

}  // namespace distribute::etf::decoding
