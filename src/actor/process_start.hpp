// What starting an actor and starting a supervisor share: a handler process, linked to its
// parent and registered under its name before its init runs, as gen:start does it; and the exit
// reasons an OTP process treats as clean.
#pragma once

#include <optional>
#include <string>

#include "distribute/actor.hpp"
#include "node/runtime.hpp"

namespace distribute::actor_detail {

// How a process is started: its flags, parent and name, and what its '$initial_call' says.
struct StartSpec {
    bool trap_exit = false;
    std::optional<Pid> link_to;
    std::optional<Atom> name;
    // The process that asked for it when that is not `link_to` (spawn_actor(handle, ...)): the
    // first of its '$ancestors' when there is no link_to.
    std::optional<Pid> spawner;
    Term initial_call;
};

// A handler process linked to `link_to`, registered as `name`, with proc_lib's dictionary
// entries for tools (node::OtpInfo): the handle, or why not (name_taken with
// {already_started, Pid}, not_running, init_failed when the parent is gone).
[[nodiscard]] Expected<ProcessHandle, StartError> spawn_linked(node::Runtime& runtime,
                                                               Node::Handler handler,
                                                               const StartSpec& spec);

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
