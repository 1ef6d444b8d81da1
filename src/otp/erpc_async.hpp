// erpc:call made without waiting on any thread: for the services of this node (global's resolver
// asks another node to resolve a name clash) that run as handlers. The request is erpc's own, the
// one rpc() makes: SPAWN_REQUEST of erpc:execute_call/4 with a monitor whose DOWN carries the
// result.
#pragma once

#include <functional>
#include <vector>

#include "distribute/rpc.hpp"
#include "node/runtime.hpp"

namespace distribute::otp {

// Sends erpc's spawn request for Module:Function(Args) on `target` from `from`, tagging the
// result with `res`: the spawn reply (errors only) and the DOWN come to `from`, under the
// request id returned.
Reference request_erpc_call(node::Runtime& runtime, node::Process& from, Atom target,
                            const Term& res, Atom module, Atom function, const Term& args);

// The call from a process of its own, which ends once `done` has run (on one of the node's
// threads) with the result. No timeout: the call ends when the remote function returns, raises,
// or its node goes down.
void erpc_call_async(node::Runtime& runtime, Atom target, Atom module, Atom function,
                     std::vector<Term> args, std::function<void(Expected<Term, RpcError>)> done);

}  // namespace distribute::otp
