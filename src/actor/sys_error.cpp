// What a sys hook's refusal says (SysErrc, include/distribute/actor.hpp).
#include "distribute/actor.hpp"

namespace distribute {
namespace {

const char* message_of(SysErrc e) noexcept {
    switch (e) {
        case SysErrc::not_supported:
            return "the actor has no such sys hook";
        case SysErrc::refused:
            return "the sys hook refused";
    }
    return nullptr;
}

}  // namespace

const std::error_category& sys_category() noexcept {
    static const ErrorCategory<SysErrc> category("distribute.sys", message_of);
    return category;
}

std::error_code make_error_code(SysErrc e) noexcept {
    return {static_cast<int>(e), sys_category()};
}

}  // namespace distribute
