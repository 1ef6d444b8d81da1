// Reassembly of fragmented messages (DFLAG_FRAGMENTS). A BEAM sends a message whose encoding is
// over 64 KiB in fragments: the first (131,69) carries the sequence id (the sending process),
// the fragment count, the header's atoms, the control term and the start of the message; the
// continuations (131,70) carry the rest, their fragment ids counting down to 1. One sender
// finishes a sequence before it starts the next, but sequences of different senders interleave
// with each other and with whole messages, so several can be in progress on one connection.
//
// Memory is bounded per connection: a sequence reserves room for its fragment count times its
// first fragment (a BEAM's fragments are all of one size but the last), growing if the peer's
// fragments turn out larger, and all sequences in progress together may hold at most
// `ReassemblyLimits::max_bytes`; past that, or past `max_sequences`, the connection is closed.
// A completed sequence's buffer of up to 1 MiB is kept for the next one (not counted: the
// connection's receive buffer is kept the same way).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "distribute/expected.hpp"
#include "distribute/term.hpp"
#include "wire/frame_error.hpp"

namespace distribute::wire {

struct ReassemblyLimits {
    // Bytes all sequences in progress on one connection may hold: as large as one unfragmented
    // frame may be (net::SessionSettings::max_frame_bytes).
    std::size_t max_bytes = std::size_t{1} << 30;
    // Sequences in progress at once: one per sending process on a BEAM.
    std::size_t max_sequences = 4096;
};

// A whole message out of its fragments: the control term and the message, as the first fragment
// and the continuations carried them, and the atoms of the first fragment's header.
struct Reassembled {
    SharedBuffer buffer;  // binaries decoded from `bytes` may slice it
    std::span<const std::uint8_t> bytes;
    std::vector<Atom> atoms;
};

class Reassembly {
  public:
    explicit Reassembly(ReassemblyLimits limits = {}) : limits_(limits) {}

    // The first fragment of a sequence of `count` (2 or more): `rest` is everything after its
    // header. `at` is where `rest` starts in the frame, for error offsets.
    [[nodiscard]] Expected<void, FrameError> begin(std::uint64_t sequence, std::uint64_t count,
                                                   std::vector<Atom> atoms,
                                                   std::span<const std::uint8_t> rest,
                                                   std::size_t at);
    // A continuation: the message when it was the last fragment, else nullopt.
    [[nodiscard]] Expected<std::optional<Reassembled>, FrameError> add(
        std::uint64_t sequence, std::uint64_t fragment, std::span<const std::uint8_t> bytes,
        std::size_t at);

    std::size_t sequences_in_progress() const { return sequences_.size(); }
    std::size_t bytes_held() const { return held_; }

  private:
    struct Sequence {
        SharedBuffer buffer;
        std::size_t used = 0;
        std::uint64_t next = 0;  // the fragment id expected next
        std::vector<Atom> atoms;
    };
    bool fits(std::size_t more) const { return more <= limits_.max_bytes - held_; }

    SharedBuffer buffer_for(std::size_t size);

    ReassemblyLimits limits_;
    std::unordered_map<std::uint64_t, Sequence> sequences_;
    std::size_t held_ = 0;  // the buffers' sizes, summed
    // The last completed sequence's buffer, used again once no decoded binary points into it:
    // a stream of messages just over 64 KiB (two fragments each) allocates no buffer per
    // message. Only buffers up to kept_spare_bytes are kept.
    SharedBuffer spare_;
};

}  // namespace distribute::wire
