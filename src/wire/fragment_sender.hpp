// Sending a large message in fragments (DFLAG_FRAGMENTS), laid out as the BEAM lays them: the
// control term and the message are encoded whole once, then cut into pieces of 64 KiB
// (ERTS_DIST_FRAGMENT_SIZE; the BEAM has no setting for it). The first piece goes in a 131,69
// frame (sequence id, fragment count, an empty atom cache part), the others in 131,70 frames,
// their fragment ids counting down to 1. A message whose payload is 64 KiB or less goes whole,
// as does a control without a message, reason or argument term (the BEAM fragments only those).
// Fragmented messages refer to no cached atoms: their frames are written interleaved with frames
// encoded after them (docs/architecture.md).
//
// The pieces are views of the one encoded buffer and of the large binaries it leaves in place
// (wire/outgoing_bytes.hpp): a 100 MB binary is not copied at all, and a piece may end inside
// one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "distribute/term.hpp"
#include "wire/control.hpp"
#include "wire/outgoing_bytes.hpp"

namespace distribute::wire {

inline constexpr std::size_t fragment_data_bytes = 64 * 1024;
// The length prefix, 131, 69 or 70, the sequence id, the fragment id and, in the first
// fragment only, NumberOfAtomCacheRefs (0).
inline constexpr std::size_t max_fragment_prefix_bytes = 4 + 1 + 1 + 8 + 8 + 1;

// How many frames a control whose terms (the control term and what follows it) encode to
// `terms_bytes` goes out in on a connection with `negotiated` flags: 1 means whole.
std::size_t fragments_for(const Control& control, std::size_t terms_bytes,
                          std::uint64_t negotiated);

// Whether the control goes out in fragments on a connection with `negotiated` flags: its
// payload term (message, reason or arguments) encodes to over fragment_data_bytes. Asked before
// encoding, so that such a message is encoded outside the send queue's lock into a buffer of its
// own; a walk of the term that stops at the limit, cheap for a small message. A control whose
// other terms push it over the limit goes whole.
bool goes_in_fragments(const Control& control, std::uint64_t negotiated);

// The process whose signals must keep their order behind this one: the sender, when the control
// names it. nullopt for the controls that do not (SEND without SEND_SENDER, SPAWN_REPLY ...).
std::optional<Pid> sending_process(const Control& control);

class OutgoingFragments {
  public:
    using Prefix = std::array<std::uint8_t, max_fragment_prefix_bytes>;

    // `frame` is a whole frame (encode_frame) whose encoded terms start at `terms_at` (what
    // follows a distribution header); `count` from fragments_for.
    OutgoingFragments(OutgoingBytes frame, std::size_t terms_at, std::size_t count,
                      std::uint64_t sequence);
    // Moving keeps the buffers where they are: views taken before stay valid.
    OutgoingFragments(OutgoingFragments&& other) noexcept;
    OutgoingFragments& operator=(OutgoingFragments&& other) noexcept;

    bool done() const { return next_ == count_; }
    std::size_t count() const { return count_; }
    // Bytes of all the frames, their prefixes included.
    std::size_t wire_bytes() const;
    // The next fragment appended to `views`: its prefix written into `prefix` (the first view is
    // of it), then its piece of the message (views valid while this object lives). Its bytes.
    std::size_t take(Prefix& prefix, ByteViews& views);

  private:
    std::size_t terms_bytes() const { return frame_.size() - terms_at_; }
    std::size_t piece_bytes(std::size_t index) const;
    std::size_t prefix_bytes(std::size_t index) const { return index == 0 ? 23 : 22; }

    OutgoingBytes frame_;
    OutgoingBytes::Reader reader_;  // at the next piece
    std::size_t terms_at_;
    std::size_t count_;
    std::uint64_t sequence_;
    std::size_t next_ = 0;
};

}  // namespace distribute::wire
