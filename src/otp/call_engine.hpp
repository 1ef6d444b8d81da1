// The one engine of gen's call protocol (OTP 25's gen:do_call and gen:send_request): how a call
// starts, which messages answer it, what an answer means, and how a call is given up. Every way
// of calling (blocking, request ids, coroutines, actors' callbacks, ping, stop) is a way of
// waiting on top of these; none of them knows the protocol's messages.
#pragma once

#include <optional>

#include "distribute/call.hpp"

namespace distribute::otp {

// Sends {Label, {Self, [alias | Ref]}, Request} to `server`, where Ref is a monitor on the
// server that is also an alias of `self` ({alias, demonitor}). A name service's name nobody has
// gives a request already answered: a 'DOWN' with noproc is queued to `self`, as
// gen:send_request fakes one. With `refuse_self`, a call of `self` itself is answered so too,
// with calling_self, as gen:call exits.
RequestId start_call(const ProcessHandle& self, const ServerRef& server, Atom label, Term request,
                     bool refuse_self);

// Whether `message` answers `id`: the reply, or the monitor's 'DOWN'.
bool answers(const RequestId& id, const Term& message);
// The reference of whichever request `message` answers, if it is an answer at all.
std::optional<Reference> answered(const Term& message);

// What an answer means. A reply also removes the monitor, with a 'DOWN' of it already queued
// (demonitor's flush). From the calling process only.
Expected<Term, CallError> outcome(const ProcessHandle& self, const RequestId& id,
                                  const Term& answer);

// Gives up on the request: its monitor and alias go, so nothing more of it arrives, and a
// 'DOWN' of it already queued is dropped. A reply that got in first is taken and returned (as
// gen's receive after a timeout still takes it).
std::optional<Term> abandon(const ProcessHandle& self, const RequestId& id);

CallError timeout_error();
CallError node_thread_error();
// A wait that failed other than by timing out: the caller was ended while it waited, or it may
// not wait on this thread.
CallError receive_failed(const ReceiveError& e);

}  // namespace distribute::otp
