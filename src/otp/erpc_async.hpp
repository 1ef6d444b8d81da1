// erpc:call made without waiting on any thread: for the services of this node (global's resolver
// asks another node to resolve a name clash) that run as handlers. The request is the one every
// erpc call makes (erpc_request.hpp), from a process of its own.
#pragma once

#include <functional>
#include <vector>

#include "distribute/rpc.hpp"
#include "node/runtime.hpp"

namespace distribute::otp {

// The call from a process of its own, which ends once `done` has run (on one of the node's
// threads) with the result. No timeout: the call ends when the remote function returns, raises,
// or its node goes down.
void erpc_call_async(node::Runtime& runtime, Atom target, Atom module, Atom function,
                     std::vector<Term> args, std::function<void(Expected<Term, RpcError>)> done);

}  // namespace distribute::otp
