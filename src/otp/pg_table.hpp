// The membership table of one pg scope, without any I/O: which processes are in which group, and
// which of them are local, kept as pg.erl keeps its ETS table ({Group, AllPids, LocalPids}). A
// process may be in a group more than once (it joined twice), so members are lists, and a leave
// takes away one occurrence. Every change reports what it did, for the scope's subscribers.
#pragma once

#include <cstddef>
#include <span>
#include <unordered_map>
#include <vector>

#include "distribute/term.hpp"

namespace distribute::otp {

class PgTable {
  public:
    struct Entry {
        std::vector<Pid> all;    // local and remote members, in the order they joined
        std::vector<Pid> local;  // the members on this node
    };

    // Nullptr when nobody is in `group`.
    const Entry* find(const Term& group) const;
    std::vector<Term> groups() const;
    std::vector<Term> local_groups() const;
    // #{Group => AllPids}, as pg:monitor_scope/1 returns it.
    Term snapshot() const;
    std::size_t size() const { return groups_.size(); }

    void join(const Term& group, std::span<const Pid> pids, bool local);
    // Takes one occurrence of each pid out of the group (from its local list too when `local`);
    // a group left empty goes. Returns the pids that were there.
    std::vector<Pid> leave(const Term& group, std::span<const Pid> pids, bool local);
    // A remote peer's members of `group` change from `before` to `after` (a sync): the pids it
    // no longer has leave, the new ones join. Returns {joined, left}.
    std::pair<std::vector<Pid>, std::vector<Pid>> replace(const Term& group,
                                                          std::span<const Pid> before,
                                                          std::span<const Pid> after);

  private:
    std::unordered_map<Term, Entry> groups_;
};

// `from` minus one occurrence of each element of `take`, as Erlang's `--`.
std::vector<Pid> subtract(std::span<const Pid> from, std::span<const Pid> take);

}  // namespace distribute::otp
