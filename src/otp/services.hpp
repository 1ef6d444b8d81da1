// The registered processes a BEAM expects on every node it talks to, the rpc server behind erpc
// calls, and the membership services: global_name_server (visible nodes) and the pg scope.
#pragma once

#include <chrono>
#include <memory>

#include "distribute/term.hpp"

namespace distribute::node {
class Runtime;
}

namespace distribute::otp {

class RpcServer;

// Installs the rpc server (the node's SpawnService) with the built-in functions every node answers
// (builtins.hpp), and starts net_kernel and rex, global and the default pg scope. Called once,
// before the node accepts peers.
void start_services(node::Runtime& runtime);

// net_kernel: answers is_auth, so net_adm:ping gives pong.
void start_net_kernel(node::Runtime& runtime);
// net_adm:ping from this node: a gen call to `node`'s net_kernel, true for yes. Blocking: from a
// plain thread or the worker pool, never a node thread.
bool ping(node::Runtime& runtime, Atom node, std::chrono::milliseconds timeout);
// rex: features_request, and the old-style calls {call, M, F, A, GL} through `server`.
void start_rex(node::Runtime& runtime, std::shared_ptr<RpcServer> server);

}  // namespace distribute::otp
