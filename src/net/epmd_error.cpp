// What EPMD errors say.
#include <string>

#include "distribute/epmd.hpp"

namespace distribute {
namespace {

const char* message_of(EpmdErrc e) noexcept {
    switch (e) {
        case EpmdErrc::name_taken:
            return "EPMD refused the registration (name taken)";
        case EpmdErrc::not_found:
            return "no node of that name is registered";
        case EpmdErrc::unreachable:
            return "EPMD unreachable";
        case EpmdErrc::malformed_reply:
            return "malformed reply from EPMD";
        case EpmdErrc::timed_out:
            return "EPMD request timed out";
        case EpmdErrc::connection_lost:
            return "EPMD closed the connection";
        case EpmdErrc::bad_name:
            return "invalid node name";
        case EpmdErrc::address_in_use:
            return "address in use";
        case EpmdErrc::bad_address:
            return "invalid listen address";
        case EpmdErrc::cancelled:
            return "cancelled";
        case EpmdErrc::bad_extra:
            return "extra data too long";
    }
    return nullptr;
}

}  // namespace

const std::error_category& epmd_category() noexcept {
    static const ErrorCategory<EpmdErrc> category("distribute.epmd", message_of);
    return category;
}

std::error_code make_error_code(EpmdErrc e) noexcept {
    return {static_cast<int>(e), epmd_category()};
}

}  // namespace distribute
