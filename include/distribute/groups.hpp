// Process groups, as OTP's pg: processes are found by role rather than by name. A scope (the
// default one is `pg`) is a registered process on every node that takes part; scopes of the
// same name on different nodes exchange their members, so every node sees every member of every
// group. Our node's scopes speak pg.erl's protocol, so BEAM nodes started with
// `-kernel start_pg true` (or running pg:start_link(Scope)) and this node share one view:
//
//   Groups pg = groups(node).value();
//   (void)pg.join("workers"_a, worker.pid());       // erl: pg:get_members(workers) lists it
//   for (Pid p : pg.members("workers"_a)) ...       // erl's members of workers too
//   pg.broadcast(me, "workers"_a, Term("reload"_a));
//
// A group is any term. A process may join a group more than once (it is then listed as often),
// and leaves it one join at a time. A member that exits leaves every group; the members of a node
// that goes down (or of a scope process that stops) drop out everywhere.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "distribute/error.hpp"
#include "distribute/expected.hpp"
#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"
#include "distribute/rpc.hpp"
#include "distribute/term.hpp"

namespace distribute {

namespace otp {
class PgScope;
}

enum class GroupsErrc {
    not_local = 1,  // join, leave: only processes of this node join a scope here (pg's nolocal)
    not_joined,     // leave: none of the processes is in the group (pg's not_joined)
    no_scope,       // no scope of that name runs on this node
    name_taken,     // start_scope: the name is registered for another process
    not_running,    // the node was stopped
};
const std::error_category& groups_category() noexcept;
std::error_code make_error_code(GroupsErrc e) noexcept;

using GroupsError = CodedError<GroupsErrc>;

struct ScopeOptions {
    // How many memberships (processes times joins) one peer scope may announce to us. A peer past
    // it has its further joins and syncs dropped, with a warning: a peer that floods joins costs
    // us at most this much memory.
    std::size_t max_members_per_peer = 1'000'000;
};

// What monitor_scope() and monitor() return: the reference later updates carry, and the
// membership at the moment the subscription started.
struct ScopeSnapshot {
    Reference ref;
    Term groups;  // #{Group => [Pid]}, as pg:monitor_scope/1 returns it
};
struct GroupSnapshot {
    Reference ref;
    std::vector<Pid> members;
};

// An update as a subscriber receives it: the message {Ref, join | leave, Group, [Pid]}.
struct GroupEvent {
    Reference ref;
    bool joined = false;  // join; false: leave
    Term group;
    std::vector<Pid> pids;
};
// The update `message` is, or nullopt for any other message.
std::optional<GroupEvent> parse_group_event(const Term& message);

class Groups {
  public:
    Atom scope() const;

    [[nodiscard]] Expected<void, GroupsError> join(const Term& group, const Pid& pid) const;
    [[nodiscard]] Expected<void, GroupsError> join(const Term& group,
                                                   std::span<const Pid> pids) const;
    [[nodiscard]] Expected<void, GroupsError> leave(const Term& group, const Pid& pid) const;
    // not_joined when none of `pids` was in the group; otherwise those that were leave.
    [[nodiscard]] Expected<void, GroupsError> leave(const Term& group,
                                                    std::span<const Pid> pids) const;

    // Read from this node's copy, without asking anybody: what pg:get_members/2 and friends give.
    // Members come in no particular order.
    std::vector<Pid> members(const Term& group) const;
    std::vector<Pid> local_members(const Term& group) const;
    std::vector<Term> which_groups() const;
    std::vector<Term> which_local_groups() const;

    // pg:monitor_scope/1 and pg:monitor/2 for `subscriber` (a process of any node): every later
    // change of the scope (of the group) arrives to it as {Ref, join | leave, Group, [Pid]}. The
    // subscription ends with demonitor() or when the subscriber exits.
    ScopeSnapshot monitor_scope(const Pid& subscriber) const;
    GroupSnapshot monitor(const Pid& subscriber, const Term& group) const;
    bool demonitor(const Reference& ref) const;

    // Sends `message` from `from` to every member, here and on other nodes. A member that is dead
    // or on a node that went away is skipped as Erlang's `!` skips it: nothing fails. Returns how
    // many members it was sent to.
    std::size_t broadcast(const ProcessHandle& from, const Term& group, const Term& message) const;

  private:
    friend Expected<Groups, GroupsError> groups(Node&, Atom);
    friend Expected<Groups, GroupsError> start_scope(Node&, Atom, ScopeOptions);
    explicit Groups(std::shared_ptr<otp::PgScope> scope) : scope_(std::move(scope)) {}
    std::shared_ptr<otp::PgScope> scope_;
};

// The scope `scope` of `node`: `pg` (started with every node) unless another is named, which
// must have been started with start_scope.
[[nodiscard]] Expected<Groups, GroupsError> groups(Node& node,
                                                   Atom scope = Atom::make("pg").value());
// pg:start_link(Scope): a scope of that name on this node, registered under it. Starting one
// that runs already gives the running one.
[[nodiscard]] Expected<Groups, GroupsError> start_scope(Node& node, Atom scope,
                                                        ScopeOptions options = {});

// ---------------------------------------------------------------------------------------------
// Worker pools: the members of a group as interchangeable servers

enum class Pick {
    random,       // any member, uniformly
    round_robin,  // each member in turn
    hash,         // by a key: the same key goes to the same member while the members stay, and
                  // only the keys of a member that leaves move (rendezvous hashing)
};

class GroupPool {
  public:
    GroupPool(Groups groups, Term group, Pick pick = Pick::round_robin);

    // A member, or nullopt when the group is empty. `key` counts for Pick::hash only.
    std::optional<Pid> pick(const Term& key = Term()) const;

    // A gen_server call to a picked member. When that member is gone (noproc, or its node down),
    // the call goes to another one, each member tried at most once; it fails with noproc when no
    // member is left. A timeout or a server that exits during the call is not retried: the
    // request may have run.
    [[nodiscard]] Expected<Term, CallError> call(
        Mailbox& self, Term request, std::chrono::milliseconds timeout = default_call_timeout,
        const Term& key = Term()) const;

  private:
    std::optional<Pid> pick_from(std::vector<Pid> members, const Term& key) const;
    Groups groups_;
    Term group_;
    Pick pick_;
    std::shared_ptr<std::atomic<std::uint64_t>> turn_;  // round robin's turn, shared by copies
};

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::GroupsErrc> : std::true_type {};
