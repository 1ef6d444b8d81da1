// Supervisors with the semantics of OTP's supervisor.erl: children started in order and linked to
// the supervisor, restarted by strategy (one_for_one, one_for_all, rest_for_one) and restart type
// (permanent, transient, temporary), a restart intensity counted over a sliding period past which
// the supervisor gives up and exits with `shutdown`, and an ordered shutdown: children stopped in
// reverse start order, each with exit(Child, shutdown), given its shutdown time to go, then
// killed. Supervisors nest (a supervisor is a child like any other), and BEAM nodes see them as
// supervisors: supervisor:which_children({Name, CppNode}) and count_children work, and
// gen_server:stop({Name, CppNode}) shuts one down in order.
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
#include <optional>
#include <string>
#include <vector>

#include "distribute/actor.hpp"
#include "distribute/expected.hpp"
#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"
#include "distribute/term.hpp"

namespace distribute {

enum class Strategy {
    one_for_one,   // restart the child that ended
    one_for_all,   // stop all the others (reverse order), then restart them all in order
    rest_for_one,  // stop the children started after it (reverse order), then restart those
};

enum class Restart {
    permanent,  // always restarted
    transient,  // restarted unless it ended with normal, shutdown or {shutdown, _}
    temporary,  // never restarted; forgotten once it ends
};

enum class ChildType { worker, supervisor };

// ChildSpec::shutdown values besides a time: kill at once, or wait as long as it takes (the
// default for supervisors, which need the time to stop their own children).
inline constexpr std::chrono::milliseconds brutal_kill = std::chrono::milliseconds(-1);
inline constexpr std::chrono::milliseconds shutdown_infinity = infinity_timeout;

struct ChildSpec {
    std::string id{};
    // Starts the child linked to `supervisor` (spawn_actor with link_to = supervisor.pid()) and
    // returns its handle, an empty handle for "ignore" (the child is kept as not running), or
    // the reason it could not start.
    std::function<Expected<ProcessHandle, Term>(const ProcessHandle& supervisor)> start{};
    Restart restart = Restart::permanent;
    std::chrono::milliseconds shutdown = std::chrono::milliseconds(5000);
    ChildType type = ChildType::worker;
};

struct SupervisorOptions {
    Strategy strategy = Strategy::one_for_one;
    int intensity = 1;                       // restarts allowed ...
    std::chrono::milliseconds period{5000};  // ... within this window
    std::vector<ChildSpec> children{};       // in start order
    std::optional<Atom> name{};              // registered name
    std::optional<Pid> link_to{};            // the parent (another supervisor, say)
};

// Starts the children in order on the calling thread. Fails with StartErrc::bad_options
// ({duplicate_child_name, Id}, {invalid_intensity, N}, ...), name_taken, or init_failed with
// {shutdown, {failed_to_start_child, Id, Reason}}; the children already started are then killed.
[[nodiscard]] Expected<ProcessHandle, StartError> start_supervisor(Node& node,
                                                                   SupervisorOptions options);
[[nodiscard]] Expected<ProcessHandle, StartError> start_supervisor(const ProcessHandle& on_node_of,
                                                                   SupervisorOptions options);

// A child spec for an actor made by `make` each time it (re)starts, linked to the supervisor.
ChildSpec worker_child(std::string id, std::function<std::unique_ptr<Actor>()> make,
                       ActorOptions options = {}, Restart restart = Restart::permanent,
                       std::chrono::milliseconds shutdown = std::chrono::milliseconds(5000));
// A child spec for a nested supervisor (type supervisor, shutdown infinity by default).
ChildSpec supervisor_child(std::string id, SupervisorOptions options,
                           Restart restart = Restart::permanent,
                           std::chrono::milliseconds shutdown = shutdown_infinity);
// What ChildSpec::start returns for a spawn_actor result: the handle, an empty handle for
// ignored, else the reason.
Expected<ProcessHandle, Term> child_result(Expected<ProcessHandle, StartError> started);

// supervisor:which_children/1, from a plain thread: one entry per child in start order.
struct ChildInfo {
    std::string id;
    std::optional<Pid> pid;  // nullopt: not running
    bool restarting = false;
    ChildType type = ChildType::worker;
};
[[nodiscard]] Expected<std::vector<ChildInfo>, Term> which_children(
    Node& node, const Pid& supervisor,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

}  // namespace distribute
