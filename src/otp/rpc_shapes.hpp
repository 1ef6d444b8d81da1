// The terms erpc, rpc and gen put on the wire for results and failures, built and read without
// any I/O: what our functions' results become for a BEAM caller, and what a BEAM's answers mean
// for a C++ caller. The shapes follow OTP 25's erpc.erl, rpc.erl and gen.erl.
#pragma once

#include <cstddef>

#include "distribute/rpc.hpp"
#include "distribute/term.hpp"

namespace distribute::otp {

// [{Module, Function, ArgsOrArity, []}]: a stacktrace of one frame without a location.
Term one_frame_stack(Atom module, Atom function, Term args_or_arity);

// The exception a BEAM raises for a function it does not have: error undef, with the arguments
// (not the arity) in the frame.
RpcRaise undef_raise(Atom module, Atom function, const Term& args);

// An error without a stack gets the one a BEAM would show for Module:Function/Arity raising it.
RpcResult with_stack(RpcResult result, Atom module, Atom function, std::size_t arity);

// How the process erpc:execute_call/4 spawned ends, which its caller reads as the result:
// {Res, return, V}, {Res, throw, V}, {Res, exit, R} or {Res, error, R, Stack}.
Term erpc_call_reason(const Term& res, const RpcResult& result);

// How the process of erpc:execute_cast/3 ends: normal, or what an uncaught exception there ends
// a BEAM process with.
Term erpc_cast_reason(const RpcResult& result);

// What rex answers an old-style {call, M, F, A, GL} with (rpc.erl's execute_call/3): the value,
// a thrown value as is, {badrpc, {'EXIT', R}} for exit, {badrpc, {'EXIT', {R, Stack}}} for error.
Term rex_reply(const RpcResult& result);

// The outcome of a call made through rex (to a peer without SPAWN), from what rex answered: the
// inverse of rex_reply. A thrown value comes back as a value, as rpc:call gives it; {badrpc,
// {'EXIT', {Reason, Stack}}} is an error (undef when the stack starts at Module:Function),
// {badrpc, {'EXIT', Reason}} an exit, {badrpc, nodedown} a lost node.
Expected<Term, RpcError> read_rex_reply(const Term& reply, Atom node, Atom module, Atom function);

// The outcome of an erpc call, from the reason of the DOWN that ends it (see erpc_call_reason).
// `res` is the call's result reference; other reasons mean the process died on its own.
Expected<Term, RpcError> read_erpc_down(const Term& res, const Term& reason, Atom node, Atom module,
                                        Atom function);
// {spawn_reply, ReqId, error, Reason}: the node refused, or could not be reached.
RpcError spawn_error(const Term& reason, Atom node);
RpcError rpc_timeout(Atom node);

// A gen_server call ended by the monitor's DOWN with `reason`, as gen:do_call reads it.
CallError call_down_error(const Term& reason, Atom node);

}  // namespace distribute::otp
