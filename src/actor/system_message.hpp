// The {system, From, Request} messages of sys (OTP 25, sys.erl's send_system_msg: a gen call
// labelled `system`), as actors and supervisors receive them, the requests sys sends (do_cmd's
// clauses, read here once for both), and the reply sys expects for a request a process does not
// serve.
#pragma once

#include <optional>

#include "distribute/actor.hpp"

namespace distribute::actor_detail {

// What sys asks.
enum class SysRequest {
    terminate,      // {terminate, Reason}: arg = Reason
    suspend,        // suspend
    resume,         // resume
    get_state,      // get_state
    replace_state,  // {replace_state, StateFun}: arg = StateFun
    get_status,     // get_status
    debug,          // {debug, What}: arg = What
    change_code,    // {change_code, Module, OldVsn, Extra}: arg = OldVsn, extra = Extra
    unknown,        // anything else: answer unknown_system_msg(request)
};

struct SystemMessage {
    // Replies take gen's reply path, as any call's. Unset when From held no pid: nobody can be
    // answered, and the message is ignored.
    From from;
    Term request;
    SysRequest kind = SysRequest::unknown;
    Term arg;
    Term extra;
};

// The system message in `message`, if it is one; `self` is the process it came to.
std::optional<SystemMessage> system_message(const ProcessHandle& self, const Term& message);

// {error, {unknown_system_msg, Request}}: sys's reply to a request it does not know (change_code
// included, unless the process is suspended).
Term unknown_system_msg(const Term& request);

}  // namespace distribute::actor_detail
