// A C++ node in an Erlang cluster. It registers with EPMD (or starts the embedded one), listens
// for BEAM nodes, connects to them on the first send as a BEAM does, and hosts processes that
// send, receive, link and monitor exactly as Erlang processes do. Everything hangs off the Node
// object: two nodes can live in one program.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "distribute/crypto.hpp"
#include "distribute/epmd.hpp"
#include "distribute/error.hpp"
#include "distribute/expected.hpp"
#include "distribute/mailbox.hpp"
#include "distribute/server_ref.hpp"
#include "distribute/term.hpp"

namespace boost::asio {
class io_context;
}

namespace distribute {

namespace node {
class Runtime;
struct Access;
}  // namespace node

enum class NodeErrc {
    bad_name = 1,    // not alive, alive@host, or a host part that cannot be worked out
    no_cookie,       // no cookie given, and the cookie file is missing, unreadable or refused
    listen_failed,   // no port of the range could be bound
    epmd_failed,     // no EPMD to register with, or it refused the name
    not_running,     // the node was stopped
    connect_failed,  // the peer refused the handshake for a reason other than the cookie, or
                     // this node lost its dynamic name (NodeOptions::named_by)
    timeout,         // an operation did not finish in time
    name_taken,      // register_name: the name is in use
    not_alive,       // register_name: the process has exited
    node_thread,     // a blocking operation on one of a node's own threads
    // Why a connection to a peer could not be made, each its own code so that a program (and
    // `distribute`'s exit status) can tell what to fix:
    no_epmd,         // nothing answers on the EPMD port of the peer's host
    not_registered,  // that EPMD does not know the peer's name (the detail lists the names)
    wrong_cookie,    // the handshake failed on the digest: the two sides' cookies differ
    unreachable,     // the host does not resolve, or the peer's port takes no connection
    // The encrypted transport (CryptoOptions): the peer does not offer it while this node
    // requires it, has no pinned key, or refused or failed the encrypted handshake.
    crypto_failed,
};
const std::error_category& node_category() noexcept;
std::error_code make_error_code(NodeErrc e) noexcept;

using NodeError = CodedError<NodeErrc>;

enum class LogLevel { debug, info, warning, error };
std::string_view to_string(LogLevel level);  // "debug", "info", "warning", "error"

// One line per event; called from the node's threads. Cookies never appear in it.
using LogSink = std::function<void(LogLevel, std::string_view)>;

// What a peer can push against, with their defaults. They may change while the node runs
// (Node::set_limits); a change applies to the connections made after it, unless it says
// otherwise.
struct NodeLimits {
    // The largest distribution message a peer may send; a larger one closes that connection.
    std::size_t max_frame_bytes = std::size_t{1} << 30;
    // Bytes queued for one peer past which a sending program thread waits for the socket (the
    // BEAM's dist_buf_busy_limit); node threads never wait.
    std::size_t busy_limit = std::size_t{1} << 20;
    // Bytes queued for one peer that reads none of them past which its connection is closed
    // (a warning, nodedown `send queue full`): node threads cannot wait at busy_limit, so
    // without it a peer that stops reading would make us hold whatever they send it until its
    // tick timeout. A message is always queued when nothing else waits, however large.
    std::size_t max_send_queue_bytes = std::size_t{1} << 30;
    // Handshakes in progress from one IP address. A connection from an address at the limit is
    // closed at once; other addresses are not affected, and each handshake still ends within
    // setup_timeout.
    std::size_t max_handshakes_per_address = 64;
    // Bytes that the fragmented messages in progress on one connection may hold (a BEAM sends a
    // message of over 64 KiB in fragments, and the fragments of several of its processes
    // interleave). A peer that goes past it, or past 4,096 sequences at once, loses that
    // connection only. 1 GiB, as large as one unfragmented frame may be.
    std::size_t max_reassembly_bytes = std::size_t{1} << 30;
    // erpc calls and casts (a process each) and rpc:calls through rex that one peer node has in
    // progress here at once. Past it, its next one is refused as a BEAM at its process limit
    // refuses a spawn (system_limit) and a warning is logged; its other traffic and every other
    // peer go on. A change applies to the next call.
    std::size_t max_remote_calls_per_peer = 10000;
    // Atoms that one connection's messages may add to the process-wide atom table (1,048,576
    // atoms, as the BEAM's; an atom is never freed). A message past it closes that connection
    // as a bad frame; atoms that already exist cost nothing, so a peer that sends the same
    // atoms again and again never reaches it. Not kept across reconnections.
    std::size_t max_new_atoms_per_connection = 100000;
};

struct NodeOptions {
    // "alive" or "alive@host". Without a host, like erl: the short host name for short names,
    // the fully qualified one for long names. "undefined" (or "undefined@host") asks for a
    // dynamic name, as erl -sname undefined does: see named_by.
    std::string name;
    // With a dynamic name: the node (name@host) that gives this node its name and creation.
    // start() connects to it first and returns once it has answered, or fails with the code of
    // why it could not connect (not_registered, wrong_cookie...). Such a node neither listens
    // nor registers with EPMD, whatever dist_listen says, and is hidden. When its connection to
    // named_by goes down, that node may give the name to another, so this node closes every
    // connection and makes no new one (a BEAM starts over without a name; start a new Node).
    std::string named_by;
    bool long_names = false;  // erl -name rather than erl -sname
    // The cookie for every peer. Empty: read `cookie_file` with erl's checks (never created), or
    // when that is empty too, default_cookie_file(), as erl does without -setcookie.
    std::string cookie;
    std::string cookie_file;
    // Distribution port, as inet_dist_listen_min/max: 0 takes any free port; a range takes its
    // first free one.
    std::uint16_t port_min = 0;
    std::uint16_t port_max = 0;
    // The address to listen on, as inet_dist_use_interface. Empty: every interface, IPv4 and
    // IPv6 (one dual-stack socket, or IPv4 alone on a machine without IPv6), so that inet_tcp
    // and inet6_tcp peers both reach the node. A loopback address keeps the node, and the EPMD
    // it starts when none answers, off the network.
    std::string listen_address;
    // false: as erl -dist_listen false, the node neither listens nor registers with EPMD (nor
    // starts one); it only dials out, and its creation is random. For short-lived clients such
    // as `distribute ping`. Such a node is hidden.
    bool dist_listen = true;
    // Visible, the node takes part in `global` and `pg` as a BEAM node does, and BEAM nodes list
    // it in nodes(). Hidden nodes are left out of nodes(), global and pg, as on the BEAM.
    bool hidden = false;
    // As -kernel net_ticktime: a tick goes out every net_ticktime / 4 of silence, and a peer
    // silent for net_ticktime is dropped. A peer's ticks are answered as well, so one with a
    // shorter net_ticktime keeps us too.
    std::chrono::seconds net_ticktime{60};
    std::chrono::milliseconds setup_timeout{7000};  // net_setuptime: handshake and connect
    // Our messages refer to the atoms they carry through the peer's atom cache (the distribution
    // header's atom cache references, as a BEAM sends them): an atom the peer already holds
    // costs two bytes instead of its text. false: every atom goes as text (for comparison and
    // debugging). Either way DIST_HDR_ATOM_CACHE is offered and a peer's references are read.
    bool atom_cache = true;
    // The encrypted transport between two of our nodes (docs/crypto.md); off by default, as a
    // BEAM node.
    CryptoOptions crypto;
    // EPMD-less, as erl -start_epmd false -erl_epmd_port PORT. Nonzero: the node listens on this
    // port (port_min/port_max, if given, must be this port), neither starts nor contacts an EPMD
    // (so its creation is random, as net_kernel's when no EPMD registered it), and dials every
    // peer at this same port on the peer's host: the BEAM so started assumes every node listens
    // where it does. For clusters whose nodes' ports are fixed (containers, firewalls), with no
    // EPMD to run or expose. epmd_mode, epmd and embedded_epmd_addresses are then unused.
    std::uint16_t epmdless_port = 0;
    EpmdMode epmd_mode = EpmdMode::automatic;
    EpmdClientOptions epmd;
    // Where the EPMD this node starts (when none answers) listens, loopback added. Empty:
    // ERL_EPMD_ADDRESS as epmd reads it, or when unset, where the node listens.
    std::vector<std::string> embedded_epmd_addresses;
    NodeLimits limits;
    // Node threads, each with its own io_context; a connection stays on one. 0: hardware
    // concurrency.
    unsigned threads = 0;
    LogSink log;  // empty: silent
};

// A cookie read from a file with erl's rules: a regular file that only its owner may access
// (mode 0400 or 0600), holding characters ' '..'~', after which only line ends and spaces may
// follow. A refusal is NodeErrc::no_cookie with erl's message.
struct CookieFile {
    std::string cookie;
    std::string path;
    bool created = false;  // the file did not exist: a new random cookie was written to it
};
// `path` with erl's checks; never created. Never blocks on a FIFO.
[[nodiscard]] Expected<CookieFile, NodeError> read_cookie_file(const std::string& path);
// Where erl looks without -setcookie: $HOME/.erlang.cookie, then
// $XDG_CONFIG_HOME/erlang/.erlang.cookie (~/.config/erlang/...); when neither exists it creates
// $HOME/.erlang.cookie with 20 random capital letters, mode 0400 (`created` tells).
[[nodiscard]] Expected<CookieFile, NodeError> default_cookie_file();

// A connection coming up or going down, as net_kernel:monitor_nodes reports it.
struct NodeEvent {
    Atom node;
    bool up = false;
    bool hidden = false;  // the peer is a hidden node
    std::string reason;   // down: why (connection closed, net_tick_timeout, ...)
};

// One connection that is up, as Node::stats() saw it. Messages are frames that carry a control
// message (a send, a link, a monitor...); bytes count every frame with its length header, ticks
// included, and not the handshake.
struct ConnectionStats {
    Atom node;
    std::string address;  // the peer's IP address and port
    bool hidden = false;  // the peer is a hidden node
    std::uint64_t messages_in = 0;
    std::uint64_t messages_out = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t ticks_in = 0;
    std::uint64_t ticks_out = 0;
    // Encoded for the peer and not yet written to its socket: what a slow peer makes pile up
    // (a program's thread waits for the writer past 1 MiB, as the BEAM's dist_buf_busy_limit).
    std::size_t queued_bytes = 0;
    // Times a program's thread sending to the peer waited for the writer past busy_limit (the
    // BEAM's busy_dist_port): how often a slow peer, or a large message, held a sender up.
    std::uint64_t busy_waits = 0;
    // Held by the peer's fragmented messages not yet complete (at most
    // NodeLimits::max_reassembly_bytes): what a peer's large messages in progress cost us.
    std::size_t reassembly_bytes = 0;
    // Since anything (a frame or a tick) last came from the peer: it is dropped at net_ticktime.
    std::chrono::milliseconds since_last_received{0};
};

struct NodeStats {
    std::uint64_t dropped_messages = 0;  // to unknown names, dead pids, old creations
    std::uint64_t refused_handshakes = 0;
    std::uint64_t bad_frames = 0;
    std::uint64_t send_queue_overflows = 0;  // connections closed at max_send_queue_bytes
    std::size_t processes = 0;  // alive now (mailboxes, handlers, actors, the node's own)
    std::size_t registered_names = 0;
    std::size_t atoms = 0;  // in the atom table, which every node of a program shares
    std::vector<ConnectionStats> connections;  // the ones up now, in no particular order
    // Since the node started, over every connection it ever had (the ones up now included).
    std::uint64_t messages_in = 0;
    std::uint64_t messages_out = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
};

class Node {
  public:
    // Registers with EPMD and starts listening; the node runs until stop() or destruction.
    [[nodiscard]] static Expected<Node, NodeError> start(NodeOptions options);
    Node(Node&&) noexcept;
    Node& operator=(Node&&) noexcept;
    ~Node();

    // Closes every connection, ends every process (reason `shutdown`) and unregisters.
    void stop();
    // For a program whose main thread has nothing else to do: blocks until the node stops.
    // SIGINT or SIGTERM stops it (as they stop `distribute node` and erl), and so does stop()
    // from another thread or a handler. Returns the signal that stopped it, or 0. While it waits
    // the two signals no longer end the program outright; afterwards they do again.
    int wait();

    Atom name() const;
    std::uint32_t creation() const;
    std::uint16_t port() const;

    // A process for a plain C++ thread, C-node style. Many threads may each own one.
    [[nodiscard]] Mailbox open_mailbox();
    // A process whose handler runs on the node's threads, one message at a time, never
    // concurrently with itself. It lives until it exits (ProcessHandle::exit_self) or is killed.
    using Handler = std::function<void(const ProcessHandle& self, Term message)>;
    ProcessHandle spawn(Handler handler, bool trap_exit = false);

    // Local registered names, as register/2, unregister/1 and whereis/1.
    [[nodiscard]] Expected<void, NodeError> register_name(Atom name, const Pid& pid);
    bool unregister_name(Atom name);
    std::optional<Pid> whereis(Atom name) const;

    // The name service `registry` (the `global` of {global, Name}, the Module of {via, Module,
    // Name}) for the calls and sends of this node's processes; an empty resolver removes it.
    void set_name_resolver(Atom registry, NameResolver resolver);

    // Connected nodes: visible ones, hidden ones.
    std::vector<Atom> nodes() const;
    std::vector<Atom> hidden_nodes() const;
    // Connects now (a send would do it on demand). Blocking: on one of a node's threads it fails
    // at once with node_thread (a send connects without waiting).
    [[nodiscard]] Expected<void, NodeError> connect(
        Atom node, std::chrono::milliseconds timeout = std::chrono::milliseconds(7000));
    // As erlang:disconnect_node/1: links and monitors across it fire with noconnection.
    bool disconnect(Atom node);
    // net_adm:ping: true for pong. Blocking (a gen call to the peer's net_kernel): on one of a
    // node's threads it answers false at once.
    bool ping(Atom node, std::chrono::milliseconds timeout = std::chrono::milliseconds(7000));
    // As erlang:set_cookie/2: the cookie for one peer.
    void set_cookie(Atom node, std::string cookie);

    // Called for every nodeup and nodedown, from the node's threads. Returns an id for
    // unsubscribe.
    std::uint64_t on_node_event(std::function<void(const NodeEvent&)> callback);
    // No event after it returns reaches the callback, but a call already running on a node
    // thread may still be finishing: what the callback uses must outlive that (own it in the
    // callback, by a shared_ptr, rather than point at a local).
    void unsubscribe(std::uint64_t id);
    // As net_kernel:monitor_nodes(true): `pid` gets {nodeup, Node} and {nodedown, Node}.
    void monitor_nodes(const Pid& pid, bool enable = true);
    // As erlang:monitor_node(Node, true) called by `pid`: one {nodedown, Node} when the
    // connection to `node` goes down; when there is none and none can be made, at once. Each
    // call adds one monitor (two calls, two messages); enable = false removes one.
    void monitor_node(const Pid& pid, Atom node, bool enable = true);

    // The counters, read now: one pass over the connections under the registry's shared lock,
    // cheap enough to poll. Also answered to rpc as distribute:stats/0 (docs/node.md).
    NodeStats stats() const;
    NodeLimits limits() const;
    // New limits for the connections made from now on (and for the next remote call).
    void set_limits(const NodeLimits& limits);
    // The first node thread's io_context, for the program's own timers and signal sets: work
    // posted to it runs on that one thread, beside the connections that live there.
    boost::asio::io_context& io();

  private:
    friend struct node::Access;
    explicit Node(std::shared_ptr<node::Runtime> runtime);
    std::shared_ptr<node::Runtime> runtime_;
};

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::NodeErrc> : std::true_type {};
