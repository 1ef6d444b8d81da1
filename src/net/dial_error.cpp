// What a failed dial says (net/connector.hpp).
#include "net/connector.hpp"

namespace distribute::net {
namespace {

const char* message_of(DialErrc e) noexcept {
    switch (e) {
        case DialErrc::bad_name:
            return "not a node name";
        case DialErrc::unreachable:
            return "the node is unreachable";
        case DialErrc::no_epmd:
            return "no EPMD on the node's host";
        case DialErrc::not_registered:
            return "the name is not registered with the host's EPMD";
        case DialErrc::old_version:
            return "the node speaks only distribution versions older than 5";
    }
    return nullptr;
}

}  // namespace

const std::error_category& dial_category() noexcept {
    static const ErrorCategory<DialErrc> category("distribute.dial", message_of);
    return category;
}

std::error_code make_error_code(DialErrc e) noexcept {
    return {static_cast<int>(e), dial_category()};
}

}  // namespace distribute::net
