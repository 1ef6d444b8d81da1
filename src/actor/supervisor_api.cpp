// Starting supervisors (options checked as supervisor:check_flags and check_childspecs do, and
// DynamicSupervisor's init) and the child spec helpers.
#include <set>

#include "actor/process_start.hpp"
#include "actor/supervisor_core.hpp"
#include "node/access.hpp"

namespace distribute {

namespace {

Atom atom(const char* name) {
    return Atom::make(name).value();
}

Term bad_combination(const char* key, const char* value) {
    return tuple(atom("bad_combination"),
                 list(tuple(atom(key), atom(value)), tuple(atom("significant"), atoms::true_)));
}

// The first thing wrong with the options, as the reason supervisor.erl would give.
std::optional<Term> check(const SupervisorOptions& o) {
    if (o.intensity < 0) return tuple(atom("invalid_intensity"), o.intensity);
    if (o.period.count() <= 0)
        return tuple(atom("invalid_period"), static_cast<std::int64_t>(o.period.count()));
    if (o.strategy == Strategy::simple_one_for_one && o.children.size() != 1)
        return tuple(atom("bad_start_spec"), static_cast<std::int64_t>(o.children.size()));
    std::set<std::string> seen;
    for (const auto& c : o.children) {
        if (c.id.empty()) return Term(atom("missing_id"));
        if (!seen.insert(c.id).second)
            return tuple(atom("duplicate_child_name"), actor_detail::child_id_term(c.id));
        if (!c.start && !c.factory)
            return tuple(atom("missing_start"), actor_detail::child_id_term(c.id));
        if (c.shutdown < std::chrono::milliseconds(0) && c.shutdown != brutal_kill)
            return tuple(atom("invalid_shutdown"), static_cast<std::int64_t>(c.shutdown.count()));
        if (c.significant && o.auto_shutdown == AutoShutdown::never)
            return bad_combination("auto_shutdown", "never");
        if (c.significant && c.restart == Restart::permanent)
            return bad_combination("restart", "permanent");
    }
    return std::nullopt;
}

Expected<ProcessHandle, StartError> start(node::Runtime& runtime,
                                          actor_detail::SupervisorConfig config) {
    if (auto bad = check(config.options))
        return unexpected(StartError{StartErrc::bad_options, *bad});
    const auto name = config.options.name;
    const auto parent = config.options.link_to;
    auto core = std::make_shared<actor_detail::Supervisor>(std::move(config), runtime.make_ref());
    // A supervisor traps exits: its children's ends are messages it acts on.
    static const Atom supervisor = Atom::make("supervisor").value();
    auto spawned = actor_detail::spawn_linked(
        runtime, [core](const ProcessHandle& self, Term m) { core->handle(self, std::move(m)); },
        {.trap_exit = true,
         .link_to = parent,
         .name = name,
         .spawner = std::nullopt,
         .initial_call = tuple(supervisor, name ? Term(*name) : Term(supervisor), 1)});
    if (!spawned) return spawned;
    const ProcessHandle& self = *spawned;
    if (auto started = core->init(self); !started) {
        actor_detail::abandon(self, name, started.error());
        return unexpected(StartError{StartErrc::init_failed, started.error()});
    }
    if (!self.alive())
        return unexpected(StartError{StartErrc::init_failed, actor_detail::exit_reason(self)});
    core->gate.open(self);
    return spawned;
}

actor_detail::SupervisorConfig config_of(SupervisorOptions options) {
    actor_detail::SupervisorConfig config;
    config.kind = options.strategy == Strategy::simple_one_for_one
                      ? actor_detail::SupervisorKind::simple
                      : actor_detail::SupervisorKind::with_ids;
    config.options = std::move(options);
    return config;
}

}  // namespace

Expected<ProcessHandle, StartError> start_supervisor(Node& node, SupervisorOptions options) {
    return start(node::Access::runtime(node), config_of(std::move(options)));
}

Expected<ProcessHandle, StartError> start_supervisor(const ProcessHandle& on_node_of,
                                                     SupervisorOptions options) {
    return start(node::Access::process(on_node_of).runtime, config_of(std::move(options)));
}

Expected<ProcessHandle, StartError> start_dynamic_supervisor(Node& node,
                                                             DynamicSupervisorOptions options) {
    actor_detail::SupervisorConfig config;
    config.kind = actor_detail::SupervisorKind::dynamic;
    config.options.strategy = Strategy::one_for_one;
    config.options.intensity = options.intensity;
    config.options.period = options.period;
    config.options.name = options.name;
    config.options.link_to = options.link_to;
    config.options.factories = std::move(options.factories);
    config.max_children = options.max_children;
    config.extra_arguments = std::move(options.extra_arguments);
    return start(node::Access::runtime(node), std::move(config));
}

Expected<ProcessHandle, SupervisorError> child_result(Expected<ProcessHandle, StartError> started) {
    if (started) return std::move(*started);
    if (started.error().code == StartErrc::ignored) return ProcessHandle();
    return unexpected(start_failure(started.error().reason));
}

ChildSpec worker_child(std::string id, std::function<std::unique_ptr<Actor>()> make,
                       ActorOptions options, Restart restart, std::chrono::milliseconds shutdown) {
    ChildSpec spec;
    spec.id = std::move(id);
    spec.start = [make = std::move(make), options](const ProcessHandle& supervisor) {
        ActorOptions o = options;
        o.link_to = supervisor.pid();
        return child_result(spawn_actor(supervisor, make(), o));
    };
    spec.restart = restart;
    spec.shutdown = shutdown;
    spec.type = ChildType::worker;
    return spec;
}

ChildSpec supervisor_child(std::string id, SupervisorOptions options, Restart restart,
                           std::chrono::milliseconds shutdown) {
    ChildSpec spec;
    spec.id = std::move(id);
    spec.start = [options = std::move(options)](const ProcessHandle& supervisor) {
        SupervisorOptions o = options;
        o.link_to = supervisor.pid();
        return child_result(start_supervisor(supervisor, std::move(o)));
    };
    spec.restart = restart;
    spec.shutdown = shutdown;
    spec.type = ChildType::supervisor;
    return spec;
}

}  // namespace distribute
