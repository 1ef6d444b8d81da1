#include "otp/erpc_async.hpp"

#include <memory>

#include "otp/rpc_shapes.hpp"

namespace distribute::otp {

Reference request_erpc_call(node::Runtime& runtime, node::Process& from, Atom target,
                            const Term& res, Atom module, Atom function, const Term& args) {
    static const Atom erpc = Atom::make("erpc").value();
    static const Atom execute_call = Atom::make("execute_call").value();
    static const Atom monitor = Atom::make("monitor").value();
    // Errors only: the DOWN brings the result, and the caller is woken once, not twice.
    return runtime.spawn_request(from, target, erpc, execute_call,
                                 list(res, module, function, args), list(monitor), true);
}

void erpc_call_async(node::Runtime& runtime, Atom target, Atom module, Atom function,
                     std::vector<Term> args, std::function<void(Expected<Term, RpcError>)> done) {
    static const Atom spawn_reply = Atom::make("spawn_reply").value();
    const Reference res = runtime.make_ref();
    // The process does this one call, so whatever reaches it is the answer.
    auto handler = [res, target, module, function, done = std::move(done)](
                       const ProcessHandle& self, Term message) {
        if (message.is_tuple(4) && message[0].is_atom(spawn_reply)) {
            done(unexpected(spawn_error(message[3], target)));
        } else if (message.is_tuple(5) && message[0].is_atom(atoms::DOWN)) {
            done(read_erpc_down(Term(res), message[4], target, module, function));
        } else {
            return;
        }
        self.exit_self(Term(atoms::normal));
    };
    auto process = runtime.spawn(node::Process::Kind::handler, std::move(handler), false);
    (void)request_erpc_call(runtime, *process, target, Term(res), module, function,
                            list_from(args));
}

}  // namespace distribute::otp
