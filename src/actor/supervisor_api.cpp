// Starting supervisors (options checked as supervisor:check_flags and check_childspecs do), the
// child spec helpers, and supervisor:which_children/1 from a plain thread.
#include <set>

#include "actor/process_start.hpp"
#include "actor/supervisor_core.hpp"
#include "distribute/messaging.hpp"
#include "node/access.hpp"

namespace distribute {

namespace {

Atom atom(const char* name) {
    return Atom::make(name).value();
}

// The first thing wrong with the options, as the reason supervisor.erl would give.
std::optional<Term> check(const SupervisorOptions& o) {
    if (o.intensity < 0) return tuple(atom("invalid_intensity"), o.intensity);
    if (o.period.count() <= 0)
        return tuple(atom("invalid_period"), static_cast<std::int64_t>(o.period.count()));
    std::set<std::string> seen;
    for (const auto& c : o.children) {
        if (c.id.empty()) return Term(atom("missing_id"));
        if (!seen.insert(c.id).second)
            return tuple(atom("duplicate_child_name"), actor_detail::child_id_term(c.id));
        if (!c.start) return tuple(atom("missing_start"), actor_detail::child_id_term(c.id));
        if (c.shutdown < std::chrono::milliseconds(0) && c.shutdown != brutal_kill)
            return tuple(atom("invalid_shutdown"), static_cast<std::int64_t>(c.shutdown.count()));
    }
    return std::nullopt;
}

Expected<ProcessHandle, StartError> start(node::Runtime& runtime, SupervisorOptions options) {
    if (auto bad = check(options)) return unexpected(StartError{StartErrc::bad_options, *bad});
    const auto name = options.name;
    const auto parent = options.link_to;
    auto core = std::make_shared<actor_detail::Supervisor>(std::move(options), runtime.make_ref());
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

}  // namespace

Expected<ProcessHandle, StartError> start_supervisor(Node& node, SupervisorOptions options) {
    return start(node::Access::runtime(node), std::move(options));
}

Expected<ProcessHandle, StartError> start_supervisor(const ProcessHandle& on_node_of,
                                                     SupervisorOptions options) {
    return start(node::Access::process(on_node_of).runtime, std::move(options));
}

Expected<ProcessHandle, Term> child_result(Expected<ProcessHandle, StartError> started) {
    if (started) return std::move(*started);
    if (started.error().code == StartErrc::ignored) return ProcessHandle();
    return unexpected(started.error().reason);
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

Expected<std::vector<ChildInfo>, Term> which_children(Node& node, const Pid& supervisor,
                                                      std::chrono::milliseconds timeout) {
    static const Atom restarting = atom("restarting");
    static const Atom sup = atom("supervisor");
    Mailbox me = node.open_mailbox();
    auto reply = request_term(me, ServerRef(supervisor), Term(atom("which_children")), timeout);
    if (!reply) {
        if (reply.error().code == CallErrc::timeout) return unexpected(Term(atoms::timeout));
        if (!reply.error().reason.is_nil()) return unexpected(reply.error().reason);
        return unexpected(Term(atoms::noproc));
    }
    if (!reply->is_proper_list()) return unexpected(*reply);
    std::vector<ChildInfo> out;
    for (const Term& entry : reply->elements()) {
        if (!entry.is_tuple(4)) return unexpected(*reply);
        ChildInfo info;
        info.id = actor_detail::child_id_from(entry[0]).value_or(to_string(entry[0]));
        info.pid = entry[1].to<Pid>();
        info.restarting = entry[1].is_atom(restarting);
        info.type = entry[2].is_atom(sup) ? ChildType::supervisor : ChildType::worker;
        out.push_back(std::move(info));
    }
    return out;
}

}  // namespace distribute
