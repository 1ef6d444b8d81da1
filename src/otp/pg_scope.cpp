#include "otp/pg_scope.hpp"

#include <algorithm>
#include <mutex>

#include "otp/gen.hpp"

namespace distribute::otp {

namespace {

struct Names {
    Atom discover = Atom::make("discover").value();
    Atom sync = Atom::make("sync").value();
    Atom join = Atom::make("join").value();
    Atom leave = Atom::make("leave").value();
    Atom nodeup = Atom::make("nodeup").value();
    Atom nodedown = Atom::make("nodedown").value();
    Atom join_local = Atom::make("join_local").value();
    Atom leave_local = Atom::make("leave_local").value();
    Atom monitor = Atom::make("monitor").value();
    Atom demonitor = Atom::make("demonitor").value();
    Atom not_joined = Atom::make("not_joined").value();
    Atom nolocal = Atom::make("nolocal").value();
};
const Names& names() {
    static const Names n;
    return n;
}

// A pid, or a proper list of pids, as pg's PidOrPids; nullopt for anything else.
std::optional<std::vector<Pid>> pids_of(const Term& pid_or_pids) {
    if (auto one = pid_or_pids.to<Pid>()) return std::vector<Pid>{*one};
    return pid_or_pids.to<std::vector<Pid>>();
}

Term pid_list(std::span<const Pid> pids) {
    std::vector<Term> terms(pids.begin(), pids.end());
    return list_from(terms);
}

GroupsError error(GroupsErrc code, std::string detail) {
    return {code, std::move(detail)};
}

}  // namespace

PgScope::PgScope(node::Runtime& runtime, Atom name, ScopeOptions options)
    : runtime_(runtime), name_(name), options_(options) {}

Expected<void, GroupsError> PgScope::start() {
    std::weak_ptr<PgScope> weak = weak_from_this();
    auto process = runtime_.spawn_handler(
        [weak](const ProcessHandle&, Term message) {
            if (auto scope = weak.lock()) scope->handle(message);
        },
        false);
    if (auto registered = runtime_.register_name(name_, process->pid); !registered) {
        runtime_.terminate(process, Term(atoms::normal));
        return unexpected(
            error(GroupsErrc::name_taken, std::string(name_.name()) + " is registered already"));
    }
    {
        std::unique_lock lock(mutex_);
        process_ = process;
    }
    // As pg's monitor_nodes: visible connections only, and none at all for a hidden node (BEAM
    // nodes do not discover it either).
    if (runtime_.hidden()) return {};
    std::weak_ptr<node::Process> scope = process;
    node_events_ = runtime_.on_node_event([scope](const NodeEvent& event) {
        if (event.hidden || !event.up) return;
        if (auto p = scope.lock()) p->runtime.send(*p, p->pid, tuple(names().nodeup, event.node));
    });
    // As pg:init/1: every scope of this name among the nodes connected now is asked for its
    // members.
    std::unique_lock lock(mutex_);
    for (Atom node : runtime_.connected(false))
        runtime_.send_named(*process_, name_, node, tuple(names().discover, process_->pid),
                            node::Dial::if_up);
    return {};
}

void PgScope::stop() {
    runtime_.unsubscribe(node_events_);
    std::unique_lock lock(mutex_);
    process_.reset();
}

// ---------------------------------------------------------------------------------------------
// The API

Expected<void, GroupsError> PgScope::check_local(std::span<const Pid> pids) const {
    for (const Pid& pid : pids)
        if (!runtime_.is_local(pid.node))
            return unexpected(error(GroupsErrc::not_local,
                                    to_string(Term(pid)) + " is not a process of this node"));
    return {};
}

Expected<void, GroupsError> PgScope::join(const Term& group, std::span<const Pid> pids) {
    if (auto local = check_local(pids); !local) return local;
    std::unique_lock lock(mutex_);
    return join_locked(group, pids, pids.size() == 1);
}

Expected<void, GroupsError> PgScope::leave(const Term& group, std::span<const Pid> pids) {
    if (auto local = check_local(pids); !local) return local;
    std::unique_lock lock(mutex_);
    return leave_locked(group, pids);
}

std::vector<Pid> PgScope::members(const Term& group) const {
    std::shared_lock lock(mutex_);
    const auto* entry = table_.find(group);
    return entry ? entry->all : std::vector<Pid>{};
}

std::vector<Pid> PgScope::local_members(const Term& group) const {
    std::shared_lock lock(mutex_);
    const auto* entry = table_.find(group);
    return entry ? entry->local : std::vector<Pid>{};
}

std::vector<Term> PgScope::which_groups() const {
    std::shared_lock lock(mutex_);
    return table_.groups();
}

std::vector<Term> PgScope::which_local_groups() const {
    std::shared_lock lock(mutex_);
    return table_.local_groups();
}

ScopeSnapshot PgScope::monitor_scope(const Pid& subscriber) {
    std::unique_lock lock(mutex_);
    if (!process_) return {runtime_.make_ref(), map({})};
    const Reference ref = runtime_.monitor(*process_, subscriber, subscriber.node);
    scope_monitors_.emplace(ref, subscriber);
    return {ref, table_.snapshot()};
}

GroupSnapshot PgScope::monitor_group(const Pid& subscriber, const Term& group) {
    std::unique_lock lock(mutex_);
    const auto* entry = table_.find(group);
    std::vector<Pid> members = entry ? entry->all : std::vector<Pid>{};
    if (!process_) return {runtime_.make_ref(), std::move(members)};
    const Reference ref = runtime_.monitor(*process_, subscriber, subscriber.node);
    group_monitors_.emplace(ref, GroupMonitor{subscriber, group});
    return {ref, std::move(members)};
}

bool PgScope::demonitor(const Reference& ref) {
    std::unique_lock lock(mutex_);
    const bool found = scope_monitors_.erase(ref) + group_monitors_.erase(ref) > 0;
    if (found && process_) runtime_.demonitor(*process_, ref);
    return found;
}

Expected<void, GroupsError> PgScope::join_locked(const Term& group, std::span<const Pid> pids,
                                                 bool one) {
    if (!process_) return unexpected(error(GroupsErrc::not_running, "the node has stopped"));
    if (pids.empty()) return {};
    for (const Pid& pid : pids) {
        auto it = local_.find(pid);
        if (it == local_.end())
            it = local_.emplace(pid, LocalMember{runtime_.monitor(*process_, pid, pid.node), {}})
                     .first;
        it->second.groups.push_back(group);
    }
    table_.join(group, pids, true);
    notify_locked(true, group, pids);
    broadcast_locked(
        tuple(names().join, process_->pid, group, one ? Term(pids[0]) : pid_list(pids)));
    return {};
}

Expected<void, GroupsError> PgScope::leave_locked(const Term& group, std::span<const Pid> pids) {
    if (!process_) return unexpected(error(GroupsErrc::not_running, "the node has stopped"));
    std::vector<Pid> leaving;
    for (const Pid& pid : pids) {
        auto it = local_.find(pid);
        if (it == local_.end()) continue;
        auto& joined = it->second.groups;
        auto at = std::find(joined.begin(), joined.end(), group);
        if (at == joined.end()) continue;
        joined.erase(at);
        if (joined.empty()) {
            runtime_.demonitor(*process_, it->second.monitor);
            local_.erase(it);
        }
        leaving.push_back(pid);
    }
    if (leaving.empty())
        return unexpected(error(GroupsErrc::not_joined, "not in group " + to_string(group)));
    table_.leave(group, leaving, true);
    notify_locked(false, group, leaving);
    const Term pid_or_pids = leaving.size() == 1 ? Term(leaving[0]) : pid_list(leaving);
    broadcast_locked(tuple(names().leave, process_->pid, pid_or_pids, list(group)));
    return {};
}

// ---------------------------------------------------------------------------------------------
// Messages from other scopes, subscribers and the runtime

void PgScope::handle(const Term& message) {
    const Names& n = names();
    if (auto call = parse_gen_call(message)) return handle_call(*call);
    if (message.is_tuple(2) && message[0].is_atom(atoms::gen_cast)) {
        const Term& cast = message[1];
        if (cast.is_tuple(3) && cast[0].is_atom(n.sync))
            if (auto peer = cast[1].to<Pid>()) return on_sync(*peer, cast[2]);
    } else if (message.is_tuple() && !message.elements().empty() && message[0].is_atom()) {
        const auto size = message.elements().size();
        const Atom tag = *message[0].to<Atom>();
        if (tag == n.discover && (size == 2 || size == 3)) {
            if (auto peer = message[1].to<Pid>()) return on_discover(*peer);
        } else if (tag == n.join && size == 4) {
            auto peer = message[1].to<Pid>();
            auto pids = pids_of(message[3]);
            if (peer && pids) return on_join(*peer, message[2], *pids);
        } else if (tag == n.leave && size == 4) {
            auto peer = message[1].to<Pid>();
            auto pids = pids_of(message[2]);
            if (peer && pids && message[3].is_proper_list())
                return on_leave(*peer, *pids, message[3]);
        } else if (tag == atoms::DOWN && size == 5) {
            if (auto ref = message[1].to<Reference>()) return on_down(*ref, message[3]);
        } else if (tag == n.nodeup && size == 2) {
            auto node = message[1].to<Atom>();
            std::unique_lock lock(mutex_);
            if (node && process_)
                runtime_.send_named(*process_, name_, *node, tuple(n.discover, process_->pid),
                                    node::Dial::if_up);
            return;
        }
    }
    runtime_.log(LogLevel::warning,
                 "pg scope " + std::string(name_.name()) +
                     " dropped a message it does not understand: " + to_string(message));
}

void PgScope::handle_call(const GenCall& call) {
    const Names& n = names();
    const Term& request = call.request;
    std::optional<Term> reply;
    {
        std::unique_lock lock(mutex_);
        if (!process_) return;
        if (request.is_tuple(3) &&
            (request[0].is_atom(n.join_local) || request[0].is_atom(n.leave_local))) {
            auto pids = pids_of(request[2]);
            if (!pids || !check_local(*pids)) {
                reply = tuple(atoms::error, tuple(n.nolocal, request[2]));
            } else if (request[0].is_atom(n.join_local)) {
                (void)join_locked(request[1], *pids, request[2].is_pid());
                reply = Term(atoms::ok);
            } else {
                reply = Term(leave_locked(request[1], *pids) ? atoms::ok : n.not_joined);
            }
        }
    }
    if (!reply) {
        if (request.is_atom(n.monitor)) {
            auto snapshot = monitor_scope(call.caller);
            reply = tuple(snapshot.ref, snapshot.groups);
        } else if (request.is_tuple(2) && request[0].is_atom(n.monitor)) {
            auto snapshot = monitor_group(call.caller, request[1]);
            reply = tuple(snapshot.ref, pid_list(snapshot.members));
        } else if (auto ref = request.tagged<Reference>(n.demonitor)) {
            reply = Term(demonitor(std::get<0>(*ref)) ? Term(atoms::ok) : Term(atoms::false_));
        }
    }
    std::shared_lock lock(mutex_);
    if (!process_) return;
    if (reply)
        gen_reply(ProcessHandle(process_), call.caller, call.tag, std::move(*reply));
    else
        runtime_.log(LogLevel::warning,
                     "pg scope " + std::string(name_.name()) +
                         " ignored a call it does not understand: " + to_string(request));
}

void PgScope::on_discover(const Pid& peer) {
    std::unique_lock lock(mutex_);
    if (!process_ || runtime_.is_local(peer.node)) return;
    runtime_.send(
        *process_, peer,
        tuple(atoms::gen_cast, tuple(names().sync, process_->pid, local_groups_locked())));
    if (peers_.find(peer) == peers_.end()) {
        peer_locked(peer);
        runtime_.send(*process_, peer, tuple(names().discover, process_->pid), node::Dial::if_up);
    }
}

void PgScope::on_sync(const Pid& peer_pid, const Term& groups) {
    // [{Group, [Pid]}]: checked whole before anything changes.
    std::unordered_map<Term, std::vector<Pid>> incoming;
    std::size_t total = 0;
    bool valid = groups.is_proper_list();
    for (const Term& entry : groups.elements()) {
        if (!valid) break;
        auto pids = entry.is_tuple(2) ? entry[1].to<std::vector<Pid>>() : std::nullopt;
        if (!pids) {
            valid = false;
            break;
        }
        total += pids->size();
        incoming[entry[0]] = std::move(*pids);
    }
    if (!valid) {
        runtime_.log(LogLevel::warning, "pg scope " + std::string(name_.name()) +
                                            " dropped a malformed sync from " +
                                            to_string(Term(peer_pid)));
        return;
    }
    std::unique_lock lock(mutex_);
    if (!process_ || runtime_.is_local(peer_pid.node)) return;
    Peer& peer = peer_locked(peer_pid);
    if (!admit_locked(peer, peer_pid, total > peer.members ? total - peer.members : 0)) return;
    for (auto& [group, pids] : incoming) {
        auto old = peer.groups.find(group);
        const std::vector<Pid> before = old == peer.groups.end() ? std::vector<Pid>{} : old->second;
        if (before == pids) continue;
        auto [joined, left] = table_.replace(group, before, pids);
        if (!left.empty()) notify_locked(false, group, left);
        if (!joined.empty()) notify_locked(true, group, joined);
    }
    for (auto& [group, pids] : peer.groups) {
        if (incoming.count(group)) continue;
        auto left = table_.leave(group, pids, false);
        if (!left.empty()) notify_locked(false, group, left);
    }
    peer.groups = std::move(incoming);
    peer.members = total;
}

void PgScope::on_join(const Pid& peer_pid, const Term& group, const std::vector<Pid>& pids) {
    std::unique_lock lock(mutex_);
    auto it = peers_.find(peer_pid);
    // A scope we have not discovered (or one whose node went down meanwhile): pg ignores it.
    if (it == peers_.end() || pids.empty()) return;
    Peer& peer = it->second;
    if (!admit_locked(peer, peer_pid, pids.size())) return;
    auto& known = peer.groups[group];
    known.insert(known.end(), pids.begin(), pids.end());
    peer.members += pids.size();
    table_.join(group, pids, false);
    notify_locked(true, group, pids);
}

void PgScope::on_leave(const Pid& peer_pid, const std::vector<Pid>& pids, const Term& groups) {
    std::unique_lock lock(mutex_);
    auto it = peers_.find(peer_pid);
    if (it == peers_.end()) return;
    Peer& peer = it->second;
    for (const Term& group : groups.elements()) {
        auto known = peer.groups.find(group);
        if (known == peer.groups.end()) continue;
        const std::vector<Pid> remaining = subtract(known->second, pids);
        peer.members -= known->second.size() - remaining.size();
        if (remaining.empty())
            peer.groups.erase(known);
        else
            known->second = remaining;
        auto left = table_.leave(group, pids, false);
        if (!left.empty()) notify_locked(false, group, left);
    }
}

void PgScope::on_down(const Reference& ref, const Term& who) {
    std::unique_lock lock(mutex_);
    if (!process_) return;
    if (auto pid = who.to<Pid>()) {
        if (auto it = local_.find(*pid); it != local_.end() && it->second.monitor == ref) {
            // A member here exited: it leaves every group it joined, as many times as it did.
            std::vector<Term> joined = std::move(it->second.groups);
            local_.erase(it);
            const Pid member[] = {*pid};
            for (const Term& group : joined) {
                table_.leave(group, member, true);
                notify_locked(false, group, member);
            }
            broadcast_locked(tuple(names().leave, process_->pid, *pid, list_from(joined)));
            return;
        }
        if (auto it = peers_.find(*pid); it != peers_.end() && it->second.monitor == ref) {
            remove_peer_locked(*pid);
            return;
        }
    }
    scope_monitors_.erase(ref);
    group_monitors_.erase(ref);
}

// ---------------------------------------------------------------------------------------------
// Helpers, with the mutex held

PgScope::Peer& PgScope::peer_locked(const Pid& peer) {
    auto it = peers_.find(peer);
    if (it != peers_.end()) return it->second;
    Peer fresh;
    fresh.monitor = runtime_.monitor(*process_, peer, peer.node);
    return peers_.emplace(peer, std::move(fresh)).first->second;
}

bool PgScope::admit_locked(Peer& peer, const Pid& pid, std::size_t more) {
    if (peer.members + more <= options_.max_members_per_peer) return true;
    if (!peer.warned) {
        peer.warned = true;
        runtime_.log(LogLevel::warning, "pg scope " + std::string(name_.name()) +
                                            " drops joins from " + to_string(Term(pid)) +
                                            ": it announced more than " +
                                            std::to_string(options_.max_members_per_peer) +
                                            " memberships (ScopeOptions::max_members_per_peer)");
    }
    return false;
}

void PgScope::remove_peer_locked(const Pid& peer_pid) {
    auto it = peers_.find(peer_pid);
    if (it == peers_.end()) return;
    for (auto& [group, pids] : it->second.groups) {
        auto left = table_.leave(group, pids, false);
        if (!left.empty()) notify_locked(false, group, left);
    }
    peers_.erase(it);
}

Term PgScope::local_groups_locked() const {
    std::unordered_map<Term, std::vector<Term>> by_group;
    for (const auto& [pid, member] : local_)
        for (const Term& group : member.groups)
            by_group[group].push_back(Term(pid));
    std::vector<Term> out;
    out.reserve(by_group.size());
    for (auto& [group, pids] : by_group)
        out.push_back(tuple(group, list_from(pids)));
    return list_from(out);
}

void PgScope::notify_locked(bool joined, const Term& group, std::span<const Pid> pids) {
    if (scope_monitors_.empty() && group_monitors_.empty()) return;
    const Atom action = joined ? names().join : names().leave;
    const Term members = pid_list(pids);
    for (const auto& [ref, subscriber] : scope_monitors_)
        send_locked(subscriber, tuple(ref, action, group, members));
    for (const auto& [ref, monitor] : group_monitors_)
        if (monitor.group == group)
            send_locked(monitor.subscriber, tuple(ref, action, group, members));
}

void PgScope::send_locked(const Pid& to, Term message) {
    runtime_.send(*process_, to, std::move(message), node::Dial::if_up);
}

void PgScope::broadcast_locked(const Term& message) {
    for (const auto& [peer, state] : peers_)
        send_locked(peer, message);
}

}  // namespace distribute::otp
