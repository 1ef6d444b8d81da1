// Supervisors with the semantics of OTP's supervisor.erl: children started in order and linked to
// the supervisor, restarted by strategy (one_for_one, one_for_all, rest_for_one) and restart type
// (permanent, transient, temporary), a restart intensity counted over a sliding period past which
// the supervisor gives up and exits with `shutdown`, and an ordered shutdown: children stopped in
// reverse start order, each with exit(Child, shutdown), given its shutdown time to go, then
// killed. Supervisors nest (a supervisor is a child like any other), and BEAM nodes see them as
// supervisors: supervisor:start_child/terminate_child/restart_child/delete_child/which_children/
// count_children/get_childspec({Name, CppNode}, ...) work, a simple_one_for_one supervisor and an
// Elixir DynamicSupervisor-style one (start_dynamic_supervisor) take children at run time, sys
// (get_state, get_status, suspend, ...) works on them, and gen_server:stop({Name, CppNode}) shuts
// one down in order. A BEAM node names a C++ child in a child spec by a factory the program
// registered: start => {distribute, FactoryName, Args} (docs/supervisor.md).
//
// The supervisor never blocks a node thread: it waits for a child's 'DOWN' or its shutdown timer
// as messages, keeping other messages queued meanwhile, as supervisor.erl does with receive.
//
//   SupervisorOptions o;
//   o.strategy = Strategy::one_for_one;
//   o.intensity = 3; o.period = 5s;
//   o.children.push_back(worker_child("kv", [] { return std::make_unique<Kv>(); },
//                                     {.name = "kv"_a}));
//   auto sup = start_supervisor(node, std::move(o));
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "distribute/actor.hpp"
#include "distribute/expected.hpp"
#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"
#include "distribute/server_ref.hpp"
#include "distribute/term.hpp"

namespace distribute {

enum class Strategy {
    one_for_one,   // restart the child that ended
    one_for_all,   // stop all the others (reverse order), then restart them all in order
    rest_for_one,  // stop the children started after it (reverse order), then restart those
    // Children of one template (SupervisorOptions::children holds exactly one spec), started
    // only by start_child with extra arguments, addressed by pid, stopped in parallel.
    simple_one_for_one,
};

enum class Restart {
    permanent,  // always restarted
    transient,  // restarted unless it ended with normal, shutdown or {shutdown, _}
    temporary,  // never restarted; forgotten once it ends
};

enum class ChildType { worker, supervisor };

// OTP 24's auto_shutdown: whether the end of a significant child (one that ended by itself and
// is not restarted) ends the supervisor too.
enum class AutoShutdown {
    never,            // significant children are not allowed
    any_significant,  // the first significant child that ends ends the supervisor
    all_significant,  // once no significant child runs any more
};

// ---------------------------------------------------------------------------------------------
// Errors

enum class SupervisorErrc {
    start_failed = 1,    // the child's start failed: `reason` is what start_child's {error, R} has
    already_present,     // start_child: a child with that id exists and is not running
    already_started,     // start_child: a child with that id runs: reason {already_started, Pid}
    not_found,           // no child with that id (or pid)
    running,             // restart_child or delete_child of a child that runs
    restarting,          // restart_child or delete_child of a child whose restart is pending
    simple_one_for_one,  // the request does not apply to a simple_one_for_one/dynamic supervisor
    max_children,        // the dynamic supervisor has max_children children already
    bad_spec,            // the child spec is invalid: reason as supervisor.erl's check_childspec
    unreachable,         // the supervisor could not be called (timeout, noproc, nodedown, ...)
    bad_reply,           // the supervisor answered something no supervisor answers
};
const std::error_category& supervisor_category() noexcept;
std::error_code make_error_code(SupervisorErrc e) noexcept;

struct SupervisorError {
    SupervisorErrc code{};
    std::string detail;
    // The BEAM's reason: what supervisor.erl's {error, Reason} carries (already_present,
    // {already_started, Pid}, the start's failure, ...), or the call's exit reason (unreachable).
    Term reason;
};

// What a start function returns when it could not start the child: start_failed with `reason`.
SupervisorError start_failure(Term reason);

// ---------------------------------------------------------------------------------------------
// Child specs

// ChildSpec::shutdown values besides a time: kill at once, or wait as long as it takes (the
// default for supervisors, which need the time to stop their own children).
inline constexpr std::chrono::milliseconds brutal_kill = std::chrono::milliseconds(-1);
inline constexpr std::chrono::milliseconds shutdown_infinity = infinity_timeout;

// A named way to start a child from Erlang terms: what a BEAM child spec's start MFA
// {distribute, Name, Args} calls. It must start the child linked to `supervisor` and return its
// handle, an empty handle for "ignore", or start_failure(Reason).
using ChildFactory = std::function<Expected<ProcessHandle, SupervisorError>(
    const ProcessHandle& supervisor, std::span<const Term> args)>;

// The factories a supervisor may start children with. A BEAM peer can start only what is
// registered here, so a program gives each supervisor the set it means to expose (one set may
// serve many supervisors). Thread-safe: factories may be added while supervisors run.
class ChildFactories {
  public:
    void add(Atom name, ChildFactory factory);
    std::optional<ChildFactory> find(Atom name) const;

  private:
    mutable std::mutex mutex_;
    std::unordered_map<std::uint32_t, ChildFactory> factories_;  // by atom index
};

// A factory for actors made by `make` from the args (nullptr: bad args, the start fails with
// {bad_args, Args}), spawned with `options` and linked to the supervisor.
ChildFactory actor_factory(std::function<std::unique_ptr<Actor>(std::span<const Term> args)> make,
                           ActorOptions options = {});

// A factory and its arguments: the start of a child spec written as Erlang's {distribute, Name,
// Args}. simple_one_for_one appends start_child's extra arguments to `args`.
struct FactoryStart {
    Atom name;
    std::vector<Term> args{};
};

struct ChildSpec {
    std::string id{};
    // Starts the child linked to `supervisor` (spawn_actor with link_to = supervisor.pid()) and
    // returns its handle, an empty handle for "ignore" (the child is kept as not running), or
    // start_failure(Reason). Either this or `factory`.
    std::function<Expected<ProcessHandle, SupervisorError>(const ProcessHandle& supervisor)>
        start{};
    std::optional<FactoryStart> factory{};  // one of SupervisorOptions::factories
    Restart restart = Restart::permanent;
    std::chrono::milliseconds shutdown = std::chrono::milliseconds(5000);
    ChildType type = ChildType::worker;
    // Its end (by itself, not restarted) counts for AutoShutdown; transient or temporary only.
    bool significant = false;
};

struct SupervisorOptions {
    Strategy strategy = Strategy::one_for_one;
    int intensity = 1;                       // restarts allowed ...
    std::chrono::milliseconds period{5000};  // ... within this window
    std::vector<ChildSpec> children{};       // in start order; the template for simple_one_for_one
    std::optional<Atom> name{};              // registered name
    std::optional<Pid> link_to{};            // the parent (another supervisor, say)
    AutoShutdown auto_shutdown = AutoShutdown::never;
    // What {distribute, Name, Args} in a child spec may name; none when unset.
    std::shared_ptr<const ChildFactories> factories{};
};

// Starts the children in order on the calling thread. Fails with StartErrc::bad_options
// ({duplicate_child_name, Id}, {invalid_intensity, N}, {bad_combination, ...}, ...), name_taken,
// or init_failed with {shutdown, {failed_to_start_child, Id, Reason}}; the children already
// started are then killed.
[[nodiscard]] Expected<ProcessHandle, StartError> start_supervisor(Node& node,
                                                                   SupervisorOptions options);
[[nodiscard]] Expected<ProcessHandle, StartError> start_supervisor(const ProcessHandle& on_node_of,
                                                                   SupervisorOptions options);

// Elixir's DynamicSupervisor: no children at start; start_child takes a whole spec each time
// (Elixir's DynamicSupervisor.start_child/2 from a BEAM node), children are addressed by pid,
// at most max_children at once, stopped in parallel. Defaults are Elixir's.
struct DynamicSupervisorOptions {
    int intensity = 3;
    std::chrono::milliseconds period{5000};
    std::optional<std::size_t> max_children{};  // nullopt: infinity
    std::vector<Term> extra_arguments{};        // put before each child's own args
    std::optional<Atom> name{};
    std::optional<Pid> link_to{};
    std::shared_ptr<const ChildFactories> factories{};
};
[[nodiscard]] Expected<ProcessHandle, StartError> start_dynamic_supervisor(
    Node& node, DynamicSupervisorOptions options);

// A child spec for an actor made by `make` each time it (re)starts, linked to the supervisor.
ChildSpec worker_child(std::string id, std::function<std::unique_ptr<Actor>()> make,
                       ActorOptions options = {}, Restart restart = Restart::permanent,
                       std::chrono::milliseconds shutdown = std::chrono::milliseconds(5000));
// A child spec for a nested supervisor (type supervisor, shutdown infinity by default).
ChildSpec supervisor_child(std::string id, SupervisorOptions options,
                           Restart restart = Restart::permanent,
                           std::chrono::milliseconds shutdown = shutdown_infinity);
// What ChildSpec::start returns for a spawn_actor result: the handle, an empty handle for
// ignored, else start_failure with the reason.
Expected<ProcessHandle, SupervisorError> child_result(Expected<ProcessHandle, StartError> started);

// ---------------------------------------------------------------------------------------------
// Asking a supervisor (ours or a BEAM's: these send supervisor.erl's calls). Blocking: for plain
// threads, not for callbacks.

struct ChildInfo {
    std::string id;          // the id's atom name or binary text; "undefined" for dynamic children
    std::optional<Pid> pid;  // nullopt: not running
    bool restarting = false;
    ChildType type = ChildType::worker;
};
// supervisor:which_children/1: newest child first, as supervisor.erl lists them.
[[nodiscard]] Expected<std::vector<ChildInfo>, SupervisorError> which_children(
    Node& node, const ServerRef& supervisor,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

struct ChildCounts {
    std::int64_t specs = 0, active = 0, supervisors = 0, workers = 0;
};
[[nodiscard]] Expected<ChildCounts, SupervisorError> count_children(
    Node& node, const ServerRef& supervisor,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

// supervisor:start_child/2 with a spec: the child's pid, or nullopt when its start said ignore.
// A spec with a `start` function can go only to a supervisor of this node; one with a
// `factory` travels as an Erlang child spec, to any supervisor that knows the factory.
[[nodiscard]] Expected<std::optional<Pid>, SupervisorError> start_child(
    Node& node, const ServerRef& supervisor, ChildSpec spec,
    std::chrono::milliseconds timeout = infinity_timeout);
// simple_one_for_one: start a child of the template with `extra_args` appended.
[[nodiscard]] Expected<std::optional<Pid>, SupervisorError> start_child(
    Node& node, const ServerRef& supervisor, std::vector<Term> extra_args,
    std::chrono::milliseconds timeout = infinity_timeout);
// Stops the child (its shutdown time, then kill); it stays known unless temporary.
[[nodiscard]] Expected<void, SupervisorError> terminate_child(
    Node& node, const ServerRef& supervisor, const std::string& id,
    std::chrono::milliseconds timeout = infinity_timeout);
// simple_one_for_one and dynamic supervisors: by pid.
[[nodiscard]] Expected<void, SupervisorError> terminate_child(
    Node& node, const ServerRef& supervisor, const Pid& child,
    std::chrono::milliseconds timeout = infinity_timeout);
[[nodiscard]] Expected<std::optional<Pid>, SupervisorError> restart_child(
    Node& node, const ServerRef& supervisor, const std::string& id,
    std::chrono::milliseconds timeout = infinity_timeout);
[[nodiscard]] Expected<void, SupervisorError> delete_child(
    Node& node, const ServerRef& supervisor, const std::string& id,
    std::chrono::milliseconds timeout = infinity_timeout);

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::SupervisorErrc> : std::true_type {};
