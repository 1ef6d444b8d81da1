// Why a frame after the handshake was refused. Any of these closes the connection it came on
// (the peer is broken or hostile); the node and its other connections go on.
#pragma once

#include <cstddef>
#include <string>
#include <system_error>

#include "distribute/error.hpp"

namespace distribute::wire {

enum class FrameErrc {
    unknown_layout = 1,  // a first byte that is neither 112 nor 131 (or 131 not followed by 68-70)
    layout_not_negotiated,  // a dist header or a fragment on a connection that did not agree to it
    bad_term,               // the control or message term does not decode (detail says why)
    bad_control,            // the control term is not a valid control message
    trailing_bytes,         // bytes after the last term of the frame
    bad_header,        // a distribution header cut short, or naming an atom cache entry never set
    bad_fragment,      // a fragment of no sequence in progress, out of order, or a sequence twice
    reassembly_limit,  // fragments in progress would hold more than the connection's limit
};
const std::error_category& frame_category() noexcept;
std::error_code make_error_code(FrameErrc e) noexcept;

struct FrameError {
    FrameErrc code{};
    std::size_t offset = 0;  // within the frame
    std::string detail;
    std::string to_string() const;
};

}  // namespace distribute::wire

template <>
struct std::is_error_code_enum<distribute::wire::FrameErrc> : std::true_type {};
