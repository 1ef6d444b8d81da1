// The functions every BEAM node answers, which tools call on any node of a cluster: erl_call
// -a 'erlang node', rpc:multicall(nodes(), erlang, system_info, [otp_release]), monitoring
// scripts. They are registered in the node's RpcRegistry at start-up, so rpc, erpc and rex all
// reach them, and answer with the values a BEAM gives (a hidden one: every connection of this
// node is hidden, as on a BEAM started with -hidden):
//   erlang:node/0, erlang:nodes/0,1, erlang:registered/0, erlang:whereis/1,
//   erlang:is_alive/0, erlang:system_info/1 (the keys below), erlang:statistics/1 (wall_clock,
//   runtime, io), erlang:memory/0,1 (total only: the resident set), net_adm:ping/1; and
//   distribute:stats/0, Node::stats() as a map, which only our nodes answer.
// Bad arguments raise error badarg, as those BIFs do. Everything else stays undef.
#pragma once

#include "distribute/rpc.hpp"

namespace distribute::node {
class Runtime;
}

namespace distribute::otp {

// system_info/1 keys answered: otp_release (the release whose distribution protocol this node
// requires of peers), version and system_version (this library's), machine, wordsize,
// {wordsize, internal | external}, creation, process_count, atom_count, atom_limit, schedulers,
// schedulers_online, logical_processors, logical_processors_online,
// logical_processors_available.
void register_builtins(node::Runtime& runtime, RpcRegistry& registry);

// What an erlang BIF raises for an argument it does not take: error badarg, with the frame (and
// error_info) that lets the caller's shell explain it.
Unexpected<RpcRaise> bif_badarg(Atom function, std::span<const Term> args);

// The resident set of this OS process, in bytes: what erlang:memory(total) answers here. The
// BEAM's other memory types (processes, binary, ets, atom...) have no counterpart to measure.
std::optional<std::int64_t> resident_bytes();

// What distribute:stats/0 answers: the counters as a map with atom keys (those of NodeStats and,
// under `connections`, a list of maps with those of ConnectionStats; since_last_received in
// since_last_received_ms).
Term stats_to_term(const NodeStats& stats);

}  // namespace distribute::otp
