// The supervisor's error category (SupervisorErrc) and start_failure.
#include "distribute/error.hpp"
#include "distribute/supervisor.hpp"

namespace distribute {

namespace {

const char* message_of(SupervisorErrc e) noexcept {
    switch (e) {
        case SupervisorErrc::start_failed:
            return "the child failed to start";
        case SupervisorErrc::already_present:
            return "a child with that id exists (not running)";
        case SupervisorErrc::already_started:
            return "a child with that id is running";
        case SupervisorErrc::not_found:
            return "no such child";
        case SupervisorErrc::running:
            return "the child is running";
        case SupervisorErrc::restarting:
            return "the child is being restarted";
        case SupervisorErrc::simple_one_for_one:
            return "not for a simple_one_for_one or dynamic supervisor";
        case SupervisorErrc::max_children:
            return "the supervisor has its maximum number of children";
        case SupervisorErrc::bad_spec:
            return "invalid child spec";
        case SupervisorErrc::unreachable:
            return "the supervisor could not be called";
        case SupervisorErrc::bad_reply:
            return "the supervisor's reply is not one a supervisor gives";
    }
    return nullptr;
}

}  // namespace

const std::error_category& supervisor_category() noexcept {
    static const ErrorCategory<SupervisorErrc> category("distribute.supervisor", message_of);
    return category;
}

std::error_code make_error_code(SupervisorErrc e) noexcept {
    return {static_cast<int>(e), supervisor_category()};
}

SupervisorError start_failure(Term reason) {
    return SupervisorError{SupervisorErrc::start_failed,
                           "the child failed to start: " + to_string(reason), std::move(reason)};
}

}  // namespace distribute
