// What a node runs to be a member of a cluster beyond its connections: its pg scopes and its
// global name server. One per node, installed by otp::start_services and found again through the
// runtime, as the rpc server is.
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "distribute/groups.hpp"
#include "node/runtime.hpp"

namespace distribute::otp {

class PgScope;
class GlobalServer;

class Membership final : public node::Services {
  public:
    explicit Membership(node::Runtime& runtime) : runtime_(runtime) {}

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

    void stop() override;

  private:
    node::Runtime& runtime_;
    mutable std::mutex mutex_;
    std::map<Atom, std::shared_ptr<PgScope>> scopes_;
    std::shared_ptr<GlobalServer> global_;
    bool stopped_ = false;
};

}  // namespace distribute::otp
