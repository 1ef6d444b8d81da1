// global's registrar: the process that registers and unregisters names for this node's callers,
// one request at a time, each under the lock {global, Registrar} taken on every known node (so
// that no partition merges meanwhile) and let go afterwards (global.erl's trans_all_known). It
// also takes and gives back the locks C++ callers ask for with Global::set_lock, which it holds
// for them. Requests come from any thread; their answers run on the node's threads.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "distribute/global.hpp"
#include "node/runtime.hpp"
#include "node/timer.hpp"
#include "otp/global_locking.hpp"
#include "otp/multi_call.hpp"

namespace distribute::otp {

class GlobalServer;

class GlobalRegistrar : public std::enable_shared_from_this<GlobalRegistrar> {
  public:
    using Done = Global::Done;

    explicit GlobalRegistrar(GlobalServer& server);
    void start();
    Pid pid() const { return pid_; }

    using Deadline = std::chrono::steady_clock::time_point;

    // `method` is what the other nodes keep for the name (see global_resolver.hpp); `resolver`,
    // for a C++ resolver, what this node runs for it. Past `deadline` without the lock, it gives
    // up (timeout) before anything changed.
    void register_name(Term name, Pid pid, Term method, std::optional<GlobalResolver> resolver,
                       bool re_register, Done done, Deadline deadline = Deadline::max());
    void unregister_name(Term name, Done done);
    void set_lock(Term id, std::vector<Atom> nodes, unsigned retries,
                  std::function<void(bool)> done);
    void del_lock(Term id, std::vector<Atom> nodes, std::function<void()> done);

  private:
    // One request: `run` does it with the process's help and calls `finished` when it is over.
    using Job = std::function<void(std::function<void()> finished)>;

    void submit(Job job);
    void handle(const Term& message);
    void next();
    // trans_all_known: `body` runs with the nodes locked, then the lock goes. `gave_up` runs
    // instead when the deadline passes first.
    void trans_all_known(std::function<void(std::vector<Atom>, std::function<void()>)> body,
                         std::function<void()> finished, std::function<void()> gave_up,
                         Deadline deadline, unsigned times = 0);
    void try_lock(Term id, std::vector<Atom> nodes, unsigned retries, unsigned times,
                  std::function<void(bool)> done);
    void after(std::chrono::milliseconds delay, std::function<void()> then);

    GlobalServer& server_;
    node::Runtime& runtime_;
    Pid pid_;
    std::shared_ptr<node::Process> process_;
    GlobalLockCalls locks_;
    MultiCalls calls_;

    std::mutex mutex_;  // guards queue_
    std::deque<Job> queue_;
    // The registrar's own thread only:
    bool running_ = false;
    std::uint64_t sleep_generation_ = 0;
    std::function<void()> after_sleep_;
    std::shared_ptr<node::TimerState> sleep_timer_;
};

}  // namespace distribute::otp
