// The public face of pg scopes (groups.hpp): Groups reads and changes a scope of this node,
// GroupPool picks members of a group and calls them with failover.
#include "distribute/groups.hpp"

#include <sodium.h>

#include "node/access.hpp"
#include "otp/membership.hpp"
#include "otp/pg_scope.hpp"

namespace distribute {

namespace {

const char* message_of(GroupsErrc e) noexcept {
    switch (e) {
        case GroupsErrc::not_local:
            return "not a process of this node";
        case GroupsErrc::not_joined:
            return "not in the group";
        case GroupsErrc::no_scope:
            return "no such scope";
        case GroupsErrc::name_taken:
            return "the scope's name is registered for another process";
        case GroupsErrc::not_running:
            return "the node is not running";
    }
    return nullptr;
}

}  // namespace

const std::error_category& groups_category() noexcept {
    static const ErrorCategory<GroupsErrc> category("distribute.groups", message_of);
    return category;
}

std::error_code make_error_code(GroupsErrc e) noexcept {
    return {static_cast<int>(e), groups_category()};
}

std::optional<GroupEvent> parse_group_event(const Term& message) {
    static const Atom join = Atom::make("join").value();
    static const Atom leave = Atom::make("leave").value();
    if (!message.is_tuple(4)) return std::nullopt;
    auto ref = message[0].to<Reference>();
    auto pids = message[3].to<std::vector<Pid>>();
    const bool joined = message[1].is_atom(join);
    if (!ref || !pids || !(joined || message[1].is_atom(leave))) return std::nullopt;
    return GroupEvent{*ref, joined, message[2], std::move(*pids)};
}

Atom Groups::scope() const {
    return scope_->name();
}

Expected<void, GroupsError> Groups::join(const Term& group, const Pid& pid) const {
    return scope_->join(group, std::span<const Pid>(&pid, 1));
}

Expected<void, GroupsError> Groups::join(const Term& group, std::span<const Pid> pids) const {
    return scope_->join(group, pids);
}

Expected<void, GroupsError> Groups::leave(const Term& group, const Pid& pid) const {
    return scope_->leave(group, std::span<const Pid>(&pid, 1));
}

Expected<void, GroupsError> Groups::leave(const Term& group, std::span<const Pid> pids) const {
    return scope_->leave(group, pids);
}

std::vector<Pid> Groups::members(const Term& group) const {
    return scope_->members(group);
}

std::vector<Pid> Groups::local_members(const Term& group) const {
    return scope_->local_members(group);
}

std::vector<Term> Groups::which_groups() const {
    return scope_->which_groups();
}

std::vector<Term> Groups::which_local_groups() const {
    return scope_->which_local_groups();
}

ScopeSnapshot Groups::monitor_scope(const Pid& subscriber) const {
    return scope_->monitor_scope(subscriber);
}

GroupSnapshot Groups::monitor(const Pid& subscriber, const Term& group) const {
    return scope_->monitor_group(subscriber, group);
}

bool Groups::demonitor(const Reference& ref) const {
    return scope_->demonitor(ref);
}

std::size_t Groups::broadcast(const ProcessHandle& from, const Term& group,
                              const Term& message) const {
    const auto members = scope_->members(group);
    for (const Pid& member : members)
        from.send(member, message);
    return members.size();
}

Expected<Groups, GroupsError> groups(Node& node, Atom scope) {
    auto& runtime = node::Access::runtime(node);
    if (runtime.stopped())
        return unexpected(GroupsError{GroupsErrc::not_running, "the node has stopped"});
    auto found = otp::Membership::of(runtime).scope(scope);
    if (!found)
        return unexpected(GroupsError{
            GroupsErrc::no_scope, "no scope " + std::string(scope.name()) + " runs on this node"});
    return Groups(std::move(found));
}

Expected<Groups, GroupsError> start_scope(Node& node, Atom scope, ScopeOptions options) {
    auto started = otp::Membership::of(node::Access::runtime(node)).start_scope(scope, options);
    if (!started) return unexpected(started.error());
    return Groups(std::move(*started));
}

// ---------------------------------------------------------------------------------------------
// Pools

GroupPool::GroupPool(Groups groups, Term group, Pick pick)
    : groups_(std::move(groups)),
      group_(std::move(group)),
      pick_(pick),
      turn_(std::make_shared<std::atomic<std::uint64_t>>(0)) {}

std::optional<Pid> GroupPool::pick(const Term& key) const {
    return pick_from(groups_.members(group_), key);
}

std::optional<Pid> GroupPool::pick_from(std::vector<Pid> members, const Term& key) const {
    if (members.empty()) return std::nullopt;
    switch (pick_) {
        case Pick::random:
            return members[randombytes_uniform(static_cast<std::uint32_t>(members.size()))];
        case Pick::round_robin: {
            // Every caller sees the members in the same order, so turns go round them evenly.
            std::sort(members.begin(), members.end());
            return members[turn_->fetch_add(1, std::memory_order_relaxed) % members.size()];
        }
        case Pick::hash: {
            // The member with the highest hash of (key, member) wins: a member leaving moves only
            // its own keys, and every node picks alike.
            const Pid* best = nullptr;
            std::size_t best_score = 0;
            for (const Pid& member : members) {
                const std::size_t score = hash(tuple(key, member));
                if (!best || score > best_score || (score == best_score && member < *best)) {
                    best = &member;
                    best_score = score;
                }
            }
            return *best;
        }
    }
    return std::nullopt;
}

Expected<Term, CallError> GroupPool::call(Mailbox& self, Term request,
                                          std::chrono::milliseconds timeout,
                                          const Term& key) const {
    std::vector<Pid> left = groups_.members(group_);
    std::sort(left.begin(), left.end());
    left.erase(std::unique(left.begin(), left.end()), left.end());
    std::optional<CallError> last;
    while (auto chosen = pick_from(left, key)) {
        auto result = distribute::call(self, ServerRef(*chosen), request, timeout);
        if (result ||
            (result.error().code != CallErrc::noproc && result.error().code != CallErrc::nodedown))
            return result;
        last = result.error();
        std::erase(left, *chosen);
    }
    if (last) return unexpected(std::move(*last));
    return unexpected(CallError{CallErrc::noproc, Term(atoms::noproc),
                                "group " + to_string(group_) + " has no members", std::nullopt});
}

}  // namespace distribute
