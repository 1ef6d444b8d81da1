// The atoms of global.erl's protocol, made once, and the small rules global's processes share.
#pragma once

#include <chrono>
#include <optional>

#include "distribute/term.hpp"

namespace distribute::otp {

struct GlobalAtoms {
    Atom global_name_server = Atom::make("global_name_server").value();
    Atom global = Atom::make("global").value();
    // calls
    Atom register_ = Atom::make("register").value();
    Atom unregister = Atom::make("unregister").value();
    Atom register_ext = Atom::make("register_ext").value();
    Atom set_lock = Atom::make("set_lock").value();
    Atom del_lock = Atom::make("del_lock").value();
    Atom get_known = Atom::make("get_known").value();
    Atom get_synced = Atom::make("get_synced").value();
    Atom sync = Atom::make("sync").value();
    Atom get_protocol_version = Atom::make("get_protocol_version").value();
    Atom get_names_ext = Atom::make("get_names_ext").value();
    Atom yes = Atom::make("yes").value();
    Atom no = Atom::make("no").value();
    // casts between servers
    Atom init_connect = Atom::make("init_connect").value();
    Atom locker = Atom::make("locker").value();
    Atom no_longer_a_pid = Atom::make("no_longer_a_pid").value();
    Atom lock_is_set = Atom::make("lock_is_set").value();
    Atom exchange = Atom::make("exchange").value();
    Atom exchange_ops = Atom::make("exchange_ops").value();
    Atom resolved = Atom::make("resolved").value();
    Atom unused = Atom::make("unused").value();
    Atom new_nodes = Atom::make("new_nodes").value();
    Atom in_sync = Atom::make("in_sync").value();
    Atom async_del_name = Atom::make("async_del_name").value();
    Atom async_del_lock = Atom::make("async_del_lock").value();
    Atom lock_set = Atom::make("lock_set").value();
    Atom insert = Atom::make("insert").value();
    Atom delete_ = Atom::make("delete").value();
    Atom vsn = Atom::make("vsn").value();
    Atom lock = Atom::make("lock").value();
    // messages
    Atom whereis = Atom::make("whereis").value();
    Atom extra_nodedown = Atom::make("extra_nodedown").value();
    Atom lost_connection = Atom::make("lost_connection").value();
    Atom remove_connection = Atom::make("remove_connection").value();
    Atom cancel_connect = Atom::make("cancel_connect").value();
    Atom init_connect_ack = Atom::make("init_connect_ack").value();
    // between this node's own processes (never seen by other nodes)
    Atom node_event = Atom::make("$global_node_event").value();
    Atom up = Atom::make("up").value();
    Atom down = Atom::make("down").value();
    Atom lost_connection_expired = Atom::make("$global_lost_connection_expired").value();
    Atom his_the_locker = Atom::make("his_the_locker").value();
    Atom cancel = Atom::make("cancel").value();
    Atom no_fun = Atom::make("no_fun").value();
    Atom add_to_known = Atom::make("add_to_known").value();
    Atom remove_from_known = Atom::make("remove_from_known").value();
    Atom locker_timeout = Atom::make("$global_locker_timeout").value();
    // resolvers
    Atom resolve_it = Atom::make("resolve_it").value();
    Atom random_exit_name = Atom::make("random_exit_name").value();
    Atom random_notify_name = Atom::make("random_notify_name").value();
    Atom notify_all_name = Atom::make("notify_all_name").value();
    Atom global_name_conflict = Atom::make("global_name_conflict").value();
    Atom distribute_global = Atom::make("distribute_global").value();
    Atom resolve = Atom::make("resolve").value();
    Atom none = Atom::make("none").value();
};
const GlobalAtoms& global_atoms();

// What an init_connect's version says ({Vsn, Tag}, or a longer tuple from a future release):
// the version to speak with that node (ours when it is newer), its own, and its tag. nullopt
// for anything else, which global logs as an illegal version and ignores.
struct InitConnectVersion {
    int speak = 0;
    int his = 0;
    Term tag;
};
std::optional<InitConnectVersion> init_connect_version(const Term& version, int ours);

// global's random_sleep(Times): up to 1/8 s the first time, doubling each time up to 8 s.
std::chrono::milliseconds random_sleep(unsigned times);

}  // namespace distribute::otp
