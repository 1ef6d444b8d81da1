// The atom cache part of a distribution header (131,68 and the first fragment, 131,69): how many
// atoms the message refers to, a 4-bit flag field per atom (new entry or not, and the cache
// segment), then per atom its index within the segment and, for a new entry, its text. Inside the
// terms that follow, ATOM_CACHE_REF i stands for the header's i-th atom.
//
// The cache a header updates belongs to the connection and the direction: 2,048 entries (8
// segments of 256), kept for the connection's life. Headers must be read strictly in the order
// their frames arrive, a first fragment's header included, since a later message may refer to an
// entry an earlier one set.
#pragma once

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "distribute/etf.hpp"
#include "distribute/expected.hpp"
#include "distribute/term.hpp"
#include "term/etf_outgoing_atoms.hpp"
#include "wire/frame_error.hpp"

namespace distribute::wire {

inline constexpr std::size_t atom_cache_entries = 2048;

// The byte after 131 that says which of the three it is: a whole message's header, a first
// fragment's, or a continuation fragment's.
inline constexpr std::uint8_t dist_header = 68;
inline constexpr std::uint8_t dist_frag_header = 69;
inline constexpr std::uint8_t dist_frag_cont = 70;

// The entries a peer set in its cache for what it sends us.
class IncomingAtomCache {
  public:
    // The atom at `index` (below atom_cache_entries), or nullptr when the peer never set it.
    const Atom* find(std::size_t index) const noexcept {
        return set_.test(index) ? &atoms_[index] : nullptr;
    }
    void set(std::size_t index, Atom atom) noexcept {
        atoms_[index] = atom;
        set_.set(index);
    }

  private:
    std::array<Atom, atom_cache_entries> atoms_{};
    std::bitset<atom_cache_entries> set_;
};

// Reads the atom cache part of a header, starting at `pos` (NumberOfAtomCacheRefs), into
// `atoms` (replacing what it held) and the new entries into `cache`. Returns where the control
// term starts. A new entry's atom is made as the terms' are (safe mode, the atom budget).
[[nodiscard]] Expected<std::size_t, FrameError> read_header_atoms(
    std::span<const std::uint8_t> frame, std::size_t pos, IncomingAtomCache& cache,
    std::vector<Atom>& atoms, const etf::DecodeOptions& options);

// Appends a normal distribution header that refers to no atoms: 131, 68, 0.
void write_plain_header(std::vector<std::uint8_t>& out);

// Appends the atom cache part of a header (from NumberOfAtomCacheRefs on) for `refs`, the
// references a message's terms were encoded with (etf::OutgoingAtomCache::entries): new entries
// with their text, 2-byte lengths when any new entry's text is over 255 bytes.
void write_header_atoms(std::vector<std::uint8_t>& out,
                        std::span<const etf::OutgoingAtomCache::Entry> refs);

}  // namespace distribute::wire
