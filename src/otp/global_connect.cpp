// global's connection protocol between the servers of two nodes (global.erl, OTP 25: "Connection
// algorithm" and "Messages in the protocol"), function for function:
//   nodeup         -> init_connect to the peer (and a resolver for its names)
//   init_connect   -> the peer's locker goes to ours (his_the_locker); init_connect_ack back
//   lock_is_set    -> our locker holds the lock in both partitions: exchange our names
//   exchange       -> the peer's names: the resolver works out the operations (exchange_ops)
//   exchange_ops   -> resolved to the peer
//   resolved       -> both sides' operations run; new_nodes to the rest of our partition
//   new_nodes      -> nodes of the other partition: connect to them and report in_sync
//   in_sync        -> a node of the other partition is in step with us
// Tags (unique integers) tell one connection attempt from an earlier one; a message with an old
// tag cancels what it belongs to. Everything here runs in the server's handler, with its mutex
// held.
#include <algorithm>
#include <atomic>
#include <mutex>

#include "otp/global_atoms.hpp"
#include "otp/global_resolver.hpp"
#include "otp/global_server.hpp"

namespace distribute::otp {

namespace {

// Node names of a list whose elements are Node or {Node, Vsn}.
std::vector<Atom> node_names(const Term& nodes) {
    std::vector<Atom> out;
    for (const Term& entry : nodes.elements()) {
        if (auto node = entry.to<Atom>())
            out.push_back(*node);
        else if (entry.is_tuple(2) && entry[0].is_atom())
            out.push_back(*entry[0].to<Atom>());
    }
    return out;
}

}  // namespace

Term GlobalServer::my_tag(Atom node) const {
    auto it = sessions_.find(node);
    return it == sessions_.end() ? Term(atoms::undefined) : it->second.my_tag;
}

Term GlobalServer::his_tag(Atom node) const {
    auto it = sessions_.find(node);
    return it == sessions_.end() ? Term(atoms::undefined) : it->second.his_tag;
}

int GlobalServer::node_vsn(Atom node) const {
    if (runtime_.is_local(node)) return global_vsn;
    if (auto it = known_.find(node); it != known_.end()) return it->second;
    if (auto it = pending_.find(node); it != pending_.end()) return it->second;
    return 0;
}

Term GlobalServer::known_list(int vsn) const {
    std::vector<Term> out;
    for (const auto& [node, v] : known_)
        out.push_back(vsn < pgpv_vsn ? Term(node) : tuple(node, v));
    return list_from(out);
}

Term GlobalServer::with_versions(const Term& nodes) const {
    std::vector<Term> out;
    for (const Term& entry : nodes.elements()) {
        if (auto node = entry.to<Atom>()) {
            out.push_back(tuple(*node, node_vsn(*node)));
        } else if (entry.is_tuple(2) && entry[0].is_atom() && entry[1].is_integer()) {
            const Atom node = *entry[0].to<Atom>();
            out.push_back(entry[1] == Term(0) ? tuple(node, node_vsn(node)) : entry);
        }
    }
    return list_from(out);
}

std::vector<Atom> GlobalServer::add_to_known(const Term& nodes) {
    std::vector<Atom> added;
    for (const Term& entry : nodes.elements()) {
        std::optional<Atom> node = entry.to<Atom>();
        int vsn = 0;
        if (!node && entry.is_tuple(2)) {
            node = entry[0].to<Atom>();
            vsn = entry[1].to<int>().value_or(0);
        }
        if (!node || runtime_.is_local(*node) || known_.count(*node)) continue;
        known_[*node] = vsn;
        added.push_back(*node);
    }
    return added;
}

// ---------------------------------------------------------------------------------------------
// nodeup and nodedown

void GlobalServer::handle_nodeup(Atom node) {
    const GlobalAtoms& a = global_atoms();
    if (known_.count(node) || resolving_.count(node)) return;  // known, or under way already
    Session& session = sessions_[node];
    // An init_connect that came before this nodeup goes round again, now that we take part.
    if (session.pre_connect) {
        const Term saved = *session.pre_connect;  // {Vsn, InitMsg, HisTag}
        session.pre_connect.reset();
        send(pid_, tuple(atoms::gen_cast,
                         tuple(a.init_connect, tuple(saved[0], saved[2]), node, saved[1])));
    }
    const Term tag(next_tag_++);
    session.my_tag = tag;
    std::vector<MapEntry> known;
    for (const auto& [n, v] : known_)
        known.push_back({Term(n), Term(v)});
    cast(node, tuple(a.init_connect, tuple(global_vsn, tag), runtime_.name(),
                     tuple(a.locker, a.no_longer_a_pid, map_from(known), locker_pid())));
    resolving_[node] = Resolving{tag, nullptr};
}

void GlobalServer::handle_nodedown(Atom node, NodeDown what) {
    cancel_locker(node, my_tag(node));
    to_locker(tuple(global_atoms().remove_from_known, node));
    sessions_.erase(node);
    switch (what) {
        case NodeDown::remove_connection:
            removing_.insert(node);
            break;
        case NodeDown::ignore_node:
            removing_.erase(node);
            break;
        case NodeDown::disconnected:
            if (removing_.erase(node) == 0) inform_connection_loss(node);
            break;
    }
    pending_.erase(node);
    known_.erase(node);
    std::erase(synced_, node);
    synced_changed_.notify_all();
}

// ---------------------------------------------------------------------------------------------
// init_connect, init_connect_ack, cancel_connect

void GlobalServer::on_init_connect(const Term& version, Atom node, const Term& init) {
    auto v = init_connect_version(version, global_vsn);
    if (!v) {
        log(LogLevel::info, "Illegal global protocol version " + to_string(version) +
                                " Node: " + std::string(node.name()));
        return;
    }
    if (v->his < 5) {
        // Version 4 and older (R10B) had a locker protocol this one no longer speaks.
        log(LogLevel::warning, "takes no part in global with " + std::string(node.name()) +
                                   ": protocol version " + std::to_string(v->his));
        return;
    }
    init_connect(v->speak, node, init, v->tag, Term(v->his));
}

void GlobalServer::init_connect(int vsn, Atom node, const Term& init, const Term& his_tag,
                                const Term& his_vsn_term) {
    const GlobalAtoms& a = global_atoms();
    const int his_vsn = *his_vsn_term.to<int>();
    if (pending_.count(node)) {
        // A second attempt from a node whose first is still under way.
        if (his_vsn < verify_connect_vsn) {
            runtime_.disconnect(node);
            log(LogLevel::error, "got an out of sync connection attempt from old version " +
                                     std::to_string(his_vsn) + " node " + std::string(node.name()) +
                                     ". Disconnecting from it.");
            return;
        }
        send_cancel_connect_message(node, his_tag);
        restart_connect(node, my_tag(node));
    }
    Session& session = sessions_[node];
    session.protocol = vsn;
    session.his_tag = his_tag;
    auto resolving = resolving_.find(node);
    if (resolving == resolving_.end()) {
        // Before our own nodeup: kept until then.
        session.pre_connect = tuple(vsn, init, his_tag);
        return;
    }
    auto his_locker =
        init.is_tuple(4) && init[0].is_atom(a.locker) ? init[3].to<Pid>() : std::nullopt;
    if (!his_locker) {
        log(LogLevel::warning,
            "ignored an init_connect from " + std::string(node.name()) + ": " + to_string(init));
        return;
    }
    const Term tag = resolving->second.my_tag;
    to_locker(tuple(a.his_the_locker, *his_locker, tuple(vsn, Term()), his_tag, tag));
    if (his_vsn >= verify_connect_vsn)
        volatile_send(node, tuple(a.init_connect_ack, runtime_.name(), his_tag, tag));
    pending_[node] = his_vsn;
}

void GlobalServer::on_init_connect_ack(Atom node, const Term& his_my_tag, const Term& his_his_tag) {
    const Term mine = my_tag(node);
    if (mine == his_my_tag && his_tag(node) == his_his_tag) return;
    // The two sides disagree about which attempt is under way: start over.
    send_cancel_connect_message(node, his_his_tag);
    restart_connect(node, mine);
}

void GlobalServer::on_cancel_connect(Atom node, const Term& tag) {
    if (!(my_tag(node) == tag)) return;
    cancel_locker(node, tag);
    sessions_.erase(node);
    pending_.erase(node);
    restart_connect(node, tag);
}

void GlobalServer::restart_connect(Atom node, const Term& my_tag) {
    cancel_locker(node, my_tag);
    sessions_.erase(node);
    pending_.erase(node);
    if (my_tag.is_integer()) handle_nodeup(node);
}

void GlobalServer::cancel_locker(Atom node, const Term& tag, Term casts) {
    const GlobalAtoms& a = global_atoms();
    to_locker(tuple(a.cancel, node, tag, casts.is_nil() ? Term(a.no_fun) : casts));
    send_cancel_connect(node, tag);
    if (auto it = resolving_.find(node); it != resolving_.end() && it->second.my_tag == tag) {
        if (it->second.resolution) it->second.resolution->cancel();
        resolving_.erase(it);
    }
}

void GlobalServer::cancel_resolved_locker(Atom node, Term casts) {
    const Term tag = my_tag(node);
    pending_.erase(node);  // so that no cancel_connect goes to it
    cancel_locker(node, tag, std::move(casts));
    sessions_.erase(node);
}

void GlobalServer::send_cancel_connect(Atom node, const Term& my_tag) {
    auto it = pending_.find(node);
    if (it == pending_.end() || it->second < verify_connect_vsn) return;
    if (this->my_tag(node) == my_tag) send_cancel_connect_message(node, his_tag(node));
}

void GlobalServer::send_cancel_connect_message(Atom node, const Term& his_tag) {
    runtime_.send_named(*process_, global_atoms().global_name_server, node,
                        tuple(global_atoms().cancel_connect, runtime_.name(), his_tag),
                        node::Dial::if_up);
}

void GlobalServer::on_lock_set(const Term& message) {
    const Pid from = *message[1].to<Pid>();
    // A lock_set of an attempt that is no longer ours goes no further.
    if (message.elements().size() == 5 && !(my_tag(from.node) == message[4])) return;
    to_locker(message);
}

// ---------------------------------------------------------------------------------------------
// lock_is_set, exchange, exchange_ops, resolved

void GlobalServer::on_lock_is_set(Atom node, const Term& tag, const Term& lock_id) {
    if (my_tag(node) == tag)
        lock_is_set(node, lock_id);
    else
        cancel_locker(node, tag);
}

void GlobalServer::lock_is_set(Atom node, const Term& lock_id) {
    const GlobalAtoms& a = global_atoms();
    std::vector<Term> names;
    names.reserve(names_.size());
    for (const auto& [name, entry] : names_)
        names.push_back(tuple(name, entry.pid, entry.method));
    cast(node, tuple(a.exchange, runtime_.name(), list_from(names), Term(), his_tag(node)));
    Session& session = sessions_[node];
    session.lock_id = lock_id;
    session.lock_is_set = true;
    // Their names may have come first.
    if (session.exchange) {
        const Term theirs = *session.exchange;
        session.exchange.reset();
        exchange(node, theirs);
    }
}

void GlobalServer::on_exchange(Atom node, const Term& names, const Term& tag) {
    if (my_tag(node) == tag)
        exchange(node, names);
    else
        cancel_locker(node, tag);
}

void GlobalServer::exchange(Atom node, const Term& names) {
    Session& session = sessions_[node];
    if (!session.lock_is_set) {
        session.exchange = names;  // the lock is not ours yet: wait for it
        return;
    }
    session.lock_is_set = false;
    auto it = resolving_.find(node);
    if (it == resolving_.end()) {
        log(LogLevel::warning, "no resolver for " + std::string(node.name()));
        return;
    }
    it->second.resolution =
        GlobalResolution::start(shared_from_this(), node, it->second.my_tag, names);
}

void GlobalServer::on_exchange_ops(Atom node, const Term& tag, const Term& ops,
                                   const Term& resolved_ops) {
    const GlobalAtoms& a = global_atoms();
    if (!(my_tag(node) == tag)) {
        cancel_locker(node, tag);
        return;
    }
    cast(node, tuple(a.resolved, runtime_.name(), resolved_ops, known_list(node_vsn(node)),
                     a.unused, names_ext_list(), his_tag(node)));
    Session& session = sessions_[node];
    session.saved_ops = ops;
    if (session.his_resolved) {
        const Term his = *session.his_resolved;
        const Term his_known = session.his_known, names_ext = session.his_names_ext;
        resolved(node, his, his_known, names_ext);
    }
}

void GlobalServer::on_resolved(Atom node, const Term& his_resolved, const Term& his_known,
                               const Term& names_ext, const Term& tag) {
    if (!(my_tag(node) == tag)) {
        cancel_locker(node, tag);
        return;
    }
    Session& session = sessions_[node];
    if (session.saved_ops) {
        resolved(node, his_resolved, his_known, names_ext);
    } else {
        session.his_resolved = his_resolved;
        session.his_known = his_known;
        session.his_names_ext = names_ext;
    }
}

void GlobalServer::resolved(Atom node, const Term& his_resolved, const Term& his_known,
                            const Term& names_ext) {
    const GlobalAtoms& a = global_atoms();
    Session& session = sessions_[node];
    std::vector<Term> ops(session.saved_ops->elements().begin(),
                          session.saved_ops->elements().end());
    ops.insert(ops.end(), his_resolved.elements().begin(), his_resolved.elements().end());
    const Term all_ops = list_from(ops);
    session.saved_ops.reset();
    // Known may have shrunk since the lock was taken (nodedowns).
    const std::map<Atom, int> known_before = known_;
    const Term his_known_nodes_term = his_known;
    std::vector<Term> new_nodes_list{Term(node)};
    new_nodes_list.insert(new_nodes_list.end(), his_known.elements().begin(),
                          his_known.elements().end());
    const Term new_nodes = with_versions(list_from(new_nodes_list));
    const std::vector<Atom> his_known_nodes = node_names(his_known_nodes_term);
    sync_others(his_known_nodes);
    const Term extra_info =
        list(tuple(a.vsn, session.protocol.value_or(0)), tuple(a.lock, session.lock_id));
    do_ops(all_ops, Term(runtime_.name()), names_ext, extra_info);
    for (Atom other : his_known_nodes)
        cancel_resolved_locker(other);
    // Our locker sends new_nodes to the rest of our partition before it lets go of the lock,
    // so that they have it before the lock goes.
    const Term message =
        tuple(a.new_nodes, runtime_.name(), all_ops, names_ext, new_nodes, extra_info);
    std::vector<Term> plain_nodes;
    for (Atom n : node_names(new_nodes))
        plain_nodes.push_back(Term(n));
    const Term old_message =
        tuple(a.new_nodes, runtime_.name(), all_ops, names_ext, list_from(plain_nodes), extra_info);
    std::vector<Term> casts;
    for (const auto& [n, v] : known_before)
        casts.push_back(tuple(n, v >= pgpv_vsn ? message : old_message));
    cancel_resolved_locker(node, list_from(casts));
    const std::vector<Atom> added = add_to_known(new_nodes);
    std::vector<Term> added_terms(added.begin(), added.end());
    to_locker(tuple(a.add_to_known, list_from(added_terms)));
    synced_with(node);
}

void GlobalServer::do_ops(const Term& ops, const Term& from, const Term& names_ext,
                          const Term& extra_info) {
    const GlobalAtoms& a = global_atoms();
    std::vector<Term> external;  // names inserted as names of C nodes, registered on RegNode
    for (const Term& ext : names_ext.elements()) {
        if (!ext.is_tuple(3) || !ext[2].is_atom()) continue;
        for (const Term& op : ops.elements()) {
            if (!op.is_tuple(2) || !op[0].is_atom(a.insert) || !op[1].is_tuple(3)) continue;
            const Term& ins = op[1];
            if (!(ins[0] == ext[0] && ins[1] == ext[1]) || !ins[1].is_pid()) continue;
            insert_external_name(ins[0], *ins[1].to<Pid>(), ins[2], *ext[2].to<Atom>(), from,
                                 extra_info);
            external.push_back(ins[0]);
        }
    }
    for (const Term& op : ops.elements()) {
        if (!op.is_tuple(2)) continue;
        if (op[0].is_atom(a.insert) && op[1].is_tuple(3) && op[1][1].is_pid()) {
            const Term& ins = op[1];
            if (std::find(external.begin(), external.end(), ins[0]) == external.end())
                insert_name(ins[0], *ins[1].to<Pid>(), ins[2], from, extra_info);
        } else if (op[0].is_atom(a.delete_)) {
            delete_name(op[1]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// new_nodes, in_sync

void GlobalServer::on_new_nodes(Atom node, const Term& ops, const Term& names_ext,
                                const Term& nodes, const Term& extra_info) {
    // We may hear of a node twice (an in_sync can overtake a resolved): known never repeats.
    const std::vector<Atom> added = add_to_known(nodes);
    sync_others(added);
    do_ops(ops, Term(node), names_ext, extra_info);
    std::vector<Term> added_terms(added.begin(), added.end());
    to_locker(tuple(global_atoms().add_to_known, list_from(added_terms)));
}

void GlobalServer::on_in_sync(Atom node) {
    synced_with(node);
    pending_.erase(node);
    cancel_locker(node, my_tag(node));
    sessions_.erase(node);
}

void GlobalServer::sync_others(const std::vector<Atom>& nodes) {
    // Each newcomer of the other partition is connected to, then told that we are in step with
    // it. A node that cannot be reached at once gets the nodedown global makes up for it.
    for (Atom node : nodes) {
        if (runtime_.is_local(node)) continue;
        auto immediate = std::make_shared<std::atomic<bool>>(true);
        std::weak_ptr<node::Process> server = process_;
        const Atom me = runtime_.name();
        runtime_.async_connect(
            node, [server, node, me, immediate](const Expected<void, NodeError>& up) {
                auto p = server.lock();
                if (!p) return;
                const GlobalAtoms& a = global_atoms();
                if (up)
                    p->runtime.send_named(*p, a.global_name_server, node,
                                          tuple(atoms::gen_cast, tuple(a.in_sync, me, true)));
                else if (*immediate)
                    p->runtime.send(*p, p->pid, tuple(a.extra_nodedown, node));
            });
        *immediate = false;
    }
}

}  // namespace distribute::otp
