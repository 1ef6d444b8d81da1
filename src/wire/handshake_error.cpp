// What a failed handshake says (wire/handshake.hpp).
#include "wire/handshake.hpp"

namespace distribute::wire {
namespace {

const char* message_of(HandshakeErrc e) noexcept {
    switch (e) {
        case HandshakeErrc::bad_message:
            return "malformed or unexpected handshake message";
        case HandshakeErrc::message_too_large:
            return "handshake message too large";
        case HandshakeErrc::refused:
            return "the peer refused the connection";
        case HandshakeErrc::missing_flags:
            return "the peer lacks required distribution flags";
        case HandshakeErrc::bad_name:
            return "bad node name in the handshake";
        case HandshakeErrc::bad_digest:
            return "the peer does not know the cookie";
        case HandshakeErrc::gave_up:
            return "a live connection was not replaced";
        case HandshakeErrc::lost_race:
            return "the peer's own connection attempt won";
    }
    return nullptr;
}

}  // namespace

const std::error_category& handshake_category() noexcept {
    static const ErrorCategory<HandshakeErrc> category("distribute.handshake", message_of);
    return category;
}

std::error_code make_error_code(HandshakeErrc e) noexcept {
    return {static_cast<int>(e), handshake_category()};
}

}  // namespace distribute::wire
