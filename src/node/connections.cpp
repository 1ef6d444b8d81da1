// The connection registry: dialling on demand, connections coming up (and the controls queued for
// them that the peer cannot take), node events, and noconnection for everything that crossed a
// connection that went down. Handshakes peers start are admitted in handshakes.cpp.
#include <algorithm>

#include "node/log_fields.hpp"
#include "node/runtime.hpp"
#include "wire/flags.hpp"

namespace distribute::node {

namespace {

std::string describe(const net::SessionEnd& end) {
    using Cause = net::SessionEnd::Cause;
    switch (end.cause) {
        case Cause::closed_by_us:
            return end.detail;
        case Cause::peer_closed:
            return end.detail;
        case Cause::handshake_failed:
            return "handshake failed: " + end.detail;
        case Cause::handshake_timeout:
            return "handshake timed out: " + end.detail;
        case Cause::tick_timeout:
            return "net_tick_timeout: " + end.detail;
        case Cause::bad_frame:
            return "bad frame: " + end.detail;
        case Cause::send_queue_full:
            return "send queue full: " + end.detail;
        case Cause::simultaneous:
            return "simultaneous connect: " + end.detail;
    }
    return end.detail;
}

NodeError dial_failure(const net::DialError& e) {
    using net::DialErrc;
    switch (e.code) {
        case DialErrc::bad_name:
            return {NodeErrc::bad_name, e.detail};
        case DialErrc::unreachable:
            return {NodeErrc::unreachable, e.detail};
        case DialErrc::no_epmd:
            return {NodeErrc::no_epmd, e.detail};
        case DialErrc::not_registered:
            return {NodeErrc::not_registered, e.detail};
        case DialErrc::old_version:
            return {NodeErrc::connect_failed, e.detail};
    }
    return {NodeErrc::connect_failed, e.detail};
}

// A node whose dynamic name went with the node that gave it makes no new connection.
NodeError lost_name_error() {
    return {NodeErrc::connect_failed,
            "this node lost its name (the node that gave it is gone): it makes no new connections"};
}

// Why a connection we dialled ended before it came up.
NodeError handshake_failure(const net::SessionEnd& end, const std::string& peer) {
    using Cause = net::SessionEnd::Cause;
    if (end.cause == Cause::handshake_failed &&
        end.handshake_error == wire::HandshakeErrc::bad_digest)
        return {NodeErrc::wrong_cookie,
                peer + " refused the handshake: wrong cookie? (" + end.detail + ")"};
    if (end.cause == Cause::handshake_failed)
        return {NodeErrc::connect_failed, peer + " refused the handshake: " + end.detail};
    if (end.cause == Cause::handshake_timeout)
        return {NodeErrc::timeout, peer + " did not finish the handshake: " + end.detail};
    return {NodeErrc::connect_failed, "cannot connect to " + peer + ": " + describe(end)};
}

}  // namespace

std::shared_ptr<Connection> Runtime::connection_to(Atom node) {
    if (is_local(node) || stopped() || name_lost_.load()) return nullptr;
    {
        std::shared_lock lock(connections_mutex_);
        auto it = connections_.find(node.index());
        if (it != connections_.end()) return it->second;
    }
    std::shared_ptr<Connection> connection;
    {
        std::unique_lock lock(connections_mutex_);
        auto& slot = connections_[node.index()];
        if (slot) return slot;
        slot = std::make_shared<Connection>(node, next_connection_id_++);
        slot->dialling = true;
        connection = slot;
    }
    dial(connection);
    return connection;
}

std::shared_ptr<Connection> Runtime::existing_connection(Atom node) const {
    std::shared_lock lock(connections_mutex_);
    auto it = connections_.find(node.index());
    return it == connections_.end() ? nullptr : it->second;
}

std::shared_ptr<Connection> Runtime::connection_if(Atom node, std::uint64_t id) const {
    std::shared_lock lock(connections_mutex_);
    auto it = connections_.find(node.index());
    if (it == connections_.end() || it->second->id != id) return nullptr;
    return it->second;
}

std::shared_ptr<Connection> Runtime::up_connection(Atom node) const {
    std::shared_lock lock(connections_mutex_);
    auto it = connections_.find(node.index());
    if (it == connections_.end()) return nullptr;
    std::lock_guard state(it->second->mutex);
    // Not one still being set up: what is sent with noconnect must not wait for a connection
    // that comes later and land on it.
    if (it->second->state != Connection::State::up || it->second->down) return nullptr;
    return it->second;
}

std::shared_ptr<Connection> Runtime::connection_of(const net::Session& session) const {
    std::shared_lock lock(connections_mutex_);
    auto it = connections_.find(session.peer_node.index());
    if (it == connections_.end() || it->second->session.get() != &session) return nullptr;
    return it->second;
}

void Runtime::dial(const std::shared_ptr<Connection>& connection) {
    log(LogLevel::debug, "connecting to " + std::string(connection->peer.name()));
    auto context = connection_context();
    net::async_connect_node(*context.io, *epmd_client_, std::string(connection->peer.name()),
                            options_.epmdless_port, options_.setup_timeout,
                            [self = shared_from_this(), connection, context](auto socket) {
                                self->on_dialled(connection, context, std::move(socket));
                            });
}

void Runtime::on_dialled(const std::shared_ptr<Connection>& connection,
                         const ConnectionContext& context,
                         Expected<net::Dialled, net::DialError> dialled) {
    if (!dialled) return dial_failed(connection, dial_failure(dialled.error()));
    const std::string peer(connection->peer.name());
    auto plan = dial_plan(peer, dialled->epmd_extra);
    if (!plan) return dial_failed(connection, plan.error());
    auto transport =
        net::make_tcp_transport(asio::make_strand(*context.io), std::move(dialled->socket));
    if (!*plan) return start_dialled_session(connection, context, std::move(transport));
    net::async_secure_dial(
        *context.io, std::move(transport), std::move(**plan),
        [self = shared_from_this(), connection, context, peer](auto secured) {
            if (!secured)
                return self->dial_failed(
                    connection, {NodeErrc::crypto_failed, "encrypted handshake with " + peer +
                                                              " failed: " + secured.error()});
            self->start_dialled_session(connection, context, std::move(*secured));
        });
}

void Runtime::start_dialled_session(const std::shared_ptr<Connection>& connection,
                                    const ConnectionContext& context,
                                    std::unique_ptr<net::Transport> transport) {
    std::shared_ptr<net::Session> session;
    {
        std::unique_lock lock(connections_mutex_);
        auto it = connections_.find(connection->peer.index());
        const bool current = it != connections_.end() && it->second == connection;
        // A simultaneous connect may have handed the connection to the peer's session already.
        if (!current || !connection->dialling || stopped()) {
            transport->close();
            return;
        }
        if (!name_lost_.load()) {
            connection->dialling = false;
            session = std::make_shared<net::Session>(*context.io, std::move(transport),
                                                     session_settings(), *this,
                                                     std::string(connection->peer.name()));
            session->context_token = context.token;
            session->connection_id = connection->id;
            session->peer_node = connection->peer;
            connection->session = session;
        }
    }
    if (!session) {
        transport->close();
        return dial_failed(connection, lost_name_error());
    }
    session->start();
}

void Runtime::dial_failed(const std::shared_ptr<Connection>& connection, const NodeError& why) {
    {
        std::unique_lock lock(connections_mutex_);
        auto it = connections_.find(connection->peer.index());
        const bool current = it != connections_.end() && it->second == connection;
        if (!current || !connection->dialling || stopped()) return;
        connection->dialling = false;
        connections_.erase(it);
    }
    log(LogLevel::info, "event=connect_failed " + log_field("node", connection->peer.name()) + " " +
                            log_field("reason", why.detail));
    connection->set_failure(why);
    connection_down(connection, why.detail, false);
}

void Runtime::on_up(net::Session& session) {
    std::shared_ptr<Connection> connection;
    std::shared_ptr<Connection> replaced;
    std::shared_ptr<net::Session> owned;
    {
        std::unique_lock lock(connections_mutex_);
        owned = release_handshake(session);
        // The node that names this one answered: the name is ours from now on, before anything
        // else runs on the node (start() is waiting for this connection).
        if (dynamic_name_ && name_ == Atom() && session.assigned_name()) {
            name_ = Atom::make(session.assigned_name()->name).value_or(Atom());
            creation_ = session.assigned_name()->creation;
        }
        auto it = connections_.find(session.peer_node.index());
        if (it != connections_.end() && it->second->session.get() == &session) {
            connection = it->second;
            owned = connection->session;
        } else if (owned) {
            // The peer replaced a connection it had given up on ('alive' answered true).
            if (it != connections_.end()) {
                replaced = it->second;
                if (replaced->session) replaced->session->carrying.store(false);
            }
            connection = std::make_shared<Connection>(session.peer_node, next_connection_id_++);
            connection->session = owned;
            session.connection_id = connection->id;
            connections_[session.peer_node.index()] = connection;
        }
        if (connection) session.carrying.store(true);
    }
    if (replaced) {
        if (replaced->session) replaced->session->close("replaced by a new connection");
        connection_down(replaced, "replaced by a new connection", true);
    }
    if (!connection) {
        session.close("superseded by the peer's connection");
        return;
    }
    const bool hidden = !(session.peer().flags & wire::flag::published);
    auto up = connection->mark_up(owned, hidden, session.peer().creation);
    for (auto& waiter : up.waiters)
        waiter(true);
    for (auto& control : up.not_offered)
        not_offered(control);
    log(LogLevel::info, "event=nodeup " + log_field("node", session.peer().name) + " " +
                            log_field("address", session.peer_address()) + " " +
                            log_field("hidden", hidden ? "true" : "false") + " " +
                            log_field("layout", wire::frame_layout(session.negotiated())) + " " +
                            log_field("security", session.security()));
    // A release newer than this code: as a BEAM does with an older peer, the connection uses
    // the capabilities both sides offer, and says which it left out.
    if (const auto unknown = wire::unknown_flags(session.peer().flags))
        log(LogLevel::info, session.peer().name +
                                " offers distribution flags this node does not understand (left "
                                "out: the connection uses what both offer): " +
                                wire::flag_names(unknown));
    node_event({session.peer_node, true, hidden, {}});
}

void Runtime::on_control(net::Session& session, wire::Control&& control) {
    // Once up, the flag is set and cleared with what connection_of(session) finds (under the
    // registry lock): no look-up here.
    if (!session.carrying.load()) return;
    route(session, std::move(control));
}

void Runtime::on_end(net::Session& session, const net::SessionEnd& end) {
    const std::string why = describe(end);
    std::shared_ptr<Connection> connection;
    {
        std::unique_lock lock(connections_mutex_);
        release_handshake(session);
        if (end.was_up) retire_traffic(session);
        session.carrying.store(false);
        auto it = connections_.find(session.peer_node.index());
        if (it != connections_.end() && it->second->session.get() == &session) {
            connection = it->second;
            connections_.erase(it);
            recycle_dynamic_name(*connection);
        }
    }
    sessions_ended_.notify_all();
    const std::string peer =
        session.peer().name.empty() ? session.peer_address() : session.peer().name;
    // event=... node=... reason="...": one key=value line per connection event (log_fields.hpp).
    auto event = [&](std::string_view name, std::string_view reason) {
        return "event=" + std::string(name) + " " + log_field("node", peer) + " " +
               log_field("address", session.peer_address()) + " " + log_field("reason", reason);
    };
    if (end.cause == net::SessionEnd::Cause::handshake_failed ||
        end.cause == net::SessionEnd::Cause::handshake_timeout) {
        refused_.fetch_add(1, std::memory_order_relaxed);
        log(LogLevel::warning, event("refused", why));
    } else if (end.cause == net::SessionEnd::Cause::simultaneous) {
        // Routine when both sides dial at once; worth more than a debug line only when the
        // connection it gave way to never came.
        log(connection ? LogLevel::info : LogLevel::debug, event("gave_way", end.detail));
    } else if (end.was_up) {
        if (end.cause == net::SessionEnd::Cause::bad_frame)
            bad_frames_.fetch_add(1, std::memory_order_relaxed);
        if (end.cause == net::SessionEnd::Cause::send_queue_full)
            send_queue_overflows_.fetch_add(1, std::memory_order_relaxed);
        const net::SessionTraffic traffic = session.traffic();
        const bool alarming = end.cause == net::SessionEnd::Cause::bad_frame ||
                              end.cause == net::SessionEnd::Cause::send_queue_full;
        log(alarming ? LogLevel::warning : LogLevel::info,
            event("nodedown", why) + " " +
                log_field("messages_in", std::to_string(traffic.messages_in)) + " " +
                log_field("messages_out", std::to_string(traffic.messages_out)));
    } else if (connection) {
        log(LogLevel::info, event("connect_failed", why));
    }
    if (connection && !end.was_up) connection->set_failure(handshake_failure(end, peer));
    if (connection) connection_down(connection, why, end.was_up);
}

void Runtime::connection_down(const std::shared_ptr<Connection>& connection,
                              const std::string& reason, bool was_up) {
    static const Atom spawn_reply = Atom::make("spawn_reply").value();
    // The node that named this one is gone: so is the name.
    if (dynamic_name_ && connection->peer == namer_) lose_name(reason);
    for (auto& waiter : connection->take_waiters())
        waiter(false);
    const Atom peer = connection->peer;
    const std::uint64_t id = connection->id;
    // Only the processes with something over this connection: a nodedown costs what crossed it,
    // not a walk over every process of the node.
    for (auto& [key, weak] : connection->take_crossing()) {
        auto process = weak.lock();
        if (!process) continue;
        std::vector<Pid> linked;
        std::vector<std::pair<Reference, wire::ProcessId>> held;
        std::vector<Reference> unanswered;
        {
            std::lock_guard lock(process->mutex);
            if (!process->alive || !process->relations) continue;
            auto& r = *process->relations;
            std::erase_if(r.crossings, [&](const Crossing& c) { return c.connection == id; });
            for (auto it = r.spawning.begin(); it != r.spawning.end();) {
                if (it->second.connection == id) {
                    unanswered.push_back(it->first);
                    it = r.spawning.erase(it);
                } else {
                    ++it;
                }
            }
            for (auto& [pid, state] : r.links)
                if (pid.node == peer && state.connection == id) linked.push_back(pid);
            for (auto& [ref, monitor] : r.monitors)
                if (monitor.node == peer && monitor.connection == id)
                    held.emplace_back(ref, monitor.target);
            std::erase_if(r.watchers, [&](auto& entry) {
                return entry.second.watcher.node == peer && entry.second.connection == id;
            });
        }
        for (auto& ref : unanswered)
            deliver(*process, tuple(spawn_reply, ref, atoms::error, atoms::noconnection));
        for (auto& [ref, target] : held)
            fire_monitor(*process, ref, target, peer, Term(atoms::noconnection));
        for (auto& pid : linked)
            exit_signal({process->pid, pid, Term(atoms::noconnection), ExitKind::link});
    }
    if (was_up) node_event({peer, false, connection->hidden, reason});
}

void Runtime::node_event(const NodeEvent& event) {
    std::vector<std::function<void(const NodeEvent&)>> callbacks;
    std::vector<Pid> monitors;
    std::vector<Pid> single;  // monitor_node/2: each fires once, on the next nodedown
    {
        std::lock_guard lock(events_mutex_);
        for (auto& [id, callback] : subscribers_)
            callbacks.push_back(callback);
        monitors = node_monitors_;
        if (!event.up)
            std::erase_if(single_node_monitors_, [&](const auto& entry) {
                if (entry.first != event.node) return false;
                single.push_back(entry.second);
                return true;
            });
    }
    for (auto& callback : callbacks)
        callback(event);
    const Atom tag = Atom::make(event.up ? "nodeup" : "nodedown").value();
    for (auto& pid : monitors)
        if (auto process = find(pid)) deliver(*process, tuple(tag, event.node));
    for (auto& pid : single)
        if (auto process = find(pid)) deliver(*process, tuple(tag, event.node));
}

std::vector<Atom> Runtime::connected(bool hidden) const {
    std::vector<Atom> out;
    std::shared_lock lock(connections_mutex_);
    for (auto& [atom, connection] : connections_) {
        std::lock_guard state(connection->mutex);
        if (connection->state == Connection::State::up && connection->hidden == hidden)
            out.push_back(connection->peer);
    }
    return out;
}

void Runtime::async_connect(Atom node, std::function<void(Expected<void, NodeError>)> done) {
    if (is_local(node)) return done({});
    auto connection = connection_to(node);
    if (!connection)
        return done(unexpected(name_lost_.load() && !stopped()
                                   ? lost_name_error()
                                   : NodeError{NodeErrc::not_running, "the node has stopped"}));
    auto outcome = [connection, done = std::move(done)](bool up) {
        if (up) return done({});
        done(unexpected(
            connection->failure_or({NodeErrc::connect_failed,
                                    "cannot connect to " + std::string(connection->peer.name())})));
    };
    bool up;
    {
        std::lock_guard lock(connection->mutex);
        // A dial that fails at once may have taken the waiters already: nobody would call this
        // one, and connect() would wait for its whole timeout.
        up = connection->state == Connection::State::up && !connection->down;
        if (!up && !connection->down) {
            connection->waiters.push_back(std::move(outcome));
            return;
        }
    }
    outcome(up);
}

bool Runtime::disconnect(Atom node) {
    std::shared_ptr<Connection> connection;
    std::shared_ptr<net::Session> session;
    {
        std::unique_lock lock(connections_mutex_);
        auto it = connections_.find(node.index());
        if (it == connections_.end()) return false;
        connection = it->second;
        session = connection->session;
        if (!session) connections_.erase(it);  // still dialling: nothing to close
    }
    if (session)
        session->close("disconnect_node");
    else
        connection_down(connection, "disconnect_node", false);
    return true;
}

std::uint64_t Runtime::on_node_event(std::function<void(const NodeEvent&)> callback) {
    std::lock_guard lock(events_mutex_);
    subscribers_.emplace_back(next_subscriber_, std::move(callback));
    return next_subscriber_++;
}

void Runtime::unsubscribe(std::uint64_t id) {
    std::lock_guard lock(events_mutex_);
    std::erase_if(subscribers_, [id](auto& s) { return s.first == id; });
}

std::uint64_t Runtime::peer_flags(Atom node) const {
    std::shared_lock lock(connections_mutex_);
    auto it = connections_.find(node.index());
    return it == connections_.end() ? 0 : it->second->negotiated();
}

void Runtime::monitor_nodes(const Pid& pid, bool enable) {
    std::lock_guard lock(events_mutex_);
    if (enable)
        node_monitors_.push_back(pid);
    else if (auto it = std::find(node_monitors_.begin(), node_monitors_.end(), pid);
             it != node_monitors_.end())
        node_monitors_.erase(it);
}

void Runtime::monitor_node(const Pid& pid, Atom node, bool enable) {
    // As the BEAM: monitoring the node itself is allowed and never fires.
    if (node == name_) return;
    {
        std::lock_guard lock(events_mutex_);
        if (!enable) {
            auto it = std::find(single_node_monitors_.begin(), single_node_monitors_.end(),
                                std::pair(node, pid));
            if (it != single_node_monitors_.end()) single_node_monitors_.erase(it);
            return;
        }
        single_node_monitors_.emplace_back(node, pid);
    }
    // Not connected: a connection is tried, and when it fails this monitor fires at once.
    // (Connected already, the callback says so straight away and nothing happens.)
    async_connect(node, [self = weak_from_this(), node, pid](const Expected<void, NodeError>& up) {
        auto runtime = self.lock();
        if (up.has_value() || !runtime) return;
        {
            std::lock_guard lock(runtime->events_mutex_);
            auto it = std::find(runtime->single_node_monitors_.begin(),
                                runtime->single_node_monitors_.end(), std::pair(node, pid));
            if (it == runtime->single_node_monitors_.end()) return;
            runtime->single_node_monitors_.erase(it);
        }
        static const Atom nodedown = Atom::make("nodedown").value();
        if (auto process = runtime->find(pid)) runtime->deliver(*process, tuple(nodedown, node));
    });
}

}  // namespace distribute::node
