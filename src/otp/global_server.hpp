// global_name_server of this node: OTP 25's global.erl (protocol version 8) as a visible BEAM
// node runs it, so that the BEAM nodes this node is connected to take it for one of their own.
//
// It is three processes, as in global.erl: the server (registered as global_name_server), which
// owns the tables of names and locks and runs the connection protocol with the servers of other
// nodes; the locker (global_locker.hpp), which takes the `global` lock in both partitions when
// two nodes connect; and the registrar (global_registrar.hpp), which registers and unregisters
// names for C++ callers under that lock. The connection protocol between two servers (see
// global.erl's "Connection algorithm"): on nodeup each side casts init_connect; the lockers take
// the lock; each side sends its names (exchange); the smaller node resolves clashes; each side
// sends the result (resolved) and tells the other nodes of its partition (new_nodes), which then
// connect to the newcomers and report in_sync. A node is "synced" once that is done, and
// global:sync() on a BEAM node waits for exactly that. prevent_overlapping_partitions (on by
// default, as in OTP 25) is in global_partitions.cpp.
//
// The tables are read by any thread (whereis, the locker's checks, the resolver) under a shared
// lock and written only by the server's handler. Every message from the network is checked
// before use; one that fits none of the shapes is logged and dropped.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "distribute/global.hpp"
#include "distribute/rpc.hpp"
#include "node/identity_hash.hpp"
#include "node/runtime.hpp"
#include "node/timer.hpp"

namespace distribute::otp {

class GlobalLocker;
class GlobalRegistrar;
struct GlobalResolution;

inline constexpr int global_vsn = 8;          // what this node speaks
inline constexpr int verify_connect_vsn = 8;  // init_connect_ack and cancel_connect
inline constexpr int pop_vsn = 7;             // prevent_overlapping_partitions
inline constexpr int pgpv_vsn = 7;            // versions travel with node lists

class GlobalServer : public std::enable_shared_from_this<GlobalServer> {
  public:
    explicit GlobalServer(node::Runtime& runtime);
    ~GlobalServer();

    // Spawns the three processes and registers global_name_server.
    void start();
    // The node is stopping: no more lost_connection reports (global's prepare_shutdown), and the
    // processes are let go.
    void stop();
    // The node is leaving the cluster (Cluster::leave) and is about to close every connection:
    // as for stop, those are not lost connections to report (the others would take them for a
    // partition and split among themselves), and no node is connected to from now on.
    void leaving();

    node::Runtime& runtime() { return runtime_; }

    // ---- Read by any thread
    // global:whereis_name/1: a name of a local process that has exited is undefined already.
    std::optional<Pid> whereis(const Term& name) const;
    std::vector<Term> registered_names() const;
    // The method a name was registered with, and its pid.
    std::optional<std::pair<Pid, Term>> registration(const Term& name) const;
    // [{Name, Pid, Method}] of every name, as global's exchange sends them.
    Term names_for_exchange() const;
    // The names `pid` is registered under.
    std::size_t names_of(const Pid& pid) const;
    // Nodes this server is synced with (global:sync waits for them) and the known ones.
    std::vector<Atom> known_nodes() const;
    std::vector<Atom> synced_nodes() const;
    // global's can_set_lock/1 on this node's table: false when another requester holds it.
    bool can_set_lock(const Term& lock_id) const;
    bool is_lock_set(const Term& resource) const;
    // Blocks until every visible node connected now is synced (or gone), or the time passes.
    bool wait_synced(std::chrono::milliseconds timeout) const;

    Pid pid() const { return pid_; }
    Pid locker_pid() const { return locker_pid_; }
    // Null once the node stopped.
    std::shared_ptr<GlobalRegistrar> registrar() const;

    // Runs `callback` once, with the pid, when `name` is next registered (by anyone, anywhere:
    // when this node learns of it). On the server's thread: it must not block.
    std::uint64_t watch_name(const Term& name, std::function<void(const Pid&)> callback);
    void unwatch_name(std::uint64_t id);

    // C++ resolvers of names registered here with a resolver of their own, by name.
    void set_resolver(const Term& name, GlobalResolver resolver);
    std::optional<GlobalResolver> resolver_of(const Term& name) const;

    // Sends from the server's process (exits and notices of the standard resolvers).
    void send_from_server(const Pid& to, Term message);
    void exit_from_server(const Pid& to, Term reason);

  private:
    struct Name {
        Pid pid;
        Term method;
        Reference monitor;
    };
    struct ExternalName {
        Pid pid;
        Atom registered_on;
    };
    struct Lock {
        Term requester;
        std::vector<std::pair<Pid, Reference>> holders;
    };
    // What global.erl keeps in its process dictionary for one node being connected.
    struct Session {
        Term my_tag = Term(atoms::undefined);
        Term his_tag = Term(atoms::undefined);
        std::optional<int> protocol;       // prot_vsn
        std::optional<Term> pre_connect;   // an init_connect that came before our nodeup
        std::optional<Term> exchange;      // wait_lock = {exchange, NameList}
        bool lock_is_set = false;          // wait_lock = lock_is_set
        std::optional<Term> saved_ops;     // save_ops = Ops
        std::optional<Term> his_resolved;  // save_ops = {resolved, HisKnown, NamesExt, ...}
        Term his_known, his_names_ext;
        Term lock_id = Term(atoms::undefined);
    };
    struct Resolving {
        Term my_tag;
        std::shared_ptr<GlobalResolution> resolution;  // once the names came
    };
    struct Syncer {
        std::set<Atom> waiting;
        Pid caller;
        Term tag;
    };
    struct LostConnection {
        Term extended_creation;
        Term operation;
        std::shared_ptr<node::TimerState> expiry;
    };

    enum class NodeDown { disconnected, remove_connection, ignore_node };

    // global_server.cpp: dispatch, calls, the tables
    void handle(const Term& message);
    void handle_call(const GenCall& call);
    void handle_cast(const Term& request);
    void handle_info(const Term& message);
    void insert_name(const Term& name, const Pid& pid, const Term& method, const Term& from,
                     const Term& extra_info);
    void insert_external_name(const Term& name, const Pid& pid, const Term& method,
                              Atom registered_on, const Term& from, const Term& extra_info);
    void delete_name(const Term& name);
    // Stops watching `entry` (the process `name` had) and drops its indexes, not the entry.
    void forget(const Term& name, const Name& entry);
    void delete_name_monitored_by(const Reference& ref);
    bool lock_still_set(const Term& from, const Term& extra_info) const;
    bool set_lock(const Term& lock_id, const Pid& holder);
    void del_lock(const Term& lock_id, const Pid& holder);
    void delete_locks_monitored_by(const Reference& ref);
    void remove_holder(std::map<Term, Lock>::iterator lock, const Pid& holder, bool down);
    Term names_ext_list() const;
    void whereis_request(const Term& name, const Term& from);
    void start_sync(std::vector<Atom> nodes, const Pid& caller, const Term& tag);
    void synced_with(Atom node);
    void syncer_node_down(Atom node);

    // global_connect.cpp: the connection protocol between two servers
    void on_init_connect(const Term& version, Atom node, const Term& init);
    void init_connect(int vsn, Atom node, const Term& init, const Term& his_tag,
                      const Term& his_vsn);
    void on_lock_is_set(Atom node, const Term& tag, const Term& lock_id);
    void on_exchange(Atom node, const Term& names, const Term& tag);
    void on_exchange_ops(Atom node, const Term& tag, const Term& ops, const Term& resolved);
    void on_resolved(Atom node, const Term& his_resolved, const Term& his_known,
                     const Term& names_ext, const Term& tag);
    void on_new_nodes(Atom node, const Term& ops, const Term& names_ext, const Term& nodes,
                      const Term& extra_info);
    void on_in_sync(Atom node);
    void on_cancel_connect(Atom node, const Term& tag);
    void on_init_connect_ack(Atom node, const Term& his_my_tag, const Term& his_his_tag);
    void on_lock_set(const Term& message);
    void handle_nodeup(Atom node);
    void handle_nodedown(Atom node, NodeDown what);
    void lock_is_set(Atom node, const Term& lock_id);
    void exchange(Atom node, const Term& names);
    void resolved(Atom node, const Term& his_resolved, const Term& his_known,
                  const Term& names_ext);
    void do_ops(const Term& ops, const Term& from, const Term& names_ext, const Term& extra_info);
    void cancel_locker(Atom node, const Term& tag, Term casts = Term());
    void cancel_resolved_locker(Atom node, Term casts = Term());
    void restart_connect(Atom node, const Term& my_tag);
    void send_cancel_connect(Atom node, const Term& my_tag);
    void send_cancel_connect_message(Atom node, const Term& his_tag);
    void sync_others(const std::vector<Atom>& nodes);
    std::vector<Atom> add_to_known(const Term& nodes);
    Term known_list(int vsn) const;
    Term with_versions(const Term& nodes) const;
    int node_vsn(Atom node) const;
    Term my_tag(Atom node) const;
    Term his_tag(Atom node) const;

    // global_partitions.cpp: prevent_overlapping_partitions
    void on_lost_connection(Atom node_a, const Term& creation_a, const Term& op_a, Atom node_b);
    void on_remove_connection(Atom node);
    void on_lost_connection_expired(Atom node_a, Atom node_b, const Term& operation);
    void inform_connection_loss(Atom node);
    void volatile_send(Atom node, Term message);
    void volatile_multicast(const Term& message, Atom ignore, int min_vsn, bool also_pending);
    bool potentially_known(Atom node) const;

    // Helpers
    void send(const Pid& to, Term message, node::Dial dial = node::Dial::on_demand);
    void cast(Atom node, Term request);
    void to_locker(Term message);
    void log(LogLevel level, const std::string& line) const;

    node::Runtime& runtime_;
    Pid pid_, locker_pid_;
    std::uint64_t node_events_ = 0;

    mutable std::shared_mutex mutex_;         // guards everything below
    std::shared_ptr<node::Process> process_;  // null once stopped
    std::shared_ptr<GlobalLocker> locker_;
    std::shared_ptr<GlobalRegistrar> registrar_;
    mutable std::condition_variable_any synced_changed_;
    std::map<Term, Name> names_;
    std::unordered_map<Pid, std::vector<Term>, node::PidHash> pid_names_;
    std::unordered_map<Reference, Term, node::ReferenceHash> name_monitors_;
    std::map<Term, ExternalName> external_names_;
    std::map<Term, Lock> locks_;
    std::unordered_map<Reference, Term, node::ReferenceHash> lock_monitors_;
    bool global_lock_down_ = false;
    std::map<Term, GlobalResolver> resolvers_by_name_;
    std::multimap<Term, std::pair<std::uint64_t, std::function<void(const Pid&)>>> name_watches_;
    std::uint64_t next_name_watch_ = 1;
    // Watches of names inserted by the message being handled: run once the lock is let go.
    std::vector<std::pair<std::function<void(const Pid&)>, Pid>> fired_;

    // The connection protocol's state (handler only, but read by known_nodes()/synced_nodes())
    std::map<Atom, int> known_;    // node -> its protocol version (0: not known yet)
    std::map<Atom, int> pending_;  // {pending, Node}: connecting, its version
    std::set<Atom> removing_;      // {removing, Node}: we asked it to disconnect
    std::vector<Atom> synced_;
    std::map<Atom, Resolving> resolving_;
    std::map<Atom, Session> sessions_;
    std::vector<Syncer> syncers_;
    std::map<std::pair<Atom, Atom>, LostConnection> lost_connections_;
    bool connect_all_ = true;
    bool prevent_overlapping_partitions_ = true;
    std::int64_t next_tag_ = 1;
    std::int64_t creation_extension_ = 0;
};

}  // namespace distribute::otp
