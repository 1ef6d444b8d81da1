// Spawning across nodes: requests this node sends, and the halves of links and monitors that a
// process spawned for a peer owes it.
#include "node/runtime.hpp"

namespace distribute::node {

namespace {
const Atom& notsup() {
    static const Atom atom = Atom::make("notsup").value();
    return atom;
}
}  // namespace

Reference Runtime::spawn_request(Process& from, Atom node, Atom module, Atom function, Term args,
                                 Term options, bool errors_only) {
    static const Atom spawn_reply = Atom::make("spawn_reply").value();
    Reference ref = make_ref();
    auto refuse = [&](Atom why) {
        deliver(from, tuple(spawn_reply, ref, atoms::error, why));
        return ref;
    };
    // Spawning by name runs Erlang functions; this node has none of its own to run.
    if (is_local(node)) return refuse(notsup());
    auto connection = connection_to(node);
    if (!connection) return refuse(atoms::noconnection);
    // The refusal is delivered after the lock is released: delivering takes from.mutex itself.
    bool crossed = false;
    {
        std::lock_guard lock(from.mutex);
        if (!from.alive) return ref;
        crossed = cross(from, *connection);
        if (crossed)
            from.related().spawning.emplace(ref, PendingSpawn{connection->id, !errors_only});
    }
    if (!crossed) return refuse(atoms::noconnection);
    const auto arity = static_cast<std::uint32_t>(args.elements().size());
    // A C++ process has no group leader; the BEAM wants a pid there, and the requester is one.
    wire::SpawnRequest request{ref,   from.pid, from.pid,        module,      function,
                               arity, options,  std::move(args), std::nullopt};
    switch (connection->send(request)) {
        case Connection::Sent::accepted:
            break;
        case Connection::Sent::down:
            spawn_refused(from.pid, ref, atoms::noconnection);
            break;
        case Connection::Sent::not_offered:
            spawn_refused(from.pid, ref, notsup());
            break;
    }
    return ref;
}

void Runtime::abandon_spawn(Process& from, const Reference& ref) {
    {
        std::lock_guard lock(from.mutex);
        if (from.relations) from.relations->spawning.erase(ref);
    }
    demonitor(from, ref);
}

void Runtime::spawn_refused(const Pid& requester, const Reference& ref, Atom why) {
    static const Atom spawn_reply = Atom::make("spawn_reply").value();
    auto process = find(requester);
    if (!process) return;
    {
        std::lock_guard lock(process->mutex);
        if (!process->relations || process->relations->spawning.erase(ref) == 0) return;
    }
    deliver(*process, tuple(spawn_reply, ref, atoms::error, why));
}

void Runtime::not_offered(const wire::Control& control) {
    if (auto* request = std::get_if<wire::SpawnRequest>(&control))
        spawn_refused(request->from, request->req_id, notsup());
    else if (std::holds_alternative<wire::AliasSend>(control) ||
             std::holds_alternative<wire::AliasExit>(control))
        count_dropped();
}

void Runtime::set_spawn_service(std::shared_ptr<SpawnService> service) {
    spawn_service_ = std::move(service);
}

void Runtime::set_services(std::shared_ptr<Services> services) {
    services_ = std::move(services);
}

void Runtime::add_remote_watcher(Process& target, const Pid& watcher, const Reference& ref,
                                 Connection& over) {
    std::lock_guard lock(target.mutex);
    if (target.alive && cross(target, over))
        target.related().watchers.emplace(ref, Watcher{watcher, false, Atom(), over.id});
}

void Runtime::add_remote_link(Process& target, const Pid& other, Connection& over) {
    std::lock_guard lock(target.mutex);
    if (target.alive && cross(target, over))
        target.related().links[other] = LinkState{true, 0, over.id};
}

}  // namespace distribute::node
