// The connection registry: dialling on demand, connections coming up (and the controls queued for
// them that the peer cannot take), node events, and noconnection for everything that crossed a
// connection that went down. Handshakes peers start are admitted in handshakes.cpp.
#include <algorithm>

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

std::shared_ptr<Connection> Runtime::connection_if(Atom node, std::uint64_t id) const {
    std::shared_lock lock(connections_mutex_);
    auto it = connections_.find(node.index());
    if (it == connections_.end() || it->second->id != id) return nullptr;
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
    net::async_connect_node(io_, *epmd_client_, std::string(connection->peer.name()),
                            options_.setup_timeout,
                            [self = shared_from_this(), connection](auto socket) {
                                self->on_dialled(connection, std::move(socket));
                            });
}

void Runtime::on_dialled(const std::shared_ptr<Connection>& connection,
                         Expected<net::Dialled, net::DialError> dialled) {
    if (!dialled) return dial_failed(connection, dial_failure(dialled.error()));
    const std::string peer(connection->peer.name());
    auto plan = dial_plan(peer, dialled->epmd_extra);
    if (!plan) return dial_failed(connection, plan.error());
    auto transport = net::make_tcp_transport(std::move(dialled->socket));
    if (!*plan) return start_dialled_session(connection, std::move(transport));
    net::async_secure_dial(
        io_, std::move(transport), std::move(**plan),
        [self = shared_from_this(), connection, peer](auto secured) {
            if (!secured)
                return self->dial_failed(
                    connection, {NodeErrc::crypto_failed, "encrypted handshake with " + peer +
                                                              " failed: " + secured.error()});
            self->start_dialled_session(connection, std::move(*secured));
        });
}

void Runtime::start_dialled_session(const std::shared_ptr<Connection>& connection,
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
            session = std::make_shared<net::Session>(io_, std::move(transport), session_settings(),
                                                     *this, std::string(connection->peer.name()));
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
    log(LogLevel::info,
        "cannot connect to " + std::string(connection->peer.name()) + ": " + why.detail);
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
            if (it != connections_.end()) replaced = it->second;
            connection = std::make_shared<Connection>(session.peer_node, next_connection_id_++);
            connection->session = owned;
            session.connection_id = connection->id;
            connections_[session.peer_node.index()] = connection;
        }
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
    log(LogLevel::info, "connected to " + session.peer().name + " (" + session.peer_address() +
                            (hidden ? ", hidden, " : ", ") + session.security() + ")");
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
    auto connection = connection_of(session);
    if (!connection) return;
    route(*connection, std::move(control));
}

void Runtime::on_end(net::Session& session, const net::SessionEnd& end) {
    const std::string why = describe(end);
    std::shared_ptr<Connection> connection;
    {
        std::unique_lock lock(connections_mutex_);
        release_handshake(session);
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
    if (end.cause == net::SessionEnd::Cause::handshake_failed ||
        end.cause == net::SessionEnd::Cause::handshake_timeout) {
        refused_.fetch_add(1, std::memory_order_relaxed);
        log(LogLevel::warning, "refused a handshake with " + peer + ": " + end.detail);
    } else if (end.cause == net::SessionEnd::Cause::simultaneous) {
        // Routine when both sides dial at once; worth more than a debug line only when the
        // connection it gave way to never came.
        log(connection ? LogLevel::info : LogLevel::debug,
            "gave way to " + peer + "'s connection attempt: " + end.detail);
    } else if (end.cause == net::SessionEnd::Cause::bad_frame) {
        bad_frames_.fetch_add(1, std::memory_order_relaxed);
        log(LogLevel::warning, "closed the connection to " + peer + ": " + why);
    } else if (end.was_up) {
        log(LogLevel::info, "disconnected from " + peer + ": " + why);
    } else if (connection) {
        log(LogLevel::info, "cannot connect to " + peer + ": " + why);
    }
    if (connection && !end.was_up) connection->set_failure(handshake_failure(end, peer));
    if (connection) connection_down(connection, why, end.was_up);
}

void Runtime::connection_down(const std::shared_ptr<Connection>& connection,
                              const std::string& reason, bool was_up) {
    // The node that named this one is gone: so is the name.
    if (dynamic_name_ && connection->peer == namer_) lose_name(reason);
    for (auto& waiter : connection->take_waiters())
        waiter(false);
    const Atom peer = connection->peer;
    const std::uint64_t id = connection->id;
    for (auto& process : processes_.all()) {
        std::vector<Pid> linked;
        std::vector<std::pair<Reference, HeldMonitor>> held;
        std::vector<Reference> unanswered;
        {
            std::lock_guard lock(process->mutex);
            if (!process->alive) continue;
            for (auto it = process->spawning.begin(); it != process->spawning.end();) {
                if (it->second.connection == id) {
                    unanswered.push_back(it->first);
                    it = process->spawning.erase(it);
                } else {
                    ++it;
                }
            }
            for (auto& [pid, state] : process->links)
                if (pid.node == peer && state.connection == id) linked.push_back(pid);
            for (auto it = process->monitors.begin(); it != process->monitors.end();) {
                if (it->second.node == peer && it->second.connection == id) {
                    held.emplace_back(it->first, std::move(it->second));
                    it = process->monitors.erase(it);
                } else {
                    ++it;
                }
            }
            std::erase_if(process->watchers, [&](auto& entry) {
                return entry.second.watcher.node == peer && entry.second.connection == id;
            });
        }
        static const Atom spawn_reply = Atom::make("spawn_reply").value();
        for (auto& ref : unanswered)
            deliver(*process, tuple(spawn_reply, ref, atoms::error, atoms::noconnection));
        for (auto& [ref, monitor] : held)
            down_message(process->pid, ref, monitor.target, peer, Term(atoms::noconnection));
        for (auto& pid : linked)
            exit_signal({process->pid, pid, Term(atoms::noconnection), ExitKind::link});
    }
    if (was_up) node_event({peer, false, connection->hidden, reason});
}

void Runtime::node_event(const NodeEvent& event) {
    std::vector<std::function<void(const NodeEvent&)>> callbacks;
    std::vector<Pid> monitors;
    {
        std::lock_guard lock(events_mutex_);
        for (auto& [id, callback] : subscribers_)
            callbacks.push_back(callback);
        monitors = node_monitors_;
    }
    for (auto& callback : callbacks)
        callback(event);
    const Atom tag = Atom::make(event.up ? "nodeup" : "nodedown").value();
    for (auto& pid : monitors)
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

bool Runtime::ping(Atom node, std::chrono::milliseconds timeout) {
    if (is_local(node)) return true;
    Mailbox me(spawn(Process::Kind::mailbox, {}, false));
    static const Atom net_kernel = Atom::make("net_kernel").value();
    static const Atom is_auth = Atom::make("is_auth").value();
    static const Atom yes = Atom::make("yes").value();
    // As gen:call: the monitor's reference tags the request, and a DOWN ends the wait.
    Reference ref = me.monitor(net_kernel, node);
    me.send(net_kernel, node, tuple(atoms::gen_call, tuple(me.pid(), ref), tuple(is_auth, name())));
    auto answer = me.receive_if(
        [&](const Term& t) {
            return (t.is_tuple(2) && t[0] == Term(ref)) ||
                   (t.is_tuple(5) && t[0].is_atom(atoms::DOWN) && t[1] == Term(ref));
        },
        timeout);
    me.demonitor(ref);
    return answer && answer->is_tuple(2) && (*answer)[1].is_atom(yes);
}

void Runtime::monitor_nodes(const Pid& pid, bool enable) {
    std::lock_guard lock(events_mutex_);
    if (enable)
        node_monitors_.push_back(pid);
    else if (auto it = std::find(node_monitors_.begin(), node_monitors_.end(), pid);
             it != node_monitors_.end())
        node_monitors_.erase(it);
}

}  // namespace distribute::node
