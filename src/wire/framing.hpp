// Frames after the handshake: `Len:32` then the frame; a frame of length 0 is a tick. Which layout
// a frame has depends on the negotiated flags:
//   pass-through   112, 131 Control, [131 Message]       neither DIST_HDR_ATOM_CACHE nor FRAGMENTS
//   dist header    131, 68, atom cache refs, Control, [Message]          either of them
//   fragments      131, 69 / 131, 70 ...                                 FRAGMENTS
// One decoder and one encoder live per connection and direction: the atom cache and fragment
// sequences they keep last as long as the connection. We write dist headers with atom cache
// references (for the frames that reach the peer in the order they were encoded, see
// FrameEncoder) and large messages in fragments (wire/fragment_sender.hpp); we read all three
// layouts.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "distribute/etf.hpp"
#include "distribute/expected.hpp"
#include "wire/control.hpp"
#include "wire/dist_header.hpp"
#include "wire/fragments.hpp"
#include "wire/frame_error.hpp"
#include "wire/outgoing_bytes.hpp"

namespace distribute::wire {

class FrameDecoder {
  public:
    FrameDecoder(std::uint64_t negotiated, etf::DecodeOptions options = {},
                 ReassemblyLimits limits = {});

    // One non-empty frame (the bytes after its length) lying inside `owner`, so that large
    // binaries can be sliced from it. nullopt: a fragment that awaits the rest of its sequence.
    [[nodiscard]] Expected<std::optional<Control>, FrameError> decode(
        const SharedBuffer& owner, std::span<const std::uint8_t> frame);

    const Reassembly& reassembly() const { return reassembly_; }

  private:
    Expected<std::optional<Control>, FrameError> first_fragment(std::span<const std::uint8_t> frame,
                                                                const SharedBuffer& owner);
    Expected<std::optional<Control>, FrameError> continuation(std::span<const std::uint8_t> frame);

    std::uint64_t negotiated_;
    etf::DecodeOptions options_;
    IncomingAtomCache cache_;
    std::vector<Atom> header_atoms_;  // of the frame being decoded
    Reassembly reassembly_;
};

class FrameEncoder {
  public:
    // `atom_cache`: frames may refer to atoms through the peer's cache (when DIST_HDR_ATOM_CACHE
    // is in `negotiated`).
    explicit FrameEncoder(std::uint64_t negotiated, bool atom_cache = false);

    // Appends one whole frame, its 4-byte length included. `cached`: its atoms go through the
    // cache when the encoder has one, which is right only if the frames encoded `cached` reach
    // the peer in the order of these calls. Otherwise the header refers to no atoms and the
    // cache is not touched.
    void encode(std::vector<std::uint8_t>& out, const Control& control, bool cached = true);
    // The same with the payload's large binaries gathered, not copied: the same bytes on the
    // wire.
    void encode(OutgoingBytes& out, const Control& control, bool cached = true);

    std::uint64_t negotiated() const { return negotiated_; }
    bool caches() const { return cache_ != nullptr; }

  private:
    void encode(std::vector<std::uint8_t>& out, const Control& control, bool cached,
                etf::Gathered* gathered);

    std::uint64_t negotiated_;
    std::unique_ptr<etf::OutgoingAtomCache> cache_;
    std::vector<std::uint8_t> header_;  // the atom cache part being built
};

// Appends one whole frame that refers to no cached atoms; reads nothing but its arguments, so
// any thread may encode into a buffer of its own.
void encode_frame(std::vector<std::uint8_t>& out, const Control& control, std::uint64_t negotiated);
// The same with the payload's large binaries gathered, not copied.
void encode_frame(OutgoingBytes& out, const Control& control, std::uint64_t negotiated);
// Bytes encode_frame writes before the terms: the length and the header (131, 68, 0), or the
// pass-through byte.
std::size_t uncached_prefix_bytes(std::uint64_t negotiated);

// A first fragment (131, 69) that more fragments of its sequence follow. A session joins the
// continuations that come right behind it in its receive buffer onto it in place (the frame
// stays a valid first fragment: its length grows and its fragment id counts down), so that a
// message whose fragments are not interleaved with other frames is decoded where it was read,
// binaries sliced, instead of being copied into a reassembly buffer.
struct OpenSequence {
    std::uint64_t sequence;
    std::uint64_t fragment;  // the first fragment's id: fragments of the message not yet joined
};
// `frame` as an open sequence (fragment id 2 or more, with FRAGMENTS negotiated), or nullopt.
std::optional<OpenSequence> open_sequence(std::span<const std::uint8_t> frame,
                                          std::uint64_t negotiated);
// The data of `frame` when it is the next fragment (fragment - 1) of `open`, else nullopt.
std::optional<std::span<const std::uint8_t>> next_fragment_data(
    const OpenSequence& open, std::span<const std::uint8_t> frame);
// Writes `fragment` as the fragment id of the first fragment `frame` (at least 18 bytes).
void set_fragment_id(std::uint8_t* frame, std::uint64_t fragment);

// How frames go on a connection with `negotiated`, for its log line: "pass-through frames",
// "distribution headers" or "distribution headers, fragments".
std::string frame_layout(std::uint64_t negotiated);

// The 4-byte frame that keeps a quiet connection alive.
inline constexpr std::uint8_t tick_frame[4] = {0, 0, 0, 0};

}  // namespace distribute::wire
