// prevent_overlapping_partitions (global.erl, OTP 25; on by default): when a node loses its
// connection to another, every node connected to both drops one of them, so that no node is in
// two partitions at once.
//   1. The node that lost B tells every node it knows: {lost_connection, A, XCreA, OpIdA, B}.
//   2. A node that hears it for the first time passes it on, asks B to disconnect from it
//      ({remove_connection, Self}) and forgets B.
//   3. A node asked to remove a connection closes it and forgets the asker.
// Reports are told apart by A's extended creation and an operation id that only grows; each is
// remembered for an hour.
#include <mutex>

#include "otp/global_atoms.hpp"
#include "otp/global_server.hpp"

namespace distribute::otp {

namespace {
constexpr std::chrono::hours lost_connection_memory{1};
// global's ?MIN_64BIT_SMALL_INT: the extended creation is counted from it.
constexpr std::int64_t min_small = -(std::int64_t{1} << 59);
}  // namespace

bool GlobalServer::potentially_known(Atom node) const {
    return known_.count(node) > 0 || pending_.count(node) > 0;
}

void GlobalServer::volatile_send(Atom node, Term message) {
    // Never sets up a connection: a node we are not connected to has nothing to hear.
    runtime_.send_named(*process_, global_atoms().global_name_server, node, std::move(message),
                        node::Dial::if_up);
}

void GlobalServer::volatile_multicast(const Term& message, Atom ignore, int min_vsn,
                                      bool also_pending) {
    for (const auto& [node, vsn] : known_)
        if (node != ignore && vsn >= min_vsn) volatile_send(node, message);
    if (also_pending)
        for (const auto& [node, vsn] : pending_)
            if (node != ignore && vsn >= min_vsn) volatile_send(node, message);
}

void GlobalServer::inform_connection_loss(Atom node) {
    if (!connect_all_ || !prevent_overlapping_partitions_) return;
    const std::int64_t extended =
        creation_extension_ + static_cast<std::int64_t>(runtime_.creation()) - min_small;
    volatile_multicast(
        tuple(global_atoms().lost_connection, runtime_.name(), extended, next_tag_++, node), node,
        pop_vsn, true);
}

void GlobalServer::on_lost_connection(Atom node_a, const Term& creation_a, const Term& op_a,
                                      Atom node_b) {
    const GlobalAtoms& a = global_atoms();
    const auto key = std::make_pair(node_a, node_b);
    auto seen = lost_connections_.find(key);
    if (seen != lost_connections_.end() && seen->second.extended_creation == creation_a &&
        compare(op_a, seen->second.operation) <= 0)
        return;  // heard already
    // Passed on, so that every node hears it even if A goes while telling them.
    volatile_multicast(tuple(a.lost_connection, node_a, creation_a, op_a, node_b), node_a, pop_vsn,
                       true);
    if (seen != lost_connections_.end()) node::cancel_timer(seen->second.expiry);
    auto expiry = std::make_shared<node::TimerState>(runtime_.io());
    node::start_timer(expiry, *process_, lost_connection_memory,
                      tuple(a.lost_connection_expired, node_a, node_b, op_a));
    lost_connections_[key] = LostConnection{creation_a, op_a, expiry};

    // Told that A lost us, we ask A to drop us (everybody else drops us anyway).
    const Atom remove = runtime_.is_local(node_b) ? node_a : node_b;
    if (!potentially_known(remove)) return;
    std::string what;
    if (node_vsn(remove) < pop_vsn) {
        runtime_.disconnect(remove);
        what = "disconnected old";
    } else {
        volatile_send(remove, tuple(a.remove_connection, runtime_.name()));
        what = "requested disconnect from";
    }
    log(LogLevel::warning, "'global' at node " + std::string(runtime_.name().name()) + " " + what +
                               " node " + std::string(remove.name()) +
                               " in order to prevent overlapping partitions");
    handle_nodedown(remove, NodeDown::remove_connection);
}

void GlobalServer::on_remove_connection(Atom node) {
    if (!potentially_known(node)) return;
    runtime_.disconnect(node);
    handle_nodedown(node, NodeDown::remove_connection);
    log(LogLevel::warning, "'global' at node " + std::string(runtime_.name().name()) +
                               " disconnected node " + std::string(node.name()) +
                               " in order to prevent overlapping partitions");
}

void GlobalServer::on_lost_connection_expired(Atom node_a, Atom node_b, const Term& operation) {
    auto it = lost_connections_.find({node_a, node_b});
    if (it != lost_connections_.end() && it->second.operation == operation)
        lost_connections_.erase(it);
}

}  // namespace distribute::otp
