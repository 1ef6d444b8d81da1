// The {system, From, Request} messages of sys (OTP 25, sys.erl's send_system_msg: a gen call
// labelled `system`), as actors and supervisors receive them, and the reply sys expects for a
// request the process does not serve.
#pragma once

#include <optional>

#include "distribute/actor.hpp"

namespace distribute::actor_detail {

struct SystemMessage {
    // Replies take gen's reply path, as any call's. Unset when From held no pid: nobody can be
    // answered, and the message is ignored.
    From from;
    Term request;
};

// The system message in `message`, if it is one; `self` is the process it came to.
std::optional<SystemMessage> system_message(const ProcessHandle& self, const Term& message);

// {error, {unknown_system_msg, Request}}: sys's reply to a request it does not know.
Term unknown_system_msg(const Term& request);

}  // namespace distribute::actor_detail
