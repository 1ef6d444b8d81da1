// Signals between processes with Erlang's semantics: messages, links (the UNLINK_ID protocol for
// remote ones), monitors, exit signals, and what a process's end sets off. Exits that cascade
// along links are worked through with an explicit list, so a long chain of links cannot overflow
// the stack.
#include <exception>

#include "node/runtime.hpp"

namespace distribute::node {

namespace {

Term exit_message(const Pid& from, const Term& reason) {
    return tuple(atoms::EXIT, from, reason);
}

Term monitored_object(const wire::ProcessId& target, Atom node) {
    if (auto pid = std::get_if<Pid>(&target)) return Term(*pid);
    return tuple(std::get<Atom>(target), node);
}

Atom node_of(const wire::ProcessId& target, Atom fallback) {
    if (auto pid = std::get_if<Pid>(&target)) return pid->node;
    return fallback;
}

}  // namespace

std::shared_ptr<Process> Runtime::spawn(Process::Kind kind, Node::Handler handler, bool trap_exit) {
    auto process =
        std::make_shared<Process>(shared_from_this(), processes_.allocate(name_, creation_), kind,
                                  std::move(handler), trap_exit);
    if (stopped()) {
        process->alive = false;
        process->exit_reason = Term(atoms::shutdown);
        return process;
    }
    processes_.insert(process);
    return process;
}

bool Runtime::deliver(Process& to, Term message, bool priority) {
    std::unique_lock lock(to.mutex);
    if (!to.alive) {
        lock.unlock();
        count_dropped();
        return false;
    }
    if (priority) {
        to.queue.insert(to.queue.begin() + static_cast<std::ptrdiff_t>(to.priority_queued),
                        std::move(message));
        ++to.priority_queued;
        ++to.priority_arrivals;
    } else {
        to.queue.push_back(std::move(message));
    }
    if (to.kind == Process::Kind::mailbox) {
        lock.unlock();
        to.arrived.notify_one();
    } else if (!to.scheduled) {
        to.scheduled = true;
        lock.unlock();
        // defer, not post: from one of the node's threads (a session delivering what it read)
        // the handler runs on that same thread after the current work, instead of waking
        // another thread for every message.
        asio::defer(io_, [this, p = to.shared_from_this()] { run_handler(p); });
    }
    return true;
}

// One batch of a handler process's messages; another batch is posted if more are waiting, so a
// busy process does not starve the others on its thread.
void Runtime::run_handler(const std::shared_ptr<Process>& process) {
    constexpr int batch = 64;
    ProcessHandle self(process);
    for (int i = 0; i < batch; ++i) {
        Term message;
        {
            std::lock_guard lock(process->mutex);
            if (!process->alive || process->queue.empty()) {
                process->scheduled = false;
                return;
            }
            message = std::move(process->queue.front());
            process->queue.pop_front();
            if (process->priority_queued > 0) --process->priority_queued;
        }
        try {
            process->handler(self, std::move(message));
        } catch (const std::exception& e) {
            log(LogLevel::error,
                "process " + to_string(Term(process->pid)) + " crashed: " + e.what());
            terminate(process, tuple(Atom::make("cpp_exception").value(), binary(e.what())));
            return;
        }
    }
    asio::post(io_, [this, process] { run_handler(process); });
}

// ---------------------------------------------------------------------------------------------
// Messages

void Runtime::send(const Process& from, const Pid& to, Term message) {
    if (is_local(to.node)) {
        if (auto target = find(to))
            deliver(*target, std::move(message));
        else
            count_dropped();
        return;
    }
    auto connection = connection_to(to.node);
    if (!connection ||
        connection->send(wire::SendSender{from.pid, to, std::move(message), std::nullopt}) !=
            Connection::Sent::accepted)
        count_dropped();
}

void Runtime::send_named(const Process& from, Atom name, Atom node, Term message) {
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
    auto connection = connection_to(node);
    if (!connection || connection->send(wire::RegSend{from.pid, name, std::move(message),
                                                      std::nullopt}) != Connection::Sent::accepted)
        count_dropped();
}

void Runtime::send_alias(const Process& from, const Reference& alias, Term message, bool priority) {
    if (is_local(alias.node)) {
        if (auto target = aliases_.find(alias); target.process)
            deliver(*target.process, std::move(message), priority && target.priority);
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
// Links

void Runtime::link(Process& from, const Pid& to) {
    if (to == from.pid) return;
    if (is_local(to.node)) {
        auto target = find(to);
        {
            std::lock_guard lock(from.mutex);
            if (!from.alive) return;
            from.links[to] = LinkState{};
        }
        bool linked = false;
        if (target) {
            std::lock_guard lock(target->mutex);
            if (target->alive) {
                target->links.try_emplace(from.pid, LinkState{});
                linked = true;
            }
        }
        if (!linked) exit_signal({from.pid, to, Term(atoms::noproc), ExitKind::link});
        return;
    }
    auto connection = connection_to(to.node);
    if (!connection) {
        {
            std::lock_guard lock(from.mutex);
            from.links[to] = LinkState{};
        }
        exit_signal({from.pid, to, Term(atoms::noconnection), ExitKind::link});
        return;
    }
    {
        std::lock_guard lock(from.mutex);
        if (!from.alive) return;
        auto& state = from.links[to];
        state = LinkState{true, 0, connection->id};
    }
    // Went down meanwhile: fire the link here unless the sweep of connection_down got it
    // (apply_exit finds no link then).
    if (connection->send(wire::Link{from.pid, to}) == Connection::Sent::down)
        exit_signal({from.pid, to, Term(atoms::noconnection), ExitKind::link});
}

void Runtime::unlink(Process& from, const Pid& to) {
    std::uint64_t id = 0;
    std::uint64_t over = 0;
    {
        std::lock_guard lock(from.mutex);
        auto it = from.links.find(to);
        if (it == from.links.end() || !it->second.active) return;
        if (is_local(to.node)) {
            from.links.erase(it);
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
            target->links.erase(from.pid);
        }
        return;
    }
    if (auto connection = connection_if(to.node, over))
        connection->send(wire::UnlinkId{id, from.pid, to});
}

// ---------------------------------------------------------------------------------------------
// Monitors

Reference Runtime::monitor(Process& from, const wire::ProcessId& target, Atom node) {
    Reference ref = make_ref();
    const Atom target_node = node_of(target, node);
    if (is_local(target_node)) {
        auto pid = std::get_if<Pid>(&target);
        auto process = pid ? find(*pid) : whereis(std::get<Atom>(target));
        {
            std::lock_guard lock(from.mutex);
            if (!from.alive) return ref;
            from.monitors.emplace(ref, HeldMonitor{target, target_node, 0});
        }
        bool watching = false;
        if (process) {
            std::lock_guard lock(process->mutex);
            if (process->alive) {
                Watcher w{from.pid, !pid, pid ? Atom() : std::get<Atom>(target), 0};
                process->watchers.emplace(ref, w);
                watching = true;
            }
        }
        if (!watching) {
            {
                std::lock_guard lock(from.mutex);
                from.monitors.erase(ref);
            }
            down_message(from.pid, ref, target, target_node, Term(atoms::noproc));
        }
        return ref;
    }
    auto connection = connection_to(target_node);
    if (!connection) {
        down_message(from.pid, ref, target, target_node, Term(atoms::noconnection));
        return ref;
    }
    {
        std::lock_guard lock(from.mutex);
        if (!from.alive) return ref;
        from.monitors.emplace(ref, HeldMonitor{target, target_node, connection->id});
    }
    // A peer without DIST_MONITOR and DIST_MONITOR_NAME is not told (not_offered): the monitor
    // stays here alone and fires only with noconnection, as the BEAM keeps it for such a peer.
    if (connection->send(wire::MonitorP{from.pid, target, ref}) == Connection::Sent::down) {
        // Went down meanwhile: exactly one of this and the sweep of connection_down still finds
        // the monitor, and that one sends the DOWN.
        bool held;
        {
            std::lock_guard lock(from.mutex);
            held = from.monitors.erase(ref) > 0;
        }
        if (held) down_message(from.pid, ref, target, target_node, Term(atoms::noconnection));
    }
    return ref;
}

bool Runtime::demonitor(Process& from, const Reference& ref) {
    HeldMonitor held;
    {
        std::lock_guard lock(from.mutex);
        auto it = from.monitors.find(ref);
        if (it == from.monitors.end()) return false;
        held = std::move(it->second);
        from.monitors.erase(it);
    }
    if (is_local(held.node)) {
        auto pid = std::get_if<Pid>(&held.target);
        if (auto process = pid ? find(*pid) : nullptr) {
            std::lock_guard lock(process->mutex);
            process->watchers.erase(ref);
        } else if (!pid) {
            // A monitor by name sits on whoever had the name; look through that process.
            if (auto named = whereis(std::get<Atom>(held.target))) {
                std::lock_guard lock(named->mutex);
                named->watchers.erase(ref);
            }
        }
        return true;
    }
    if (auto connection = connection_if(held.node, held.connection))
        connection->send(wire::DemonitorP{from.pid, held.target, ref});
    return true;
}

void Runtime::down_message(const Pid& watcher, const Reference& ref, const wire::ProcessId& target,
                           Atom node, const Term& reason) {
    if (auto process = find(watcher))
        deliver(*process,
                tuple(atoms::DOWN, ref, atoms::process, monitored_object(target, node), reason));
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
    if (!target.process) {
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
        auto it = p.links.find(signal.from);
        if (it == p.links.end()) return;
        const bool active = it->second.active;
        p.links.erase(it);
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
            deliver(p, exit_message(signal.from, signal.reason), signal.priority);
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
    decltype(p.links) links;
    decltype(p.monitors) monitors;
    decltype(p.watchers) watchers;
    std::vector<Atom> names;
    std::vector<Reference> aliases;
    {
        std::lock_guard lock(p.mutex);
        if (!p.alive) return;
        p.alive = false;
        p.exit_reason = reason;
        links.swap(p.links);
        monitors.swap(p.monitors);
        watchers.swap(p.watchers);
        names.swap(p.names);
        aliases.swap(p.aliases);
        if (p.kind == Process::Kind::handler) {
            p.queue.clear();
            p.priority_queued = 0;
        }
    }
    p.arrived.notify_all();
    processes_.erase(p.pid);
    for (Atom name : names)
        names_.remove(name, &p);
    for (auto& alias : aliases)
        aliases_.remove(alias);

    for (auto& [pid, state] : links) {
        if (!state.active) continue;
        if (is_local(pid.node)) {
            more.push_back({pid, p.pid, reason, ExitKind::link});
        } else if (auto connection = connection_if(pid.node, state.connection)) {
            connection->send(wire::Exit{p.pid, pid, reason, std::nullopt});
        }
    }
    for (auto& [ref, held] : monitors) {
        if (is_local(held.node)) {
            auto pid = std::get_if<Pid>(&held.target);
            auto target = pid ? find(*pid) : whereis(std::get<Atom>(held.target));
            if (target) {
                std::lock_guard lock(target->mutex);
                target->watchers.erase(ref);
            }
        } else if (auto connection = connection_if(held.node, held.connection)) {
            connection->send(wire::DemonitorP{p.pid, held.target, ref});
        }
    }
    for (auto& [ref, w] : watchers) {
        wire::ProcessId object = w.by_name ? wire::ProcessId(w.name) : wire::ProcessId(p.pid);
        if (is_local(w.watcher.node)) {
            if (auto watcher = find(w.watcher)) {
                bool held;
                {
                    std::lock_guard lock(watcher->mutex);
                    held = watcher->monitors.erase(ref) > 0;
                }
                if (held) down_message(w.watcher, ref, object, name_, reason);
            }
        } else if (auto connection = connection_if(w.watcher.node, w.connection)) {
            connection->send(wire::MonitorPExit{object, w.watcher, ref, reason});
        }
    }
}

}  // namespace distribute::node
