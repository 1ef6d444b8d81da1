// Serving rpc: erpc calls and casts arrive as SPAWN_REQUEST for erpc:execute_call/4 and
// erpc:execute_cast/3. Each gets a process of its own, as on a BEAM, whose end carries the result
// to the caller's monitor; the function itself is looked up in the node's RpcRegistry. rex uses
// the same dispatch for the old-style calls.
#pragma once

#include <functional>
#include <vector>

#include "distribute/rpc.hpp"
#include "node/runtime.hpp"
#include "otp/remote_work.hpp"

namespace distribute::otp {

class RpcServer final : public node::SpawnService {
  public:
    explicit RpcServer(node::Runtime& runtime) : runtime_(runtime) {}

    // The server of `runtime`, which otp::start_services installs on every node.
    static RpcServer& of(node::Runtime& runtime);

    void on_spawn_request(node::Connection& from, wire::SpawnRequest&& request) override;
    void stop() override;

    RpcRegistry& registry() { return registry_; }

    // Runs Module:Function(Args) as registered, or raises undef as a BEAM does. `done` gets the
    // result, stack filled in, exactly once: on a worker thread, a node thread, or at once on
    // this one (undef). It must not block.
    using Done = std::function<void(RpcResult)>;
    void dispatch(Atom module, Atom function, std::vector<Term> args, Done done);

    // A call or cast that `peer` starts here (`what`, for the log line): the ticket to hold
    // until it ends, or empty (and a warning logged) when the peer is at
    // NodeLimits::max_remote_calls_per_peer.
    RemoteWork::Ticket begin_remote_work(Atom peer, const std::string& what);

  private:
    void serve(node::Connection& from, const wire::SpawnRequest& request, bool call);

    node::Runtime& runtime_;  // owns this server
    RpcRegistry registry_;
    std::shared_ptr<RemoteWork> remote_work_ = std::make_shared<RemoteWork>();
};

}  // namespace distribute::otp
