#include "otp/erpc_async.hpp"

#include <memory>
#include <optional>

#include "otp/erpc_request.hpp"

namespace distribute::otp {

void erpc_call_async(node::Runtime& runtime, Atom target, Atom module, Atom function,
                     std::vector<Term> args, std::function<void(Expected<Term, RpcError>)> done) {
    struct State {
        Atom target, module, function;
        std::vector<Term> args;
        std::function<void(Expected<Term, RpcError>)> done;
        std::optional<ErpcRequest> request;
    };
    static const Atom start = Atom::make("$distribute_erpc_start").value();
    auto state = std::make_shared<State>(
        State{target, module, function, std::move(args), std::move(done), std::nullopt});
    // The request is made by the process itself (its first message), so that no answer can
    // reach it before it knows what it asked.
    auto handler = [state](const ProcessHandle& self, Term message) {
        if (!state->request) {
            if (!message.is_atom(start)) return;
            state->request = start_erpc(self, state->target, state->module, state->function,
                                        std::move(state->args));
            return;
        }
        if (!answers(*state->request, message)) return;
        auto result = outcome(self, *state->request, message);
        if (!result) return;  // sent on through rex: the next answer is the one
        state->done(std::move(*result));
        self.exit_self(Term(atoms::normal));
    };
    auto process = runtime.spawn_handler(std::move(handler), false);
    runtime.send(*process, process->pid, Term(start));
}

}  // namespace distribute::otp
