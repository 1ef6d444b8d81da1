// Frames after the handshake: `Len:32` then the frame; a frame of length 0 is a tick. Which layout
// a frame has depends on the negotiated flags:
//   pass-through   112, 131 Control, [131 Message]       neither DIST_HDR_ATOM_CACHE nor FRAGMENTS
//   dist header    131, 68, atom cache refs, Control, [Message]          either of them
//   fragments      131, 69 / 131, 70 ...                                 FRAGMENTS
// One decoder and one encoder live per connection and direction: the atom cache and fragment
// sequences they keep last as long as the connection.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "distribute/etf.hpp"
#include "distribute/expected.hpp"
#include "wire/control.hpp"

namespace distribute::wire {

enum class FrameErrc {
    unknown_layout = 1,  // a first byte that is neither 112 nor 131 (or 131 not followed by 68-70)
    layout_not_negotiated,  // a dist header or a fragment on a connection that did not agree to it
    bad_term,               // the control or message term does not decode (detail says why)
    bad_control,            // the control term is not a valid control message
    trailing_bytes,         // bytes after the last term of the frame
};
const std::error_category& frame_category() noexcept;
std::error_code make_error_code(FrameErrc e) noexcept;

struct FrameError {
    FrameErrc code{};
    std::size_t offset = 0;  // within the frame
    std::string detail;
    std::string to_string() const;
};

class FrameDecoder {
  public:
    FrameDecoder(std::uint64_t negotiated, etf::DecodeOptions options = {});

    // One non-empty frame (the bytes after its length) lying inside `owner`, so that large
    // binaries can be sliced from it. nullopt: a fragment that awaits the rest of its sequence.
    [[nodiscard]] Expected<std::optional<Control>, FrameError> decode(
        const SharedBuffer& owner, std::span<const std::uint8_t> frame);

  private:
    std::uint64_t negotiated_;
    etf::DecodeOptions options_;
};

class FrameEncoder {
  public:
    explicit FrameEncoder(std::uint64_t negotiated);

    // Appends one whole frame, its 4-byte length included.
    void encode(std::vector<std::uint8_t>& out, const Control& control);

    std::uint64_t negotiated() const { return negotiated_; }

  private:
    std::uint64_t negotiated_;
};

// The 4-byte frame that keeps a quiet connection alive.
inline constexpr std::uint8_t tick_frame[4] = {0, 0, 0, 0};

}  // namespace distribute::wire

template <>
struct std::is_error_code_enum<distribute::wire::FrameErrc> : std::true_type {};
