// Our model of the atom cache a peer keeps for what we send it (DIST_HDR_ATOM_CACHE), and the
// choice, atom by atom, of what a message's terms refer to through it. The encoder asks ref() for
// every atom it writes after a distribution header: a number below 255 means ATOM_CACHE_REF with
// that number, -1 means the atom goes as text. The header that goes before the terms
// (wire/dist_header.hpp) then lists the message's references in that order: new entries with
// their text, entries the peer already holds by slot alone.
//
// The slot of an atom is its atom-table index modulo 2,039, as erts picks it (atom2cix with
// ERTS_USE_ATOM_CACHE_SIZE 2039; any deterministic choice would do, since the header names the
// slot). A message refers to at most 255 atoms; an atom whose slot another atom of the same
// message already took, or that comes after the 255th, goes as text and changes nothing.
//
// The model changes as ref() is called, which is right only if the peer reads the headers in the
// order the messages were encoded: a connection encodes with the cache only frames it writes in
// that order (docs/architecture.md, "Sending").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "distribute/term.hpp"

namespace distribute::etf {

class OutgoingAtomCache {
  public:
    static constexpr std::size_t slots = 2048;
    static constexpr std::size_t used_slots = 2039;
    static constexpr std::size_t max_refs = 255;

    struct Entry {
        std::uint16_t slot;
        bool is_new;  // the peer does not hold it yet: the header carries its text
        Atom atom;
        Atom replaced;  // what the slot held before (for abandon_message)
        bool was_set;
    };

    static constexpr std::size_t slot_of(Atom atom) noexcept { return atom.index() % used_slots; }

    // Starts the references of one message.
    void begin_message() noexcept {
        ++generation_;
        count_ = 0;
    }

    // The message's reference number for `atom`, or -1: write it as text.
    [[gnu::always_inline]] int ref(Atom atom) noexcept {
        Slot& s = slots_[slot_of(atom)];
        if (s.generation == generation_) return s.message_atom == atom.index() ? s.ref : -1;
        if (count_ == max_refs) return -1;
        s.generation = generation_;
        s.message_atom = atom.index();
        s.ref = static_cast<std::uint8_t>(count_);
        entries_[count_++] =
            Entry{static_cast<std::uint16_t>(slot_of(atom)), !s.set || s.cached != atom.index(),
                  atom, Atom::from_index(s.cached), s.set};
        s.cached = atom.index();
        s.set = true;
        return s.ref;
    }

    // The references of the message since begin_message, in their numbers' order.
    std::span<const Entry> entries() const noexcept { return {entries_.data(), count_}; }

    // The message was not sent after all (its encoding failed): the slots it set are put back.
    void abandon_message() noexcept {
        for (std::size_t i = count_; i-- > 0;) {
            Slot& s = slots_[entries_[i].slot];
            s.cached = entries_[i].replaced.index();
            s.set = entries_[i].was_set;
            s.generation = 0;
        }
        count_ = 0;
    }

  private:
    struct Slot {
        std::uint64_t generation = 0;  // of the message that last referred to the slot
        std::uint32_t cached = 0;      // the atom the peer holds in it, when `set`
        std::uint32_t message_atom = 0;
        std::uint8_t ref = 0;
        bool set = false;
    };
    std::array<Slot, slots> slots_{};
    std::array<Entry, max_refs> entries_{};
    std::size_t count_ = 0;
    std::uint64_t generation_ = 0;
};

// encode_body (no 131) with the atoms `cache` chooses as ATOM_CACHE_REF; null: all as text.
void encode_body(std::vector<std::uint8_t>& out, const Term& term, OutgoingAtomCache* cache);

}  // namespace distribute::etf
