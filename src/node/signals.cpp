// Signals between processes with Erlang's semantics: messages, links (the UNLINK_ID protocol for
// remote ones), monitors, exit signals, and what a process's end sets off. Exits that cascade
// along links are worked through with an explicit list, so a long chain of links cannot overflow
// the stack.
#include "node/runtime.hpp"

namespace distribute::node {

namespace {

Term exit_message(const Pid& from, const Term& reason) {
    return tuple(atoms::EXIT, from, reason);
}

Atom node_of(const wire::ProcessId& target, Atom fallback) {
    if (auto pid = std::get_if<Pid>(&target)) return pid->node;
    return fallback;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Messages

void Runtime::send(const Process& from, const Pid& to, Term message, Dial dial) {
    if (is_local(to.node)) {
        if (auto target = find(to))
            deliver(*target, std::move(message));
        else
            count_dropped();
        return;
    }
    auto connection = connection_for(to.node, dial);
    if (!connection ||
        connection->send(wire::SendSender{from.pid, to, std::move(message), std::nullopt}) !=
            Connection::Sent::accepted)
        count_dropped();
}

void Runtime::send_named(const Process& from, Atom name, Atom node, Term message, Dial dial) {
    if (is_local(node)) {
        if (auto target = whereis(name)) {
            deliver(*target, std::move(message));
        } else {
            // As the BEAM: a message to a name nobody has is dropped, not an error.
            count_dropped();
            log(LogLevel::debug,
                "dropped a message to the unregistered name " + std::string(name.name()));
        }
        return;
    }
    auto connection = connection_for(node, dial);
    if (!connection || connection->send(wire::RegSend{from.pid, name, std::move(message),
                                                      std::nullopt}) != Connection::Sent::accepted)
        count_dropped();
}

void Runtime::send_alias(const Process& from, const Reference& alias, Term message, bool priority) {
    if (is_local(alias.node)) {
        if (auto target = aliases_.find(alias); target.process)
            deliver(*target.process, std::move(message), &alias, priority && target.priority);
        else
            count_dropped();
        return;
    }
    // Out as ALTACT_SIG_SEND where the peer offers it, else as ALIAS_SEND (the encoder chooses);
    // a peer with neither cannot have made the alias: the message is dropped, as erts drops it.
    auto connection = connection_to(alias.node);
    if (!connection ||
        connection->send(wire::AliasSend{from.pid, alias, std::move(message), std::nullopt,
                                         priority}) != Connection::Sent::accepted)
        count_dropped();
}

// ---------------------------------------------------------------------------------------------
// What crosses a connection

bool Runtime::cross(Process& process, Connection& connection) {
    auto& crossings = process.related().crossings;
    for (auto& c : crossings)
        if (c.connection == connection.id) return true;
    if (!connection.add_crossing(ProcessTable::key(process.pid), process.weak_from_this()))
        return false;
    crossings.push_back({connection.peer, connection.id});
    return true;
}

// ---------------------------------------------------------------------------------------------
// Links

void Runtime::link(Process& from, const Pid& to) {
    if (to == from.pid) return;
    if (is_local(to.node)) {
        auto target = find(to);
        {
            std::lock_guard lock(from.mutex);
            if (!from.alive) return;
            from.related().links[to] = LinkState{};
        }
        bool linked = false;
        if (target) {
            std::lock_guard lock(target->mutex);
            if (target->alive) {
                target->related().links.try_emplace(from.pid, LinkState{});
                linked = true;
            }
        }
        if (!linked) exit_signal({from.pid, to, Term(atoms::noproc), ExitKind::link});
        return;
    }
    auto connection = connection_to(to.node);
    bool crossed = false;
    {
        std::lock_guard lock(from.mutex);
        if (!from.alive) return;
        crossed = connection && cross(from, *connection);
        from.related().links[to] = LinkState{true, 0, crossed ? connection->id : 0};
    }
    // Unreachable, or gone down meanwhile: the link fires here unless the sweep of
    // connection_down got it (apply_exit finds no link then).
    if (!crossed || connection->send(wire::Link{from.pid, to}) == Connection::Sent::down)
        exit_signal({from.pid, to, Term(atoms::noconnection), ExitKind::link});
}

void Runtime::unlink(Process& from, const Pid& to) {
    std::uint64_t id = 0;
    std::uint64_t over = 0;
    {
        std::lock_guard lock(from.mutex);
        if (!from.relations) return;
        auto& links = from.relations->links;
        auto it = links.find(to);
        if (it == links.end() || !it->second.active) return;
        if (is_local(to.node)) {
            links.erase(it);
        } else {
            id = next_unlink_id_.fetch_add(1, std::memory_order_relaxed);
            it->second.active = false;
            it->second.unlink_id = id;
            over = it->second.connection;
        }
    }
    if (id == 0) {
        // Both ends are here: both sides of the link go at once, no acknowledgement needed.
        if (auto target = find(to)) {
            std::lock_guard lock(target->mutex);
            if (target->relations) target->relations->links.erase(from.pid);
        }
        return;
    }
    if (auto connection = connection_if(to.node, over))
        connection->send(wire::UnlinkId{id, from.pid, to});
}

// ---------------------------------------------------------------------------------------------
// Monitors

Reference Runtime::monitor(Process& from, const wire::ProcessId& target, Atom node, bool alias) {
    Reference ref = make_ref();
    const Atom target_node = node_of(target, node);
    // The alias is in the table before the monitor exists: a reply cannot overtake it.
    if (alias) aliases_.add(ref, from.shared_from_this(), false);
    auto unalias = [&] {
        if (alias) aliases_.remove(ref);
    };
    if (is_local(target_node)) {
        auto pid = std::get_if<Pid>(&target);
        auto process = pid ? find(*pid) : whereis(std::get<Atom>(target));
        {
            std::lock_guard lock(from.mutex);
            if (!from.alive) {
                unalias();
                return ref;
            }
            from.related().monitors.emplace(ref, HeldMonitor{target, target_node, 0, alias});
        }
        bool watching = false;
        if (process) {
            std::lock_guard lock(process->mutex);
            if (process->alive) {
                Watcher w{from.pid, !pid, pid ? Atom() : std::get<Atom>(target), 0};
                process->related().watchers.emplace(ref, w);
                watching = true;
            }
        }
        if (!watching) fire_monitor(from, ref, target, target_node, Term(atoms::noproc));
        return ref;
    }
    auto connection = connection_to(target_node);
    bool crossed = false;
    {
        std::lock_guard lock(from.mutex);
        if (!from.alive) {
            unalias();
            return ref;
        }
        crossed = connection && cross(from, *connection);
        from.related().monitors.emplace(
            ref, HeldMonitor{target, target_node, crossed ? connection->id : 0, alias});
    }
    // Unreachable, or gone down meanwhile: exactly one of this and the sweep of connection_down
    // still finds the monitor, and that one sends the 'DOWN'. A peer without DIST_MONITOR is not
    // told (not_offered): the monitor stays here alone and fires only with noconnection, as the
    // BEAM keeps it for such a peer.
    if (!crossed ||
        connection->send(wire::MonitorP{from.pid, target, ref}) == Connection::Sent::down)
        fire_monitor(from, ref, target, target_node, Term(atoms::noconnection));
    return ref;
}

bool Runtime::demonitor(Process& from, const Reference& ref) {
    HeldMonitor held;
    {
        std::lock_guard lock(from.mutex);
        if (!from.relations) return false;
        auto& monitors = from.relations->monitors;
        auto it = monitors.find(ref);
        if (it == monitors.end()) return false;
        held = std::move(it->second);
        monitors.erase(it);
    }
    if (held.alias) aliases_.remove(ref);
    if (is_local(held.node)) {
        auto pid = std::get_if<Pid>(&held.target);
        // A monitor by name sits on whoever had the name; look through that process.
        auto process = pid ? find(*pid) : whereis(std::get<Atom>(held.target));
        if (process) {
            std::lock_guard lock(process->mutex);
            if (process->relations) process->relations->watchers.erase(ref);
        }
        return true;
    }
    if (auto connection = connection_if(held.node, held.connection))
        connection->send(wire::DemonitorP{from.pid, held.target, ref});
    return true;
}

// ---------------------------------------------------------------------------------------------
// Exit signals

void Runtime::exit2(const Process& from, const Pid& to, Term reason) {
    if (is_local(to.node)) {
        exit_signal({to, from.pid, std::move(reason), ExitKind::exit2});
        return;
    }
    if (auto connection = connection_to(to.node))
        connection->send(wire::Exit2{from.pid, to, std::move(reason), std::nullopt});
}

void Runtime::exit_alias(const Process& from, const Reference& alias, Term reason, bool priority) {
    if (is_local(alias.node)) {
        incoming_alias_exit(
            wire::AliasExit{from.pid, alias, std::move(reason), std::nullopt, priority});
        return;
    }
    // Only as ALTACT_SIG_SEND: a peer before OTP 28 has no way to take it, and it is dropped, as
    // erts drops it (wire/capabilities.hpp).
    auto connection = connection_to(alias.node);
    if (connection &&
        connection->send(wire::AliasExit{from.pid, alias, std::move(reason), std::nullopt,
                                         priority}) == Connection::Sent::not_offered)
        count_dropped();
}

void Runtime::incoming_alias_exit(wire::AliasExit&& exit) {
    auto target = aliases_.find(exit.alias);
    if (!target.process || !holds_alias(*target.process, exit.alias)) {
        count_dropped();
        return;
    }
    exit_signal({target.process->pid, exit.from, std::move(exit.reason), ExitKind::exit2,
                 exit.priority && target.priority});
}

void Runtime::exit_signal(PendingExit signal) {
    std::vector<PendingExit> work{std::move(signal)};
    while (!work.empty()) {
        PendingExit next = std::move(work.back());
        work.pop_back();
        apply_exit(next, work);
    }
}

void Runtime::apply_exit(const PendingExit& signal, std::vector<PendingExit>& more) {
    auto process = find(signal.to);
    if (!process) return;
    Process& p = *process;
    std::unique_lock lock(p.mutex);
    if (!p.alive) return;
    Term dies_with;
    if (signal.kind == ExitKind::link) {
        if (!p.relations) return;
        auto& links = p.relations->links;
        auto it = links.find(signal.from);
        if (it == links.end()) return;
        const bool active = it->second.active;
        links.erase(it);
        if (!active) return;  // an unlink is under way: the processes are not linked
        if (p.trap_exit) {
            lock.unlock();
            deliver(p, exit_message(signal.from, signal.reason));
            return;
        }
        if (signal.reason.is_atom(atoms::normal)) return;
        dies_with = signal.reason;
    } else {
        if (signal.reason.is_atom(atoms::kill)) {
            dies_with = Term(atoms::killed);  // kill cannot be trapped
        } else if (p.trap_exit) {
            lock.unlock();
            deliver(p, exit_message(signal.from, signal.reason), nullptr, signal.priority);
            return;
        } else if (signal.reason.is_atom(atoms::normal)) {
            if (!(signal.from == p.pid)) return;  // exit(self(), normal) ends the caller
            dies_with = signal.reason;
        } else {
            dies_with = signal.reason;
        }
    }
    lock.unlock();
    die(p, std::move(dies_with), more);
}

void Runtime::terminate(const std::shared_ptr<Process>& process, Term reason) {
    std::vector<PendingExit> work;
    die(*process, std::move(reason), work);
    while (!work.empty()) {
        PendingExit next = std::move(work.back());
        work.pop_back();
        apply_exit(next, work);
    }
}

void Runtime::die(Process& p, Term reason, std::vector<PendingExit>& more) {
    std::unique_ptr<Relations> relations;
    LanedQueue unread;
    LanedQueue unhandled;
    {
        std::unique_lock lock(p.mutex);
        if (!p.alive) return;
        p.alive = false;
        p.exit_reason = reason;
        relations = std::move(p.relations);
        // A mailbox's thread still gets `exited` after what it has; other kinds read no more.
        if (p.kind != Process::Kind::mailbox) unread = std::move(p.inbox);
        if (p.kind == Process::Kind::handler && !p.scheduled) {
            // No turn runs or will: this thread is the consumer now, and finishes it here
            // instead of scheduling a turn for it.
            unhandled = std::move(p.seen);
            p.released = true;
        } else {
            p.wake(lock);  // a mailbox's thread returns; a handler's or coroutine's turn ends it
        }
    }
    processes_.erase(p.pid);
    if (!relations) return;
    for (Atom name : relations->names)
        names_.remove(name, &p);
    for (auto& alias : relations->aliases)
        aliases_.remove(alias);
    for (auto& crossing : relations->crossings)
        if (auto connection = connection_if(crossing.peer, crossing.connection))
            connection->remove_crossing(ProcessTable::key(p.pid));

    for (auto& [pid, state] : relations->links) {
        if (!state.active) continue;
        if (is_local(pid.node)) {
            more.push_back({pid, p.pid, reason, ExitKind::link});
        } else if (auto connection = connection_if(pid.node, state.connection)) {
            connection->send(wire::Exit{p.pid, pid, reason, std::nullopt});
        }
    }
    for (auto& [ref, held] : relations->monitors) {
        if (held.alias) aliases_.remove(ref);
        if (is_local(held.node)) {
            auto pid = std::get_if<Pid>(&held.target);
            auto target = pid ? find(*pid) : whereis(std::get<Atom>(held.target));
            if (target) {
                std::lock_guard lock(target->mutex);
                if (target->relations) target->relations->watchers.erase(ref);
            }
        } else if (auto connection = connection_if(held.node, held.connection)) {
            connection->send(wire::DemonitorP{p.pid, held.target, ref});
        }
    }
    for (auto& [ref, w] : relations->watchers) {
        wire::ProcessId object = w.by_name ? wire::ProcessId(w.name) : wire::ProcessId(p.pid);
        if (is_local(w.watcher.node)) {
            if (auto watcher = find(w.watcher)) fire_monitor(*watcher, ref, object, name_, reason);
        } else if (auto connection = connection_if(w.watcher.node, w.connection)) {
            connection->send(wire::MonitorPExit{object, w.watcher, ref, reason});
        }
    }
}

}  // namespace distribute::node
