// global's locker (global.erl, "the_locker"): when a node connects, the lockers of both sides
// take the lock {global, [LockerA, LockerB]} on every node of both partitions before the names
// are exchanged, so that no registration changes the names meanwhile. Both lockers use the same
// lock id, so the nodes the partitions share are locked by both without a deadlock. Lockers talk
// through their servers ({lock_set, Locker, IsSet, Known, HisTag} cast to the other server).
//
// In global.erl the locker is a loop with selective receives that blocks in multi_calls. Here it
// is a handler: a multi_call goes out and its replies come back as messages, and what arrives
// while the locker waits for something else is deferred, then handled in the order it came, as
// a selective receive would leave it in the mailbox.
#pragma once

#include <deque>
#include <memory>
#include <vector>

#include "node/runtime.hpp"
#include "node/timer.hpp"
#include "otp/global_locking.hpp"

namespace distribute::otp {

class GlobalServer;

class GlobalLocker : public std::enable_shared_from_this<GlobalLocker> {
  public:
    explicit GlobalLocker(GlobalServer& server);
    // Spawns the locker's process. It lives as long as the node: the server lets go of this
    // object when the node stops, and the process's last handler run takes it away.
    void start();
    Pid pid() const { return pid_; }

  private:
    // A node whose locker asked to connect (global's #him{}).
    struct Him {
        Atom node;
        Pid locker;
        int vsn = 0;
        Term my_tag;
        Term his_tag;
        bool operator==(const Him& o) const {
            return node == o.node && locker == o.locker && vsn == o.vsn && my_tag == o.my_tag &&
                   his_tag == o.his_tag;
        }
    };
    enum class Mode {
        idle,         // loop_the_locker: anything is handled
        busy,         // a multi_call is out: only its replies
        lock_is_set,  // our lock is set; the other locker's answer is awaited
        wait_cancel,  // both locks are set; the server's cancel is awaited
    };

    void handle(const Term& message);
    bool accepts(const Term& message) const;
    void dispatch(const Term& message);
    void pump();
    void loop();  // back to idle: deferred messages first, then the timeout
    void on_timeout();

    // idle
    void on_idle(const Term& message);
    void on_lock_set_idle(const Pid& his_locker, const Term& my_tag);
    void select_node();
    void lock_nodes_safely(const Term& lock_id, std::vector<Atom> extra,
                           std::function<void(bool)> done);
    // lock_is_set and wait_cancel
    void on_lock_is_set(const Term& message);
    void lock_is_set_true();
    void on_cancel_waited(const Term& message);

    void send_lock_set(bool is_set, const Pid& his_locker, int vsn, const Term& his_tag);
    void run_casts(const Term& casts);
    void update_known(const Term& message);
    void update_known_from_deferred();
    std::vector<Him>& list_of(const Atom& node);
    void remove_him(Atom node, const Term& tag);
    std::optional<Him> find_him(Atom node) const;
    Term lock_id_with(const Pid& other) const;
    bool is_local_host(Atom node) const;

    GlobalServer& server_;
    node::Runtime& runtime_;
    Pid pid_;
    std::shared_ptr<node::Process> process_;
    GlobalLockCalls locks_;
    std::deque<Term> deferred_;
    bool pumping_ = false;
    Mode mode_ = Mode::idle;

    std::vector<Him> local_, remote_;  // on this host first, as global prefers them
    std::vector<Atom> known_;
    Atom boss_;
    bool just_synced_ = false;

    // The lock under way (lock_is_set, wait_cancel)
    Him him_;
    Term lock_id_;
    std::vector<Atom> lock_nodes_;  // where it is set
    Atom wait_node_;
    Term wait_tag_;
    std::function<void()> after_cancel_;

    std::uint64_t timer_generation_ = 0;
    std::shared_ptr<node::TimerState> timer_;
};

}  // namespace distribute::otp
