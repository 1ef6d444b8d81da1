#include "otp/membership.hpp"

#include <future>
#include <stdexcept>

#include "otp/global_registrar.hpp"
#include "otp/global_server.hpp"
#include "otp/pg_scope.hpp"

namespace distribute::otp {

Membership& Membership::of(node::Runtime& runtime) {
    auto* membership = dynamic_cast<Membership*>(runtime.services());
    if (membership == nullptr) throw std::logic_error("this node runs no membership services");
    return *membership;
}

Expected<std::shared_ptr<PgScope>, GroupsError> Membership::start_scope(Atom name,
                                                                        ScopeOptions options) {
    std::unique_lock lock(mutex_);
    if (stopped_ || runtime_.stopped())
        return unexpected(GroupsError{GroupsErrc::not_running, "the node has stopped"});
    if (auto it = scopes_.find(name); it != scopes_.end()) return it->second;
    auto scope = std::make_shared<PgScope>(runtime_, name, options);
    if (auto started = scope->start(); !started) return unexpected(started.error());
    scopes_.emplace(name, scope);
    return scope;
}

std::shared_ptr<PgScope> Membership::scope(Atom name) const {
    std::unique_lock lock(mutex_);
    auto it = scopes_.find(name);
    return it == scopes_.end() ? nullptr : it->second;
}

void Membership::start_global() {
    auto server = std::make_shared<GlobalServer>(runtime_);
    server->start();
    // {global, Name} in calls, casts and checked sends.
    runtime_.set_name_resolver(Atom::make("global").value(),
                               [weak = std::weak_ptr<GlobalServer>(server)](const Term& name) {
                                   auto global = weak.lock();
                                   return global ? global->whereis(name) : std::nullopt;
                               });
    std::unique_lock lock(mutex_);
    global_ = std::move(server);
}

void Membership::leave_local_groups() {
    std::vector<std::shared_ptr<PgScope>> scopes;
    {
        std::unique_lock lock(mutex_);
        for (auto& [name, scope] : scopes_)
            scopes.push_back(scope);
    }
    for (auto& scope : scopes)
        for (const Term& group : scope->which_local_groups()) {
            const std::vector<Pid> pids = scope->local_members(group);
            (void)scope->leave(group, pids);
        }
}

void Membership::release_local_names(std::chrono::milliseconds timeout) {
    auto server = global();
    if (!server) return;
    for (const Term& name : server->registered_names()) {
        auto pid = server->whereis(name);
        auto registrar = server->registrar();
        if (!pid || !runtime_.is_local(pid->node) || !registrar) continue;
        auto done = std::make_shared<std::promise<void>>();
        auto finished = done->get_future();
        // Runs on a node thread of this runtime, which outlives the wait.
        registrar->unregister_name(name, [this, name, done](Expected<void, GlobalError> result) {
            if (!result)
                runtime_.log(LogLevel::warning,
                             "global: releasing " + to_string(name) +
                                 " while leaving failed: " + result.error().detail);
            done->set_value();
        });
        done.reset();
        if (finished.wait_for(timeout) != std::future_status::ready)
            runtime_.log(LogLevel::warning,
                         "global: " + to_string(name) + " was not released in time while leaving");
    }
}

std::shared_ptr<GlobalServer> Membership::global() const {
    std::unique_lock lock(mutex_);
    return global_;
}

void Membership::stop() {
    peer_releases_.stop();
    std::map<Atom, std::shared_ptr<PgScope>> scopes;
    std::shared_ptr<GlobalServer> global;
    {
        std::unique_lock lock(mutex_);
        stopped_ = true;
        scopes = scopes_;
        global = global_;
    }
    for (auto& [name, scope] : scopes)
        scope->stop();
    if (global) global->stop();
}

}  // namespace distribute::otp
