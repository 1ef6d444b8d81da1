// The node's engine: processes and the signals between them (messages, links, monitors, exit
// signals) with Erlang's semantics, and the registry of connections to other nodes. Signals to
// processes here are applied at once by whichever thread sends them; signals to processes on
// other nodes become control messages on the connection to that node, dialled on demand.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "distribute/epmd.hpp"
#include "distribute/node.hpp"
#include "distribute/server_ref.hpp"
#include "net/acceptor.hpp"
#include "net/asio.hpp"
#include "net/connector.hpp"
#include "net/secure_transport.hpp"
#include "net/session.hpp"
#include "node/connection.hpp"
#include "node/process.hpp"
#include "node/process_table.hpp"

namespace distribute::node {

namespace asio = net::asio;
using tcp = net::tcp;

// Which kind of exit signal: one from a link (the linked process ended, or the connection went
// down) or one sent by exit/2.
enum class ExitKind { link, exit2 };

// A creation as net_kernel picks one without EPMD (for a peer it names, or a node that does not
// listen): any 32-bit value but 0 to 3 (handshakes.cpp).
std::uint32_t wrap_creation(std::uint64_t creation);

// What serves spawn requests from other nodes (erpc calls and casts arrive as SPAWN_REQUEST).
// The rpc service installs one; without it every request is refused with notsup.
class SpawnService {
  public:
    virtual ~SpawnService() = default;
    // On the connection's session strand: reply (Connection::send) without blocking.
    virtual void on_spawn_request(Connection& from, wire::SpawnRequest&& request) = 0;
    // The node is stopping: start no more work (it may still be destroyed much later).
    virtual void stop() {}
};

// What the otp layer keeps on a node beside the spawn service (global, pg scopes): installed
// once at start-up, stopped first when the node stops, so that nothing it does on the way out
// (a lost connection) reads as a failure to its peers.
class Services {
  public:
    virtual ~Services() = default;
    virtual void stop() {}
};

// Whether a send to another node may dial it. Dial::no is erlang:send/3's `noconnect`: a node
// with no connection (not even one being set up) is not dialled and the message is dropped.
// Dial::if_up drops it as well while the connection is still being set up, for the membership
// protocols, whose messages must not land on a connection that comes up later.
enum class Dial { on_demand, no, if_up };

// True on a thread that runs a node's executor (any node's): such a thread must never wait for
// something that another handler on it would have to do.
bool on_node_thread();

class Runtime final : public net::SessionObserver, public std::enable_shared_from_this<Runtime> {
  public:
    // What a layer above installs on every node before it accepts peers (the otp layer's
    // net_kernel, rex, global and pg): given by the composition root, Node::start, so that this
    // layer never calls up.
    using ServicesStarter = std::function<void(Runtime&)>;
    [[nodiscard]] static Expected<std::shared_ptr<Runtime>, NodeError> start(
        NodeOptions options, const ServicesStarter& start_services);
    explicit Runtime(NodeOptions options);
    ~Runtime() override;

    void stop();
    bool stopped() const { return stopped_.load(); }
    // Blocks until stop() has finished, or until `also` holds when woken by wake_waiters().
    void wait_stopped(const std::function<bool()>& also);
    void wake_waiters();

    Atom name() const { return name_; }
    std::uint32_t creation() const { return creation_; }
    std::uint16_t port() const { return acceptor_ ? acceptor_->port() : 0; }
    // The first thread's io_context: timers, EPMD, the services' strands, and what Node::io()
    // hands to the program. Connections and process turns are spread over every thread's.
    asio::io_context& io() { return *contexts_.front(); }
    // Where work woken now runs (a process's turn, an rpc body): on a node thread of this node,
    // its own io_context, so that the work needs no other thread woken; elsewhere, the threads'
    // io_contexts in turn.
    asio::io_context& work_context();
    // Another thread's io_context than the calling node thread's, in turn (the only one, with
    // one thread).
    asio::io_context& other_context();
    void log(LogLevel level, const std::string& line) const;

    // Processes
    std::shared_ptr<Process> spawn_mailbox();
    std::shared_ptr<Process> spawn_handler(Node::Handler handler, bool trap_exit);
    // A pid for a process about to be made (the coroutine kind is made outside this file).
    Pid new_pid() { return processes_.allocate(name_, creation_); }
    // Takes a new process into the table. On a stopped node it is ended at once (`shutdown`).
    std::shared_ptr<Process> admit(std::shared_ptr<Process> process);
    std::shared_ptr<Process> find(const Pid& pid) const { return processes_.find(pid); }
    std::shared_ptr<Process> whereis(Atom name) const { return names_.find(name); }
    std::vector<Atom> registered() const { return names_.all(); }
    std::size_t process_count() const { return processes_.size(); }
    // Every process alive now, in no particular order (erlang:processes/0).
    std::vector<std::shared_ptr<Process>> processes() const { return processes_.all(); }
    // This node is hidden: BEAM nodes leave it out of nodes(), global and pg.
    bool hidden() const { return options_.hidden; }
    unsigned thread_count() const { return static_cast<unsigned>(threads_.size()); }
    [[nodiscard]] Expected<void, NodeError> register_name(Atom name, const Pid& pid);
    bool unregister_name(Atom name);
    // Runs `callback` once, with the pid, when `name` is next registered here (not when it is
    // registered already: look first, then watch, then look again). Returns an id for
    // unwatch_name. The callback runs on the registering thread and must not block.
    std::uint64_t watch_name(Atom name, std::function<void(const Pid&)> callback);
    void unwatch_name(std::uint64_t id);
    Reference make_ref();
    // alias/0, or alias([priority]) when `priority`.
    Reference make_alias(Process& owner, bool priority = false);
    bool remove_alias(Process& owner, const Reference& alias);
    bool is_local(Atom node) const { return node == name_; }

    // Name services ({global, Name}, {via, Module, Name}): whereis_name by registry. A registry
    // without a resolver knows no name.
    void set_name_resolver(Atom registry, NameResolver resolver);
    std::optional<Pid> resolve(Atom registry, const Term& name) const;

    // Signals from a local process (`from`).
    void send_to(const Process& from, const ServerRef& to, Term message);
    void send(const Process& from, const Pid& to, Term message, Dial dial = Dial::on_demand);
    void send_named(const Process& from, Atom name, Atom node, Term message,
                    Dial dial = Dial::on_demand);
    // `priority`: erlang:send(Alias, Msg, [priority]), a priority message when the alias is a
    // priority alias.
    void send_alias(const Process& from, const Reference& alias, Term message,
                    bool priority = false);
    void link(Process& from, const Pid& to);
    void unlink(Process& from, const Pid& to);
    // With `alias`, the monitor's reference is also an alias of `from` that goes when the
    // monitor does (by demonitor or by its 'DOWN'), as erlang:monitor/3's {alias, demonitor}.
    Reference monitor(Process& from, const wire::ProcessId& target, Atom node, bool alias = false);
    bool demonitor(Process& from, const Reference& ref);
    void exit2(const Process& from, const Pid& to, Term reason);
    // exit_signal(Alias, Reason[, [priority]]) (OTP 28): to the alias's process while it is active.
    void exit_alias(const Process& from, const Reference& alias, Term reason, bool priority);
    // The process ends with `reason`: links and monitors fire, names and aliases go.
    void terminate(const std::shared_ptr<Process>& process, Term reason);
    // Takes out of the process's queue every message `match` accepts: demonitor's flush, late
    // replies. Only from the process's own consumer (its Mailbox thread, its handler's turn).
    void discard(Process& process, const std::function<bool(const Term&)>& match);
    // The oldest message `match` accepts, taken out of the queue. The same caller only.
    std::optional<Term> take(Process& process, const std::function<bool(const Term&)>& match);

    // Scheduling of handler and coroutine processes: a turn on the node's threads.
    void post_turn(std::shared_ptr<Process> process);

    // Spawning across nodes. A request from `from` to run M:F(Args) on `node`; its answer comes
    // as the message {spawn_reply, ReqId, ok, Pid} or {spawn_reply, ReqId, error, Reason}, as
    // erlang:spawn_request/5 delivers it, and with `monitor` in `options` a
    // {'DOWN', ReqId, process, Pid, Reason} follows when the spawned process ends. With
    // `errors_only` the ok message is left out, as spawn_request's {reply, error_only} leaves it
    // (erpc's choice: the DOWN brings the result, and the requester is woken once, not twice).
    Reference spawn_request(Process& from, Atom node, Atom module, Atom function, Term args,
                            Term options, bool errors_only = false);
    // The requester gives up on a spawn request (spawn_request_abandon/1): its reply is then
    // undone when it comes, and a monitor it made already goes.
    void abandon_spawn(Process& from, const Reference& ref);
    // The requester's spawn_request gets {spawn_reply, ReqId, error, Why} unless it was answered.
    void spawn_refused(const Pid& requester, const Reference& ref, Atom why);
    void set_spawn_service(std::shared_ptr<SpawnService> service);
    SpawnService* spawn_service() const { return spawn_service_.get(); }
    void set_services(std::shared_ptr<Services> services);
    Services* services() const { return services_.get(); }
    // For a process spawned on a peer's request: the requester monitors it under `ref`, and
    // links to it, over `connection`, as if it had asked itself.
    void add_remote_watcher(Process& target, const Pid& watcher, const Reference& ref,
                            Connection& over);
    void add_remote_link(Process& target, const Pid& other, Connection& over);

    // Connections
    // The connection to `node` if there is one (up or being set up); null otherwise.
    std::shared_ptr<Connection> existing_connection(Atom node) const;
    std::vector<Atom> connected(bool hidden) const;
    // The flags agreed with `node` while a connection to it is up, else 0.
    std::uint64_t peer_flags(Atom node) const;
    // `done` once the connection is up, or with why it could not be made.
    void async_connect(Atom node, std::function<void(Expected<void, NodeError>)> done);
    bool disconnect(Atom node);
    void set_cookie(Atom node, std::string cookie);
    std::uint64_t on_node_event(std::function<void(const NodeEvent&)> callback);
    void unsubscribe(std::uint64_t id);
    void monitor_nodes(const Pid& pid, bool enable);
    void monitor_node(const Pid& pid, Atom node, bool enable);
    // Unregisters the name from EPMD (peers can no longer look it up); the node keeps running.
    void unregister_epmd() {
        if (registration_) registration_->close();
    }
    NodeStats stats() const;
    NodeLimits limits() const;
    void set_limits(const NodeLimits& limits);
    void count_dropped() { dropped_.fetch_add(1, std::memory_order_relaxed); }
    // Distribution bytes in and out since the node started, every connection included.
    std::pair<std::uint64_t, std::uint64_t> io_bytes() const;

    // SessionObserver
    wire::HandshakeStatus on_peer_named(net::Session& session) override;
    void on_up(net::Session& session) override;
    void on_control(net::Session& session, wire::Control&& control) override;
    void on_end(net::Session& session, const net::SessionEnd& end) override;

  private:
    struct PendingExit {
        Pid to;
        Pid from;
        Term reason;
        ExitKind kind;
        bool priority = false;  // trapped, it becomes a priority {'EXIT', From, Reason} message
    };

    [[nodiscard]] Expected<void, NodeError> boot(const ServicesStarter& start_services);
    // After stop, once no other thread runs the executors: the handlers that were ready run.
    void run_what_is_left();
    // Where a connection lives: a node thread's io_context, and that context's token, which
    // the connection's session holds for its life so that its use count is the context's load.
    struct ConnectionContext {
        asio::io_context* io;
        std::shared_ptr<const void> token;
    };
    // The context that carries the fewest connections now.
    ConnectionContext connection_context();
    // A node with a name of its own: the acceptor, the EPMD started when none answers, and the
    // registration that gives the creation, or EPMD-less none of them (listen.cpp).
    // `default_cookie_path`: where the cookie
    // came from, when that was a default location (for the warning about listening everywhere
    // with it).
    [[nodiscard]] Expected<void, NodeError> listen_and_register(
        const std::string& alive, const std::string& default_cookie_path);
    // A dynamic name: connects to NodeOptions::named_by and takes the name it gives (dynamic.cpp).
    [[nodiscard]] Expected<void, NodeError> ask_for_name();
    std::string cookie_for(const std::string& peer) const;
    net::SessionSettings session_settings() const;
    // Handshakes from peers (handshakes.cpp): admission per source address, the status a peer
    // that names itself gets, and names for peers that ask for one.
    void accept(tcp::socket socket);
    // Under connections_mutex_: takes `session` out of the handshakes in progress.
    std::shared_ptr<net::Session> release_handshake(const net::Session& session);
    // Under connections_mutex_: a connection from `address` that never became a session.
    void release_admission(const std::string& address);
    // Under connections_mutex_: a name on `host` that no connection has, and its creation.
    std::optional<std::pair<Atom, std::uint32_t>> give_dynamic_name(const std::string& host);
    // Under connections_mutex_: a name given by give_dynamic_name is free again.
    void recycle_dynamic_name(const Connection& connection);
    // The node that gave this node its name is gone: so is the name (ours, dynamic.cpp).
    void lose_name(const std::string& reason);

    // Delivery to a local process; through an alias, only while the alias is still active on
    // it. Returns false when the message was dropped. A priority message goes after the priority
    // messages already queued and before every ordinary one.
    bool deliver(Process& to, Term message, const Reference* through_alias = nullptr,
                 bool priority = false);
    // Whether `alias` is still active on `process` (its own alias or a monitor's that goes with
    // it), as delivery through it checks.
    bool holds_alias(Process& process, const Reference& alias);
    // The monitor `ref` of `watcher` fired: it is removed and its 'DOWN' queued in one step, so
    // that a demonitor that finds no monitor knows the 'DOWN' is queued already.
    void fire_monitor(Process& watcher, const Reference& ref, const wire::ProcessId& target,
                      Atom node, const Term& reason);
    void run_turn(const std::shared_ptr<Process>& process);
    // Records in `process` (locked) and in `connection` that something of the process crosses
    // the connection. False when the connection is down already: then nothing may be recorded.
    bool cross(Process& process, Connection& connection);
    // Applies an exit signal to a local process; an exit that kills it queues its own signals.
    void apply_exit(const PendingExit& signal, std::vector<PendingExit>& more);
    void exit_signal(PendingExit signal);
    void die(Process& process, Term reason, std::vector<PendingExit>& more);

    // The connection to `node`, dialling it when there is none. Null for this node itself or a
    // node name that cannot be dialled.
    std::shared_ptr<Connection> connection_to(Atom node);
    // The connection to `node` only while it is still the one with `id`: signals about links and
    // monitors made over an earlier connection must not open a new one.
    std::shared_ptr<Connection> connection_if(Atom node, std::uint64_t id) const;
    // The connection to `node` when it is up, never dialling.
    std::shared_ptr<Connection> up_connection(Atom node) const;
    std::shared_ptr<Connection> connection_for(Atom node, Dial dial) {
        switch (dial) {
            case Dial::on_demand:
                return connection_to(node);
            case Dial::no:
                return existing_connection(node);
            case Dial::if_up:
                return up_connection(node);
        }
        return nullptr;
    }
    void dial(const std::shared_ptr<Connection>& connection);
    void on_dialled(const std::shared_ptr<Connection>& connection, const ConnectionContext& context,
                    Expected<net::Dialled, net::DialError> dialled);
    // The dial's transport is ready (plain, or encrypted and authenticated): the session starts,
    // unless the connection was handed to the peer's own attempt meanwhile.
    void start_dialled_session(const std::shared_ptr<Connection>& connection,
                               const ConnectionContext& context,
                               std::unique_ptr<net::Transport> transport);
    void dial_failed(const std::shared_ptr<Connection>& connection, const NodeError& why);
    // An accepted connection's transport is ready (or refused): its session starts.
    void on_accepted(const std::string& address, const ConnectionContext& context,
                     Expected<std::unique_ptr<net::Transport>, std::string> transport);

    // The encrypted transport (crypto_policy.cpp).
    [[nodiscard]] Expected<void, NodeError> prepare_crypto();
    // How to dial `peer`, which registered `epmd_extra`: nothing (plaintext), an encrypted
    // handshake, or why not at all.
    [[nodiscard]] Expected<std::optional<net::SecureDial>, NodeError> dial_plan(
        const std::string& peer, const std::vector<std::uint8_t>& epmd_extra);
    net::AcceptPolicy accept_policy() const;
    // The EPMD extra data that advertises the encrypted transport (empty when off).
    std::vector<std::uint8_t> epmd_extra() const;
    // AES-256-GCM is offered and asked for: the CPU runs it and crypto.cipher allows it.
    bool offers_aesgcm() const;
    // Acceptor, once the peer named itself: an encrypted peer with a pinned key must have the
    // key pinned for that name.
    bool key_fits_name(const net::Session& session) const;
    [[nodiscard]] Expected<crypto::Key, NodeError> psk_for(const std::string& cookie);
    // A control queued for a peer that turned out not to take it (Connection::Sent::not_offered),
    // treated as the BEAM treats such a peer: a spawn request is refused with notsup, as
    // erlang:spawn_request/5 reports it; an alias send is dropped (the peer cannot have made the
    // alias), and so is an exit signal to an alias for a peer without ALTACT_SIG; a monitor's
    // MONITOR_P is left out, so the monitor stays here and fires only with noconnection.
    void not_offered(const wire::Control& control);
    // The connection is gone: everything that crossed it fires noconnection.
    void connection_down(const std::shared_ptr<Connection>& connection, const std::string& reason,
                         bool was_up);
    void node_event(const NodeEvent& event);
    std::shared_ptr<Connection> connection_of(const net::Session& session) const;

    // Incoming controls, by kind (router.cpp), from a session that carries its connection.
    void route(const net::Session& from, wire::Control&& control);
    void incoming_link(Connection& from, const wire::Link& link);
    void incoming_unlink_id(Connection& from, const wire::UnlinkId& unlink);
    void incoming_unlink_ack(const wire::UnlinkIdAck& ack);
    void incoming_monitor(Connection& from, const wire::MonitorP& monitor);
    void incoming_demonitor(const wire::DemonitorP& demonitor);
    void incoming_monitor_exit(Connection& from, wire::MonitorPExit&& exit);
    void incoming_spawn_request(Connection& from, wire::SpawnRequest&& request);
    void incoming_spawn_reply(Connection& from, wire::SpawnReply&& reply);
    void incoming_alias_exit(wire::AliasExit&& exit);

    NodeOptions options_;
    Atom name_;
    std::uint32_t creation_ = 0;
    std::string cookie_;
    std::atomic<bool> stopped_{false};
    std::mutex stop_wait_mutex_;
    std::condition_variable stop_wait_;
    bool stop_done_ = false;  // under stop_wait_mutex_: stop() has finished

    // One io_context per node thread, each run by that thread alone (so asio never wakes
    // another thread for what a handler queues). A connection lives on one of them: its socket,
    // strand and timers. Each context has a token that the sessions on it share
    // (connection_context).
    std::vector<std::unique_ptr<asio::io_context>> contexts_;
    std::vector<std::shared_ptr<const void>> context_tokens_;
    std::atomic<unsigned> next_context_{0};
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
    std::vector<std::thread> threads_;
    std::atomic<std::thread::id> stopped_by_{};  // the node thread that stopped the node, if any
    std::unique_ptr<EpmdServer> epmd_server_;
    std::unique_ptr<EpmdClient> epmd_client_;
    std::unique_ptr<EpmdRegistration> registration_;
    std::shared_ptr<net::Acceptor> acceptor_;

    ProcessTable processes_;
    NameTable names_;
    AliasTable aliases_;
    std::atomic<std::uint64_t> next_ref_{1};
    std::uint32_t ref_salt_ = 0;
    std::atomic<std::uint64_t> next_unlink_id_{1};

    mutable std::shared_mutex connections_mutex_;
    std::unordered_map<std::uint32_t, std::shared_ptr<Connection>> connections_;  // by atom
    struct PendingHandshake {
        std::shared_ptr<net::Session> session;
        std::string address;  // the peer's IP address, for the limit per address
    };
    // Accepted, not yet named (or told alive), by session.
    std::unordered_map<const net::Session*, PendingHandshake> handshaking_;
    struct AddressHandshakes {
        std::size_t count = 0;
        bool warned = false;  // a refusal was logged as a warning since the last admission
    };
    std::unordered_map<std::string, AddressHandshakes> handshakes_from_;  // by address
    std::condition_variable_any sessions_ended_;  // a session left the two tables above
    std::uint64_t next_connection_id_ = 1;
    // Names given to peers that asked for one, free again with the next creation once their
    // connection went (as net_kernel pools them), so that a tool connecting again and again
    // does not make a new atom each time. By host.
    std::unordered_map<std::string, std::vector<std::pair<Atom, std::uint32_t>>> free_names_;

    // This node's own dynamic name (NodeOptions::named_by): set once, when the node that names
    // us answers, before anything else runs on the node.
    bool dynamic_name_ = false;
    std::string dynamic_host_;
    Atom namer_;
    std::atomic<bool> name_lost_{false};

    std::shared_ptr<SpawnService> spawn_service_;  // set once, before the node accepts peers
    std::shared_ptr<Services> services_;           // likewise

    std::mutex name_watches_mutex_;
    std::unordered_multimap<std::uint32_t,
                            std::pair<std::uint64_t, std::function<void(const Pid&)>>>
        name_watches_;  // by atom
    std::uint64_t next_name_watch_ = 1;

    mutable std::shared_mutex resolvers_mutex_;
    std::unordered_map<std::uint32_t, NameResolver> resolvers_;  // by registry atom

    mutable std::mutex cookies_mutex_;
    std::unordered_map<std::string, std::string> peer_cookies_;
    // Pre-shared keys of the encrypted transport, by cookie: slow to derive (Argon2id), so kept.
    std::unordered_map<std::string, crypto::Key> psks_;

    mutable std::mutex events_mutex_;
    std::vector<std::pair<std::uint64_t, std::function<void(const NodeEvent&)>>> subscribers_;
    std::vector<Pid> node_monitors_;
    std::vector<std::pair<Atom, Pid>> single_node_monitors_;  // monitor_node/2, one per call
    std::uint64_t next_subscriber_ = 1;

    mutable std::mutex limits_mutex_;
    NodeLimits limits_;  // options_.limits, as changed since

    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint64_t> refused_{0};
    std::atomic<std::uint64_t> bad_frames_{0};
    std::atomic<std::uint64_t> send_queue_overflows_{0};
    // Under connections_mutex_ (so that stats() counts a session once): what a connection that
    // went down had carried, for the totals of stats() (stats.cpp).
    void retire_traffic(const net::Session& session);
    mutable std::mutex retired_mutex_;
    net::SessionTraffic retired_;
};

}  // namespace distribute::node
