// The decoder's state machine, shared by etf_decode.cpp (the main loop, containers and the entry
// points) and etf_decode_scalar.cpp (everything without elements).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "distribute/etf.hpp"
#include "term/etf_atom_cache.hpp"

namespace distribute::etf::decoding {

// Smaller binaries are copied: a slice costs an allocation too and pins the whole buffer.
constexpr std::size_t slice_threshold = 64;
// 255 characters of at most 4 bytes each.
constexpr std::size_t max_atom_bytes = 255 * 4;
constexpr std::size_t max_latin1_atom = 255;
// Frame stacks that grew past this are given back after the decode that grew them.
constexpr std::size_t kept_stack_frames = 4096;

// A container being filled. Slots are handed out in wire order; the last one closes the frame.
struct Frame {
    enum Kind : std::uint8_t { elements, list, list_tail, map, closure };
    Kind kind;
    std::size_t left;            // slots still to hand out
    Term* next;                  // elements, list, list_tail, closure: the next slot
    detail::HeapObject* object;  // list, map, closure
    Term* home;                  // list: the slot holding it, replaced when the list grows
    std::size_t extra;           // list: capacity; map: 2 * entries; closure: offset of its end
};

// Reused by every decode on a thread: no allocation for the stack once it has grown.
struct ThreadState {
    std::vector<Frame> stack;
    AtomCache atoms;
};
ThreadState& thread_state();

// Slots start as [] and are written once: a value is built over the slot in place, since []
// holds nothing to release and assigning would copy it through a temporary.
template <class... Args>
void fill(Term& slot, Args&&... args) {
    new (&slot) Term(std::forward<Args>(args)...);
}

std::string tag_name(std::uint8_t t);

class Decoder {
  public:
    Decoder(std::span<const std::uint8_t> input, std::size_t start, const DecodeOptions& options,
            const detail::HeapObject* owner)
        : begin_(input.data()),
          p_(input.data() + start),
          end_(input.data() + std::min(input.size(), options.max_bytes)),
          input_size_(input.size()),
          options_(options),
          owner_(owner),
          state_(thread_state()),
          stack_(state_.stack) {
        stack_.clear();
    }
    ~Decoder() {
        stack_.clear();
        if (stack_.capacity() > kept_stack_frames) std::vector<Frame>().swap(stack_);
    }
    Decoder(const Decoder&) = delete;
    Decoder& operator=(const Decoder&) = delete;

    bool run(Term& result);
    std::size_t offset() const noexcept { return static_cast<std::size_t>(p_ - begin_); }
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
        if (input_size_ > static_cast<std::size_t>(end_ - begin_))
            return fail(DecodeErrc::too_large, p_,
                        detail + " within the limit of " + std::to_string(options_.max_bytes));
        return fail(DecodeErrc::truncated, p_, std::move(detail));
    }
    bool need(std::size_t n, const char* what) { return remaining() >= n || short_input(n, what); }

    // Checked before a container is allocated, so a too-deep term costs nothing more.
    bool can_nest() {
        return stack_.size() < options_.max_depth ||
               fail(DecodeErrc::too_deep, p_,
                    "more than " + std::to_string(options_.max_depth) + " nested containers");
    }

    bool next_slot(Term*& dst);
    bool close_list(Frame& f, bool& more);
    void grow_list(Frame& f, std::size_t filled, std::size_t needed);
    bool close_map(Frame& f);

    bool tuple(Term& dst, std::size_t header, std::size_t arity);
    bool list(Term& dst);
    bool string(Term& dst);
    bool map(Term& dst);
    bool closure(Term& dst);
    bool scalar(Term& dst);
    bool atom(Atom& out);
    bool intern(std::string_view name, const std::uint8_t* at, Atom& out);
    bool binary(Term& dst, std::size_t header, std::size_t size, std::uint8_t tail_bits);
    bool bignum(Term& dst, std::size_t header, std::size_t size, bool negative);
    bool pid(Term& dst, bool old);
    bool port(Term& dst, std::uint8_t t);
    bool reference(Term& dst, std::uint8_t t);
    bool export_fun(Term& dst);

    const std::uint8_t* begin_;
    const std::uint8_t* p_;
    const std::uint8_t* end_;
    std::size_t input_size_;
    const DecodeOptions& options_;
    const detail::HeapObject* owner_;
    ThreadState& state_;
    std::vector<Frame>& stack_;
    DecodeError error_;
};

}  // namespace distribute::etf::decoding
