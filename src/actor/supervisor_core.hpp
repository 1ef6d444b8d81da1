// The supervisor process: supervisor.erl's state and restart logic over a handler process. The
// strategies live in one file each (one_for_one.cpp, one_for_all.cpp, rest_for_one.cpp); the
// ordered shutdown of children is an asynchronous sequence (supervisor_shutdown.cpp) that waits
// for each child's 'DOWN' or its shutdown timer as messages and keeps everything else aside
// meanwhile, as supervisor:shutdown/1 does with a selective receive.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "actor/start_gate.hpp"
#include "distribute/supervisor.hpp"

namespace distribute::actor_detail {

struct Child {
    ChildSpec spec;
    ProcessHandle handle;     // empty: not running
    bool restarting = false;  // a restart failed; another attempt is queued
    bool running() const { return static_cast<bool>(handle); }
};

class Supervisor {
  public:
    Supervisor(SupervisorOptions options, Reference token);

    // On the starter's thread, behind the gate: starts the children in order. When one fails,
    // the others are killed and the reason is {shutdown, {failed_to_start_child, Id, Reason}}.
    [[nodiscard]] Expected<void, Term> init(const ProcessHandle& self);
    void handle(const ProcessHandle& self, Term message);

    StartGate gate;

    // The strategies: called for a child that must be restarted, once the restart is counted.
    void restart_one_for_one(const ProcessHandle& self, const std::string& id);
    void restart_one_for_all(const ProcessHandle& self, const std::string& id);
    void restart_rest_for_one(const ProcessHandle& self, const std::string& id);

  private:
    using Then = std::function<void(const ProcessHandle&)>;

    // A message, when no shutdown sequence is waiting.
    void dispatch(const ProcessHandle& self, Term message);
    void handle_call(const ProcessHandle& self, const GenCall& call);
    // do_restart: what the child's restart type says about its exit.
    void child_exited(const ProcessHandle& self, std::size_t index, const Term& reason);
    // supervisor:restart/2: count the restart, give up past the intensity, else the strategy.
    void restart(const ProcessHandle& self, const std::string& id);
    // add_restart: true while the restarts within the period stay within the intensity.
    bool add_restart();

    // Starts one child; the reason when it could not start.
    std::optional<Term> start_child(const ProcessHandle& self, Child& child);
    // Starts the children of `ids` that are still known, in order. Stops at the first failure:
    // that child is marked restarting and another attempt queued (as try_again_restart).
    void start_group(const ProcessHandle& self, const std::vector<std::string>& ids);
    // Stops the children of `ids` and restarts them: what one_for_all and rest_for_one share.
    void restart_group(const ProcessHandle& self, std::vector<std::string> ids);
    void try_again(const ProcessHandle& self, const std::string& id);
    // Stops every child in reverse start order, then exits with `reason`.
    void shut_down(const ProcessHandle& self, Term reason);

    // The ordered shutdown (supervisor_shutdown.cpp). `ids` in the order to stop them; temporary
    // children are forgotten once stopped, the others kept as not running.
    void stop_children(const ProcessHandle& self, std::vector<std::string> ids, Then then);
    void stop_next(const ProcessHandle& self);
    // True when `message` was the awaited 'DOWN' or shutdown timeout.
    bool shutdown_progress(const ProcessHandle& self, const Term& message);

    std::optional<std::size_t> index_of(const std::string& id) const;
    std::optional<std::size_t> index_of(const Pid& pid) const;
    // The ids of all children from `first` on, in start order.
    std::vector<std::string> ids_from(std::size_t first) const;
    void log(const ProcessHandle& self, LogLevel level, const std::string& line) const;
    std::string label(const ProcessHandle& self) const;

    SupervisorOptions options_;
    std::vector<Child> children_;                                 // in start order
    std::deque<std::chrono::steady_clock::time_point> restarts_;  // newest first
    std::deque<Term> deferred_;  // messages kept aside while a shutdown sequence waits
    bool ended_ = false;

    struct Stopping {
        std::deque<std::string> left;
        Then then;
        // The child being stopped now, when `active`.
        bool active = false;
        std::string id;
        Pid pid;
        Reference monitor;
        Timer timer;
    };
    std::optional<Stopping> stopping_;
};

// Child ids as Erlang sees them: an atom (a binary if the id cannot be one).
Term child_id_term(const std::string& id);
std::optional<std::string> child_id_from(const Term& id);

}  // namespace distribute::actor_detail
