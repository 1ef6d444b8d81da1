// An erpc call in flight, as erpc:send_request/4 makes one: a SPAWN_REQUEST for
// erpc:execute_call/4 with a monitor, whose 'DOWN' carries the result (a {spawn_reply, ...}
// error when the spawn was refused). A peer that does not offer SPAWN (erl_interface and
// JInterface nodes, which serve rpc through a rex of their own) refuses it with notsup, and the
// request then goes on as a gen call, through the call engine, to {rex, Node} with rpc.erl's
// {call, M, F, A, user}. A call to this node itself runs the registered function and sends the
// result, in the same shape as the 'DOWN' reason, to an alias of the caller, so that one given up
// on is dropped as a late gen reply is.
#pragma once

#include <optional>
#include <vector>

#include "distribute/call.hpp"
#include "distribute/rpc.hpp"

namespace distribute::otp {

struct ErpcRequest {
    Reference ref;  // the spawn request's id (the monitor's), or the alias of a local call
    Term res;       // the reference erpc:execute_call/4 tags the result with
    Atom target;
    Atom module;
    Atom function;
    Term args;  // the argument list, for a call that goes through rex after all
    bool local = false;
    std::optional<RequestId> through_rex;  // the gen call to rex, once the spawn was not offered
};

ErpcRequest start_erpc(const ProcessHandle& self, Atom target, Atom module, Atom function,
                       std::vector<Term> args);
bool answers(const ErpcRequest& request, const Term& message);
// What an answer means; a local call's alias goes with it. Nullopt when the answer only sent
// the request on through rex (the peer has no SPAWN): wait again for the next answer.
std::optional<Expected<Term, RpcError>> outcome(const ProcessHandle& self, ErpcRequest& request,
                                                const Term& answer);
// Gives up on the request: its spawn, monitor or alias go, and answers already queued are
// dropped; the remote process is left to finish, as erpc leaves it.
void abandon(const ProcessHandle& self, const ErpcRequest& request);

}  // namespace distribute::otp
