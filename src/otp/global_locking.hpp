// global's set_lock_on_nodes/2, del_lock/2 and delete_global_lock/2 for a process of this node
// (the locker, the registrar): the lock is asked of the global_name_server of every node in
// question, this one included, by gen_server multi_calls, and the asking process holds it (each
// server monitors the holder: a holder that exits lets go of its locks).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "node/runtime.hpp"
#include "otp/multi_call.hpp"

namespace distribute::otp {

class GlobalServer;

class GlobalLockCalls {
  public:
    explicit GlobalLockCalls(GlobalServer& server) : server_(server) {}

    // {set_lock, Id} to every node: true when all that answered said yes; when some said no,
    // the ones that said yes let go again.
    void set(const std::shared_ptr<node::Process>& self, const Term& id, std::vector<Atom> nodes,
             std::function<void(bool)> done);
    void del(const std::shared_ptr<node::Process>& self, const Term& id,
             const std::vector<Atom>& nodes, std::function<void()> done);
    // The lock on the boss (the greatest node name) goes last, so that a partition is seldom
    // left half locked.
    void del_boss_last(const std::shared_ptr<node::Process>& self, const Term& id,
                       std::vector<Atom> nodes, std::function<void()> done);
    // A reply or DOWN for one of the calls under way.
    bool take(node::Process& self, const Term& message) { return calls_.take(self, message); }

  private:
    GlobalServer& server_;
    MultiCalls calls_;
};

// global's the_boss/1.
Atom the_boss(const std::vector<Atom>& nodes);

}  // namespace distribute::otp
