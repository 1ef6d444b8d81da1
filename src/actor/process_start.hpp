// What starting an actor and starting a supervisor share: a handler process, linked to its
// parent and registered under its name before its init runs, as gen:start does it; and the exit
// reasons an OTP process treats as clean.
#pragma once

#include <optional>
#include <string>
#include <typeinfo>

#include "distribute/actor.hpp"
#include "node/runtime.hpp"

namespace distribute::actor_detail {

// A handler process linked to `link_to` and registered as `name`: the handle, or why not
// (name_taken with {already_started, Pid}, not_running, init_failed when the parent is gone).
[[nodiscard]] Expected<ProcessHandle, StartError> spawn_linked(node::Runtime& runtime,
                                                               Node::Handler handler,
                                                               bool trap_exit,
                                                               std::optional<Pid> link_to,
                                                               std::optional<Atom> name);

// What process_info shows of an actor: its C++ type as the module of its current function and
// initial call ({'ns::Counter', loop, 0} and {'ns::Counter', init, 0}), so that an operator
// reading etop or process_info on the BEAM side can tell the actors apart.
void describe_actor(const ProcessHandle& process, const std::type_info& type);

// Ends a process whose init failed: its name goes first, as gen:unregister_name before
// proc_lib:init_ack, so that a restart at once does not find it taken.
void abandon(const ProcessHandle& process, std::optional<Atom> name, Term reason);

// The reason the process ended with (it must have ended).
Term exit_reason(const ProcessHandle& process);

// normal, shutdown and {shutdown, _}: no error report, and no restart of a transient child.
bool clean_exit(const Term& reason);

// {cpp_exception, <<"what()">>}: the reason of a callback that threw.
Term exception_reason(const char* what);

// A description of the process for log lines: its name when it has one, else its pid.
std::string describe(const Pid& pid, std::optional<Atom> name);

}  // namespace distribute::actor_detail
