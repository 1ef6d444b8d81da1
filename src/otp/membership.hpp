// What a node runs to be a member of a cluster beyond its connections: its pg scopes, its
// global name server, and what it has learned of its peers' releases. One per node, installed by
// otp::start_services and found again through the runtime, as the rpc server is.
#pragma once

#include <chrono>

#include <map>
#include <memory>
#include <mutex>

#include "distribute/groups.hpp"
#include "node/runtime.hpp"
#include "otp/peer_release.hpp"

namespace distribute::otp {

class PgScope;
class GlobalServer;

class Membership final : public node::Services {
  public:
    explicit Membership(node::Runtime& runtime) : runtime_(runtime), peer_releases_(runtime) {
        peer_releases_.start();
    }

    // The membership of `runtime`; throws std::logic_error for a runtime without one.
    static Membership& of(node::Runtime& runtime);

    // The scope `name`, started now unless it runs already.
    [[nodiscard]] Expected<std::shared_ptr<PgScope>, GroupsError> start_scope(Atom name,
                                                                              ScopeOptions options);
    std::shared_ptr<PgScope> scope(Atom name) const;

    // Starts global_name_server (visible nodes only: hidden ones take no part in global).
    void start_global();
    // Null on a hidden node.
    std::shared_ptr<GlobalServer> global() const;

    PeerReleases& peer_releases() { return peer_releases_; }

    // A leaving node's first steps (Cluster::leave), as its processes' exits would do them: every
    // local member leaves its groups in every scope; then each global name a process of this node
    // holds is unregistered, one after the other, waiting for each (at most `timeout` each: the
    // global lock may be held by a merge). Blocking: from a plain thread only.
    void leave_local_groups();
    void release_local_names(std::chrono::milliseconds timeout);

    void stop() override;

  private:
    node::Runtime& runtime_;
    mutable std::mutex mutex_;
    std::map<Atom, std::shared_ptr<PgScope>> scopes_;
    std::shared_ptr<GlobalServer> global_;
    bool stopped_ = false;
    PeerReleases peer_releases_;
};

}  // namespace distribute::otp
