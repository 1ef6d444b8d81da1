// Controls that arrive from other nodes, applied to the processes here. Everything a peer sends
// is checked for a target that exists; what does not reach anybody is dropped and counted.
#include "node/runtime.hpp"

namespace distribute::node {

namespace {
template <class... F>
struct Visitor : F... {
    using F::operator()...;
};
template <class... F>
Visitor(F...) -> Visitor<F...>;
}  // namespace

void Runtime::route(const net::Session& from, wire::Control&& control) {
    auto to_pid = [this](const Pid& pid, Term&& message) {
        if (auto process = find(pid))
            deliver(*process, std::move(message));
        else
            count_dropped();
    };
    // Messages, nearly all of what arrives, do not look up their connection; the signals that
    // record something over it or answer through it do. Gone meanwhile (replaced by a newer
    // connection of the peer), it takes no more of this session's signals.
    auto over_connection = [&](auto&& signal) {
        if (auto connection = connection_of(from)) signal(*connection);
    };
    std::visit(
        Visitor{
            [&](wire::Send& m) { to_pid(m.to, std::move(m.message)); },
            [&](wire::SendSender& m) { to_pid(m.to, std::move(m.message)); },
            [&](wire::RegSend& m) {
                if (auto process = whereis(m.to_name)) {
                    deliver(*process, std::move(m.message));
                } else {
                    count_dropped();
                    log(LogLevel::debug,
                        "dropped a message from " + std::string(from.peer_node.name()) +
                            " to the unregistered name " + std::string(m.to_name.name()));
                }
            },
            [&](wire::AliasSend& m) {
                // Priority only through an alias made for it (alias([priority])).
                if (auto target = aliases_.find(m.alias); target.process)
                    deliver(*target.process, std::move(m.message), &m.alias,
                            m.priority && target.priority);
                else
                    count_dropped();
            },
            [&](wire::AliasExit& m) { incoming_alias_exit(std::move(m)); },
            [&](wire::Link& m) { over_connection([&](Connection& c) { incoming_link(c, m); }); },
            [&](wire::UnlinkId& m) {
                over_connection([&](Connection& c) { incoming_unlink_id(c, m); });
            },
            [&](wire::UnlinkIdAck& m) { incoming_unlink_ack(m); },
            [&](wire::Unlink& m) {
                // The pre-OTP 26 unlink: drop an active link, with no acknowledgement.
                if (auto process = find(m.to)) {
                    std::lock_guard lock(process->mutex);
                    if (!process->relations) return;
                    auto& links = process->relations->links;
                    auto it = links.find(m.from);
                    if (it != links.end() && it->second.active) links.erase(it);
                }
            },
            [&](wire::Exit& m) {
                exit_signal({m.to, m.from, std::move(m.reason), ExitKind::link});
            },
            [&](wire::Exit2& m) {
                exit_signal({m.to, m.from, std::move(m.reason), ExitKind::exit2});
            },
            [&](wire::MonitorP& m) {
                over_connection([&](Connection& c) { incoming_monitor(c, m); });
            },
            [&](wire::DemonitorP& m) { incoming_demonitor(m); },
            [&](wire::MonitorPExit& m) {
                over_connection([&](Connection& c) { incoming_monitor_exit(c, std::move(m)); });
            },
            [&](wire::SpawnRequest& m) {
                over_connection([&](Connection& c) { incoming_spawn_request(c, std::move(m)); });
            },
            [&](wire::SpawnReply& m) {
                over_connection([&](Connection& c) { incoming_spawn_reply(c, std::move(m)); });
            },
            [&](wire::GroupLeader&) {},  // C++ processes have no group leader to set
            [&](wire::NodeLink&) {},
        },
        control);
}

void Runtime::incoming_link(Connection& from, const wire::Link& link) {
    if (auto process = find(link.to)) {
        std::lock_guard lock(process->mutex);
        if (process->alive) {
            // An existing entry (even one being unlinked) is left alone: see the link protocol.
            // A connection going down already gets nothing recorded over it.
            if (cross(*process, from))
                process->related().links.try_emplace(link.from, LinkState{true, 0, from.id});
            return;
        }
    }
    // Linking to a process that does not exist gives the linker an exit signal noproc.
    from.send(wire::Exit{link.to, link.from, Term(atoms::noproc), std::nullopt});
}

void Runtime::incoming_unlink_id(Connection& from, const wire::UnlinkId& unlink) {
    if (auto process = find(unlink.to)) {
        std::lock_guard lock(process->mutex);
        if (process->relations) {
            auto& links = process->relations->links;
            auto it = links.find(unlink.from);
            if (it != links.end() && it->second.active) links.erase(it);
        }
    }
    // The acknowledgement goes out before any later signal from here to the unlinker: both take
    // the same ordered connection, and this one is queued now.
    from.send(wire::UnlinkIdAck{unlink.id, unlink.to, unlink.from});
}

void Runtime::incoming_unlink_ack(const wire::UnlinkIdAck& ack) {
    if (auto process = find(ack.to)) {
        std::lock_guard lock(process->mutex);
        if (!process->relations) return;
        auto& links = process->relations->links;
        auto it = links.find(ack.from);
        if (it != links.end() && !it->second.active && it->second.unlink_id == ack.id)
            links.erase(it);
    }
}

void Runtime::incoming_monitor(Connection& from, const wire::MonitorP& monitor) {
    auto pid = std::get_if<Pid>(&monitor.to);
    auto process = pid ? find(*pid) : whereis(std::get<Atom>(monitor.to));
    if (process) {
        std::lock_guard lock(process->mutex);
        if (process->alive) {
            if (cross(*process, from))
                process->related().watchers.emplace(
                    monitor.ref, Watcher{monitor.from, !pid,
                                         pid ? Atom() : std::get<Atom>(monitor.to), from.id});
            return;
        }
    }
    // Answered at once, so a gen_server:call to a missing name fails with noproc instead of
    // waiting for its timeout.
    from.send(wire::MonitorPExit{monitor.to, monitor.from, monitor.ref, Term(atoms::noproc)});
}

void Runtime::incoming_demonitor(const wire::DemonitorP& demonitor) {
    auto pid = std::get_if<Pid>(&demonitor.to);
    if (auto process = pid ? find(*pid) : whereis(std::get<Atom>(demonitor.to))) {
        std::lock_guard lock(process->mutex);
        if (process->relations) process->relations->watchers.erase(demonitor.ref);
    }
}

void Runtime::incoming_monitor_exit(Connection& from, wire::MonitorPExit&& exit) {
    if (auto watcher = find(exit.to))
        fire_monitor(*watcher, exit.ref, exit.from, from.peer, exit.reason);
}

void Runtime::incoming_spawn_request(Connection& from, wire::SpawnRequest&& request) {
    if (spawn_service_) {
        spawn_service_->on_spawn_request(from, std::move(request));
        return;
    }
    // Refused in the form erlang:spawn_request/5 reports as an error.
    from.send(wire::SpawnReply{request.req_id, request.from, 0, Term(Atom::make("notsup").value()),
                               std::nullopt});
}

void Runtime::incoming_spawn_reply(Connection& from, wire::SpawnReply&& reply) {
    static const Atom spawn_reply = Atom::make("spawn_reply").value();
    static const Atom abandoned = Atom::make("abandoned").value();
    auto process = find(reply.to);
    auto pid = reply.result.to<Pid>();
    bool awaited = false;
    bool report = true;
    // Why the link, had it been set, would have fired: the requester's end, or noproc.
    Term unlink_with(atoms::noproc);
    if (process) {
        std::lock_guard lock(process->mutex);
        if (process->alive && process->relations) {
            auto& r = *process->relations;
            if (auto it = r.spawning.find(reply.req_id); it != r.spawning.end()) {
                awaited = true;
                report = it->second.report_success;
                r.spawning.erase(it);
            }
            // The peer made the monitor and the link on its side; these are our halves of them,
            // set in the same step as the request is taken, so that a requester giving up on it
            // sees either a request still pending or a monitor to remove, never neither. The
            // request crossed this connection already.
            if (awaited && pid) {
                if (reply.flags & wire::SpawnReply::monitor_made)
                    r.monitors.emplace(reply.req_id, HeldMonitor{*pid, from.peer, from.id, false});
                if (reply.flags & wire::SpawnReply::link_made)
                    r.links[*pid] = LinkState{true, 0, from.id};
            }
        }
        unlink_with = process->alive ? Term(abandoned) : process->exit_reason;
    }
    if (!awaited) {
        // Nobody waits for this process any more (the request was given up, or its maker ended):
        // undo the halves the peer made, as erts does for an abandoned spawn request, instead of
        // leaving them on the peer for the life of the process.
        if (pid && (reply.flags & wire::SpawnReply::monitor_made))
            from.send(wire::DemonitorP{reply.to, *pid, reply.req_id});
        if (pid && (reply.flags & wire::SpawnReply::link_made))
            from.send(wire::Exit{reply.to, *pid, unlink_with, std::nullopt});
        return;
    }
    if (!pid)
        deliver(*process, tuple(spawn_reply, reply.req_id, atoms::error, reply.result));
    else if (report)
        deliver(*process, tuple(spawn_reply, reply.req_id, atoms::ok, *pid));
}

}  // namespace distribute::node
