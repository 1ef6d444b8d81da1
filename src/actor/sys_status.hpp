// What actors and supervisors (both gen_servers to sys) answer alike: sys:get_status's reply as
// gen_server builds it, and sys's error for a state callback that failed.
#pragma once

#include <string>
#include <vector>

#include "actor/sys_debug.hpp"
#include "distribute/mailbox.hpp"
#include "node/process.hpp"

namespace distribute::actor_detail {

// The process dictionary tools see, [{Key, Value}, ...]: proc_lib's entries ($ancestors,
// $initial_call) of an actor or a supervisor. The caller holds the process's mutex.
Term dictionary_of(const node::Process& process);

// {status, Pid, {module, gen_server}, [PDict, SysState, Parent, Debug, Misc]}, Misc being
// [{header, "Status for generic server Who"}, {data, [Status, Parent, Logged events]},
// {data, [{"State", State}]} | more].
Term gen_server_status(const ProcessHandle& self, const std::string& who, bool suspended,
                       const Term& parent, const SysDebug& debug, const Term& state,
                       const std::vector<Term>& more = {});

// {error, {callback_failed, {gen_server, Callback}, {error, Reason}}}: sys's reply when the state
// callback of a gen_server fails.
Term callback_failed(const char* callback, const Term& reason);

// A string as Erlang code writes one: a charlist (a binary when it cannot be one).
Term text_term(const std::string& s);

}  // namespace distribute::actor_detail
