// The registered processes a BEAM expects on every node it talks to, and the rpc server behind
// erpc calls.
#pragma once

#include <memory>

namespace distribute::node {
class Runtime;
}

namespace distribute::otp {

class RpcServer;

// Installs the rpc server (the node's SpawnService) with the built-in functions every node answers
// (builtins.hpp), and starts net_kernel and rex. Called once, before the node accepts peers.
void start_services(node::Runtime& runtime);

// net_kernel: answers is_auth, so net_adm:ping gives pong.
void start_net_kernel(node::Runtime& runtime);
// rex: features_request, and the old-style calls {call, M, F, A, GL} through `server`.
void start_rex(node::Runtime& runtime, std::shared_ptr<RpcServer> server);

}  // namespace distribute::otp
