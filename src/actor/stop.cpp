// gen_server:stop/3 from C++, as proc_lib:stop/3 does it: monitor the process, ask it to
// terminate through sys (a gen call labelled `system`, on the call engine), then wait for the
// monitor's 'DOWN'.
#include "distribute/actor.hpp"
#include "node/runtime.hpp"
#include "otp/call_engine.hpp"

namespace distribute {

Expected<void, CallError> stop_process(Node& node, const Pid& process, Term reason,
                                       std::chrono::milliseconds timeout) {
    static const Atom system = Atom::make("system").value();
    static const Atom terminate = Atom::make("terminate").value();
    if (node::on_node_thread()) return unexpected(otp::node_thread_error());
    Mailbox me = node.open_mailbox();
    const Reference monitor = me.monitor(process);
    const bool forever = timeout == infinity_timeout;
    const auto deadline =
        std::chrono::steady_clock::now() + (forever ? std::chrono::hours(0) : timeout);
    auto left = [&] {
        if (forever) return infinity_timeout;
        auto rest = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        return std::max(rest, std::chrono::milliseconds(0));
    };

    const RequestId asked =
        otp::start_call(me, ServerRef(process), system, tuple(terminate, reason), false);
    auto answered = receive_response(me, asked, left());
    // Ended before it answered: the monitor's 'DOWN' says with what.
    if (!answered && answered.error().code != CallErrc::exited) {
        me.demonitor(monitor);
        return unexpected(std::move(answered).error());
    }
    auto down = me.receive_if(
        [&](const Term& t) {
            return t.is_tuple(5) && t[0].is_atom(atoms::DOWN) && t[1] == Term(monitor);
        },
        left());
    if (!down) {
        me.demonitor(monitor);
        return unexpected(otp::timeout_error());
    }
    if ((*down)[4] == reason) return {};
    return unexpected(CallError{
        CallErrc::exited, (*down)[4],
        "it ended with " + to_string((*down)[4]) + ", not " + to_string(reason), std::nullopt});
}

}  // namespace distribute
