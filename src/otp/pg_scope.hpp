// One pg scope on this node: a registered process that speaks pg.erl's protocol (OTP 23 on) with
// the scope processes of the same name on other nodes, and the table of members that the public
// Groups API reads. The protocol between scopes:
//   {discover, Peer}              a scope looks for its peers: on its start and on each nodeup
//                                 (OTP 26 on also accept {discover, Peer, Version})
//   {'$gen_cast', {sync, Peer, [{Group, [Pid]}]}}   the answer: all of Peer's local members,
//                                 which replace whatever was known of Peer before
//   {join, Peer, Group, Pid | [Pid]}   {leave, Peer, Pid | [Pid], [Group]}   the changes since
// Each scope monitors the peers it knows; a DOWN drops every member of that peer. Joins and
// leaves from a scope not discovered yet are ignored, as pg ignores them.
//
// The table is written by the scope's handler and by callers of join and leave on any thread,
// under one mutex; sends to peers and subscribers happen under it too, so that they leave in the
// order the changes were made. Messages that fit none of the shapes are logged and dropped (pg
// itself crashes on them).
#pragma once

#include <memory>
#include <shared_mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "distribute/groups.hpp"
#include "node/identity_hash.hpp"
#include "node/runtime.hpp"
#include "otp/pg_table.hpp"

namespace distribute::otp {

class PgScope : public std::enable_shared_from_this<PgScope> {
  public:
    PgScope(node::Runtime& runtime, Atom name, ScopeOptions options);

    // Spawns and registers the scope process, then discovers the peers already connected.
    [[nodiscard]] Expected<void, GroupsError> start();
    // The node is stopping: the scope lets go of its process.
    void stop();

    Atom name() const { return name_; }

    [[nodiscard]] Expected<void, GroupsError> join(const Term& group, std::span<const Pid> pids);
    [[nodiscard]] Expected<void, GroupsError> leave(const Term& group, std::span<const Pid> pids);
    std::vector<Pid> members(const Term& group) const;
    std::vector<Pid> local_members(const Term& group) const;
    std::vector<Term> which_groups() const;
    std::vector<Term> which_local_groups() const;
    ScopeSnapshot monitor_scope(const Pid& subscriber);
    GroupSnapshot monitor_group(const Pid& subscriber, const Term& group);
    bool demonitor(const Reference& ref);

  private:
    struct LocalMember {
        Reference monitor;
        std::vector<Term> groups;  // a group twice when joined twice
    };
    struct Peer {
        Reference monitor;
        std::unordered_map<Term, std::vector<Pid>> groups;
        std::size_t members = 0;  // all the pids of `groups`, for the limit
        bool warned = false;      // the limit was logged once
    };
    struct GroupMonitor {
        Pid subscriber;
        Term group;
    };

    void handle(const Term& message);
    void handle_call(const GenCall& call);
    void on_discover(const Pid& peer);
    void on_sync(const Pid& peer, const Term& groups);
    void on_join(const Pid& peer, const Term& group, const std::vector<Pid>& pids);
    void on_leave(const Pid& peer, const std::vector<Pid>& pids, const Term& groups);
    void on_down(const Reference& ref, const Term& who);

    // With the mutex held.
    Expected<void, GroupsError> join_locked(const Term& group, std::span<const Pid> pids, bool one);
    Expected<void, GroupsError> leave_locked(const Term& group, std::span<const Pid> pids);
    Peer& peer_locked(const Pid& peer);
    bool admit_locked(Peer& peer, const Pid& pid, std::size_t more);
    void remove_peer_locked(const Pid& peer);
    Term local_groups_locked() const;
    void notify_locked(bool joined, const Term& group, std::span<const Pid> pids);
    void send_locked(const Pid& to, Term message);
    void broadcast_locked(const Term& message);
    Expected<void, GroupsError> check_local(std::span<const Pid> pids) const;

    node::Runtime& runtime_;
    const Atom name_;
    const ScopeOptions options_;
    std::uint64_t node_events_ = 0;

    mutable std::shared_mutex mutex_;
    std::shared_ptr<node::Process> process_;  // null once stopped
    PgTable table_;
    std::unordered_map<Pid, LocalMember, node::PidHash> local_;
    std::unordered_map<Pid, Peer, node::PidHash> peers_;
    std::unordered_map<Reference, Pid, node::ReferenceHash> scope_monitors_;
    std::unordered_map<Reference, GroupMonitor, node::ReferenceHash> group_monitors_;
};

}  // namespace distribute::otp
