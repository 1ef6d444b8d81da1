// What a failed receive says (include/distribute/mailbox.hpp).
#include "distribute/mailbox.hpp"

namespace distribute {
namespace {

const char* message_of(ReceiveErrc e) noexcept {
    switch (e) {
        case ReceiveErrc::timeout:
            return "nothing arrived in time";
        case ReceiveErrc::exited:
            return "the process was ended by an exit signal";
        case ReceiveErrc::node_thread:
            return "a blocking receive on one of the node's threads";
    }
    return nullptr;
}

}  // namespace

const std::error_category& receive_category() noexcept {
    static const ErrorCategory<ReceiveErrc> category("distribute.receive", message_of);
    return category;
}

std::error_code make_error_code(ReceiveErrc e) noexcept {
    return {static_cast<int>(e), receive_category()};
}

}  // namespace distribute
