// The processes the demo node hosts, for people trying it from erl and for the benchmarks:
//   echo: {Pid, Msg} sends Msg back to Pid, whatever Msg is.
//   sink: {start, Pid, N} counts the next N messages, of any shape, then sends done to Pid.
//   kv: a key-value store with gen_server semantics (put, get, delete, keys; see demo_kv.cpp).
//   an echo in pg group `demo` (scope pg), and one registered globally as `demo_global`.
#pragma once

#include "distribute/node.hpp"

namespace distribute::cli {

// Spawns echo and sink and registers them, then everything below.
[[nodiscard]] Expected<void, NodeError> start_demo_services(Node& node);

// Registers the rpc module `demo` (demo_rpc.cpp lists its functions) in rpc_registry(node).
// Some of its functions refer to `node`, which must stay where it is (not be moved from) while
// it runs.
[[nodiscard]] Expected<void, NodeError> start_demo_rpc(Node& node);

// The echo processes of group `demo` and global name `demo_global`, and the pg and global
// functions of the rpc module `demo` (demo_membership.cpp lists them). `node` must stay where it
// is while it runs, as for start_demo_rpc.
[[nodiscard]] Expected<void, NodeError> start_demo_membership(Node& node);

// Spawns the actor `kv` (demo_kv.cpp: put, get, delete, keys by gen_server call; put by cast)
// and registers it.
[[nodiscard]] Expected<void, NodeError> start_demo_kv(Node& node);

}  // namespace distribute::cli
