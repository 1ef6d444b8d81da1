// net_kernel: net_adm:ping sends it {'$gen_call', {From, Tag}, {is_auth, Node}} and wants yes;
// Node::ping asks another node's the same.
#include "distribute/call.hpp"
#include "node/access.hpp"
#include "node/runtime.hpp"
#include "otp/gen.hpp"
#include "otp/services.hpp"

namespace distribute::otp {

namespace {

void net_kernel(const ProcessHandle& self, const Term& message) {
    static const Atom is_auth = Atom::make("is_auth").value();
    static const Atom yes = Atom::make("yes").value();
    auto call = parse_gen_call(message);
    if (call && call->request.is_tuple(2) && call->request[0].is_atom(is_auth))
        gen_reply(self, call->caller, call->tag, Term(yes));
}

}  // namespace

void start_net_kernel(node::Runtime& runtime) {
    auto process = runtime.spawn_handler(net_kernel, false);
    if (!runtime.register_name(Atom::make("net_kernel").value(), process->pid))
        runtime.log(LogLevel::error, "cannot register net_kernel");
}

bool ping(node::Runtime& runtime, Atom node, std::chrono::milliseconds timeout) {
    static const Atom net_kernel = Atom::make("net_kernel").value();
    static const Atom is_auth = Atom::make("is_auth").value();
    static const Atom yes = Atom::make("yes").value();
    if (runtime.is_local(node)) return true;
    Mailbox self(runtime.spawn_mailbox());
    auto answer = call(self, ServerRef(net_kernel, node), tuple(is_auth, runtime.name()), timeout);
    return answer && answer->is_atom(yes);
}

}  // namespace distribute::otp

namespace distribute {

bool Node::ping(Atom node, std::chrono::milliseconds timeout) {
    return otp::ping(node::Access::runtime(*this), node, timeout);
}

}  // namespace distribute
