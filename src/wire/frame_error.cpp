#include "wire/frame_error.hpp"

namespace distribute::wire {
namespace {

const char* message_of(FrameErrc e) noexcept {
    switch (e) {
        case FrameErrc::unknown_layout:
            return "unknown frame layout";
        case FrameErrc::layout_not_negotiated:
            return "frame layout not negotiated on this connection";
        case FrameErrc::bad_term:
            return "a term of the frame does not decode";
        case FrameErrc::bad_control:
            return "invalid control message";
        case FrameErrc::trailing_bytes:
            return "bytes after the last term of the frame";
        case FrameErrc::bad_header:
            return "invalid distribution header";
        case FrameErrc::bad_fragment:
            return "fragment out of sequence";
        case FrameErrc::reassembly_limit:
            return "fragments in progress over the connection's limit";
    }
    return nullptr;
}

}  // namespace

const std::error_category& frame_category() noexcept {
    static const ErrorCategory<FrameErrc> category("distribute.frame", message_of);
    return category;
}

std::error_code make_error_code(FrameErrc e) noexcept {
    return {static_cast<int>(e), frame_category()};
}

std::string FrameError::to_string() const {
    std::string out = frame_category().message(static_cast<int>(code));
    out += " at byte ";
    out += std::to_string(offset);
    if (!detail.empty()) {
        out += ": ";
        out += detail;
    }
    return out;
}

}  // namespace distribute::wire
