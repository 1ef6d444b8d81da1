// What a BEAM operator asks about processes, answered about this node's C++ processes as a BEAM
// answers about its own: erlang:process_info/1,2, erlang:processes/0 and
// erlang:is_process_alive/1 (reached through rpc, erpc and rex as the other built-ins are), and
// the snapshot etop's collector (etop_backend.cpp) reads.
//
// What a C++ process has no counterpart for is answered honestly rather than made up:
//   - reductions: the messages it was given (exit signals and DOWNs that became messages
//     included), the work the BEAM's reductions mostly measure for a server;
//   - memory: an estimate in bytes of the runtime's structures for it (the process, its queued
//     messages' list nodes, its links, monitors and names), not the heap of its C++ object nor
//     its messages' term data;
//   - current_function: where it waits is not known, so the {M, F, A} of its kind or of its
//     actor's C++ type ({'ns::Counter', loop, 0});
//   - items the BEAM knows that have no C++ meaning (heap_size, messages, group_leader,
//     garbage_collection, ...): the value `undefined`. An item the BEAM does not know is badarg.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "distribute/rpc.hpp"
#include "node/runtime.hpp"

namespace distribute::otp {

struct ProcessSnapshot {
    Pid pid;
    std::optional<Atom> registered_name;
    Atom status;  // waiting or runnable
    std::size_t message_queue_len = 0;
    std::vector<Pid> links;
    std::vector<Term> monitors;  // {process, Pid} or {process, {Name, Node}}
    std::vector<Pid> monitored_by;
    bool trap_exit = false;
    Term initial_call;
    Term current_function;
    std::vector<std::pair<Term, Term>> dictionary;
    std::uint64_t reductions = 0;
    std::uint64_t memory = 0;
};

// What `process` is now; nullopt once it has ended.
std::optional<ProcessSnapshot> snapshot(node::Process& process);

// Every live process of the node, in pid order as erlang:processes/0 lists them.
std::vector<std::shared_ptr<node::Process>> processes_in_order(node::Runtime& runtime);

void register_process_info(node::Runtime& runtime, RpcRegistry& registry);

}  // namespace distribute::otp
