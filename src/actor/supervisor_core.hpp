// The supervisor process: supervisor.erl's state and restart logic over a handler process. The
// strategies live in one file each (one_for_one.cpp, one_for_all.cpp, rest_for_one.cpp); the
// calls of supervisor.erl's API (start_child, terminate_child, ...) in supervisor_calls_served.cpp;
// Erlang child specs in child_spec_term.cpp; sys in supervisor_sys.cpp; the ordered (or, for
// dynamic children, parallel) shutdown of children is an asynchronous sequence
// (supervisor_shutdown.cpp) that waits for the children's 'DOWN's or shutdown timers as messages
// and keeps everything else aside meanwhile, as supervisor:shutdown/1 does with a selective
// receive.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "actor/start_gate.hpp"
#include "actor/sys_debug.hpp"
#include "actor/sys_state_reply.hpp"
#include "actor/system_message.hpp"
#include "distribute/supervisor.hpp"

namespace distribute::actor_detail {

// What kind of supervisor: supervisor.erl with static ids, its simple_one_for_one, or Elixir's
// DynamicSupervisor (each child its own spec, max_children).
enum class SupervisorKind { with_ids, simple, dynamic };

struct SupervisorConfig {
    SupervisorOptions options;
    SupervisorKind kind = SupervisorKind::with_ids;
    std::optional<std::size_t> max_children{};
    std::vector<Term> extra_arguments{};  // dynamic: put before each child's args
};

struct Child {
    ChildSpec spec;           // spec.id: the internal key (unique among the children)
    Term id;                  // the id as Erlang sees it; undefined for dynamic children
    Term mfa;                 // the start as Erlang sees it: {M, F, A}, undefined for C++ code
    Term modules;             // the spec's modules ([] for C++ specs)
    ProcessHandle handle;     // empty: not running
    bool restarting = false;  // a restart failed; another attempt is queued
    bool running() const { return static_cast<bool>(handle); }
};

class Supervisor {
  public:
    Supervisor(SupervisorConfig config, Reference token);

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
    // A message that is neither a system message nor the parent's exit (held while suspended).
    void handle_message(const ProcessHandle& self, Term message);
    // supervisor.erl's handle_call (supervisor_calls_served.cpp); false: not one of its calls.
    bool handle_call(const ProcessHandle& self, const GenCall& call);
    void call_start_child(const ProcessHandle& self, const From& from, const Term& request);
    void call_terminate_child(const ProcessHandle& self, const From& from, const Term& id);
    void call_restart_child(const ProcessHandle& self, const From& from, const Term& id);
    void call_delete_child(const From& from, const Term& id);
    // Adds a child and starts it: the reply supervisor.erl (or DynamicSupervisor) gives.
    Term add_child(const ProcessHandle& self, Child child);
    Term which_children_reply() const;
    Term count_children_reply() const;

    // sys's requests (supervisor_sys.cpp); false once the supervisor has ended.
    bool system(const ProcessHandle& self, const SystemMessage& sys);
    // sys:get_state: supervisor.erl's #state record (DynamicSupervisor's struct for dynamic).
    Term state_term(const ProcessHandle& self) const;
    Term status_term(const ProcessHandle& self) const;
    void debug_event(const ProcessHandle& self, const Term& event);

    // do_restart: what the child's restart type says about its exit.
    void child_exited(const ProcessHandle& self, std::size_t index, const Term& reason);
    // do_auto_shutdown, after a significant child ended for good: true when the supervisor ends.
    bool auto_shutdown(const ProcessHandle& self, bool significant);
    // supervisor:restart/2: count the restart, give up past the intensity, else the strategy.
    void restart(const ProcessHandle& self, const std::string& id);
    // add_restart: true while the restarts within the period stay within the intensity.
    bool add_restart();

    // Starts one child; the reason when it could not start.
    std::optional<Term> start_child(const ProcessHandle& self, Child& child);
    // The child's start, through its function or its factory.
    Expected<ProcessHandle, SupervisorError> run_start(const ProcessHandle& self,
                                                       const ChildSpec& spec) const;
    // Starts the children of `ids` that are still known, in order. Stops at the first failure:
    // that child is marked restarting and another attempt queued (as try_again_restart).
    void start_group(const ProcessHandle& self, const std::vector<std::string>& ids);
    // Stops the children of `ids` and restarts them: what one_for_all and rest_for_one share.
    void restart_group(const ProcessHandle& self, std::vector<std::string> ids);
    void try_again(const ProcessHandle& self, const std::string& id);
    // Stops every child in reverse start order (all at once for dynamic children), then exits.
    void shut_down(const ProcessHandle& self, Term reason);

    // The shutdown (supervisor_shutdown.cpp). `ids` in the order to stop them, one after the
    // other, or all at once when `parallel`; temporary children (and all dynamic ones) are
    // forgotten once stopped, the others kept as not running.
    void stop_children(const ProcessHandle& self, std::vector<std::string> ids, Then then,
                       bool parallel = false);
    void stop_next(const ProcessHandle& self);
    void stop_one(const ProcessHandle& self, Child& child);
    // True when `message` was an awaited 'DOWN' or shutdown timeout.
    bool shutdown_progress(const ProcessHandle& self, const Term& message);
    // After a child stopped or ended: forgotten when temporary or dynamic, else kept.
    void forget_or_keep(std::size_t index);

    bool dynamic_children() const { return config_.kind != SupervisorKind::with_ids; }
    std::optional<std::size_t> index_of(const std::string& id) const;
    std::optional<std::size_t> index_of(const Pid& pid) const;
    std::optional<std::size_t> index_of_id(const Term& id) const;
    // The child `id` that restart_child and delete_child may act on (one that is not running),
    // or supervisor.erl's refusal ({error, not_found | running | restarting | simple_one_for_one}).
    Expected<std::size_t, Term> stopped_child(const Term& id) const;
    // The ids of all children from `first` on, in start order.
    std::vector<std::string> ids_from(std::size_t first) const;
    void log(const ProcessHandle& self, LogLevel level, const std::string& line) const;
    std::string label(const ProcessHandle& self) const;

    SupervisorConfig config_;
    SupervisorOptions& options_ = config_.options;
    std::optional<ChildSpec> template_;                           // simple_one_for_one
    std::vector<Child> children_;                                 // in start order
    std::uint64_t next_serial_ = 0;                               // dynamic children's keys
    std::deque<std::chrono::steady_clock::time_point> restarts_;  // newest first
    std::deque<Term> deferred_;  // messages kept aside while a shutdown sequence waits
    bool ended_ = false;
    bool suspended_ = false;
    std::deque<Term> held_;  // what came while suspended
    SysDebug debug_;
    StateReplies state_replies_{SysStateReplies::automatic};

    struct Stopping {
        std::deque<std::string> left;
        Then then;
        bool parallel = false;
        struct Active {
            std::string id;
            Pid pid;
            Timer timer;
        };
        std::map<Reference, Active> active;  // by monitor
    };
    std::optional<Stopping> stopping_;
};

// Child ids as Erlang sees them: an atom (a binary if the id cannot be one).
Term child_id_term(const std::string& id);
std::optional<std::string> child_id_from(const Term& id);

// Erlang child specs (child_spec_term.cpp).
// A child as a C++ spec makes it: the Erlang view (id, mfa, modules) from the spec.
Child child_of(ChildSpec spec);
// supervisor.erl's check_childspec on a map or 6-tuple spec: the child (not started), or the
// reason ({invalid_child_spec, X}, {invalid_restart_type, R}, {bad_combination, ...}). A start
// {distribute, Factory, Args} names a factory; any other module fails at start as undef.
Expected<Child, Term> child_from_term(const Term& spec, AutoShutdown auto_shutdown);
// DynamicSupervisor's validated child, {MFA, Restart, Shutdown, Type, Modules}.
Expected<Child, Term> child_from_dynamic(const Term& child);
// The Erlang child spec map of a ChildSpec with a factory (start_child from C++ to any node).
Term child_spec_to_map(const ChildSpec& spec);
// supervisor:get_childspec's map.
Term child_spec_map(const Child& child);
// The start MFA: {distribute, Factory, Args}, or undefined for a C++ start function.
Term start_mfa(const ChildSpec& spec);
// supervisor.erl's #child record, as it appears in start_child errors and in its state.
Term child_record(const Child& child);
Term restart_term(Restart restart);
Term shutdown_term(std::chrono::milliseconds shutdown);
Term type_term(ChildType type);
// The reason an unknown factory gives: what apply/3 of an undefined function gives.
Term undefined_factory(const FactoryStart& factory);

}  // namespace distribute::actor_detail
