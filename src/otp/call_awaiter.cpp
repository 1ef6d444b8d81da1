// Gen calls from coroutine processes: the call's answer is a message the coroutine waits for,
// suspended, with the call's deadline as the wait's.
#include "distribute/call.hpp"
#include "otp/call_engine.hpp"

namespace distribute {

CallAwaiter::CallAwaiter(const CoProcess& self, RequestId id, std::chrono::milliseconds timeout,
                         bool abandon_on_timeout)
    : Wait(self, coroutine_detail::deadline_after(timeout)),
      self_(self),
      id_(std::move(id)),
      abandon_on_timeout_(abandon_on_timeout) {}

bool CallAwaiter::accepts(const Term& message) {
    return otp::answers(id_, message);
}

Expected<Term, CallError> CallAwaiter::await_resume() {
    if (outcome()) return otp::outcome(self_, id_, *outcome());
    if (abandon_on_timeout_)
        if (auto late = otp::abandon(self_, id_)) return otp::outcome(self_, id_, *late);
    return unexpected(otp::timeout_error());
}

CallAwaiter call(const CoProcess& self, const ServerRef& server, Term request,
                 std::chrono::milliseconds timeout) {
    return CallAwaiter(self,
                       otp::start_call(self, server, atoms::gen_call, std::move(request), true),
                       timeout, true);
}

CallAwaiter receive_response(const CoProcess& self, const RequestId& id,
                             std::chrono::milliseconds timeout) {
    return CallAwaiter(self, id, timeout, true);
}

}  // namespace distribute
