// global_name_server: start-up, the dispatch of what arrives, the calls other nodes' lockers and
// registrars make (set_lock, del_lock, register, unregister...), and the tables of names and
// locks with the monitors that keep them true.
#include "otp/global_server.hpp"

#include <sodium.h>

#include <algorithm>
#include <mutex>

#include "otp/gen.hpp"
#include "otp/global_atoms.hpp"
#include "otp/global_locker.hpp"
#include "otp/global_registrar.hpp"
#include "otp/global_resolver.hpp"

namespace distribute::otp {

GlobalServer::GlobalServer(node::Runtime& runtime) : runtime_(runtime) {}

GlobalServer::~GlobalServer() = default;

void GlobalServer::start() {
    const GlobalAtoms& a = global_atoms();
    std::weak_ptr<GlobalServer> weak = weak_from_this();
    auto process = runtime_.spawn_handler(
        [weak](const ProcessHandle&, Term message) {
            if (auto server = weak.lock()) server->handle(message);
        },
        true);
    pid_ = process->pid;
    if (!runtime_.register_name(a.global_name_server, pid_))
        log(LogLevel::error, "cannot register global_name_server");
    // global.erl's creation extension: random high bits that tell this incarnation's
    // lost_connection reports from an earlier one's.
    creation_extension_ =
        static_cast<std::int64_t>((std::uint64_t{randombytes_random()} << 27) & ~0xFFFFFFFFull);
    auto locker = std::make_shared<GlobalLocker>(*this);
    locker->start();
    locker_pid_ = locker->pid();
    auto registrar = std::make_shared<GlobalRegistrar>(*this);
    registrar->start();
    {
        std::unique_lock lock(mutex_);
        process_ = process;
        locker_ = std::move(locker);
        registrar_ = std::move(registrar);
    }
    serve_resolve_it(shared_from_this());
    // nodeup before anything the peer sends over the new connection, nodedown after the last of
    // it: the runtime reports both in that order. Hidden peers take no part in global.
    std::weak_ptr<node::Process> server = process;
    node_events_ = runtime_.on_node_event([server](const NodeEvent& event) {
        if (event.hidden) return;
        if (auto p = server.lock())
            p->runtime.send(*p, p->pid,
                            tuple(global_atoms().node_event,
                                  event.up ? global_atoms().up : global_atoms().down, event.node));
    });
}

void GlobalServer::stop() {
    runtime_.unsubscribe(node_events_);
    std::unique_lock lock(mutex_);
    // As global's prepare_shutdown: connections about to close are not lost connections.
    connect_all_ = false;
    prevent_overlapping_partitions_ = false;
    // What holds the node's processes goes, so that nothing keeps the stopped node alive.
    process_.reset();
    locker_.reset();
    registrar_.reset();
    synced_changed_.notify_all();
}

void GlobalServer::leaving() {
    std::unique_lock lock(mutex_);
    connect_all_ = false;
    prevent_overlapping_partitions_ = false;
}

std::shared_ptr<GlobalRegistrar> GlobalServer::registrar() const {
    std::shared_lock lock(mutex_);
    return registrar_;
}

void GlobalServer::log(LogLevel level, const std::string& line) const {
    runtime_.log(level, "global: " + line);
}

// ---------------------------------------------------------------------------------------------
// Reading

std::optional<Pid> GlobalServer::whereis(const Term& name) const {
    std::shared_lock lock(mutex_);
    auto it = names_.find(name);
    if (it == names_.end()) return std::nullopt;
    const Pid& pid = it->second.pid;
    if (runtime_.is_local(pid.node)) {
        auto process = runtime_.find(pid);
        if (!process || !ProcessHandle(process).alive()) return std::nullopt;
    }
    return pid;
}

std::vector<Term> GlobalServer::registered_names() const {
    std::shared_lock lock(mutex_);
    std::vector<Term> out;
    out.reserve(names_.size());
    for (const auto& [name, entry] : names_)
        out.push_back(name);
    return out;
}

std::optional<std::pair<Pid, Term>> GlobalServer::registration(const Term& name) const {
    std::shared_lock lock(mutex_);
    auto it = names_.find(name);
    if (it == names_.end()) return std::nullopt;
    return std::make_pair(it->second.pid, it->second.method);
}

Term GlobalServer::names_for_exchange() const {
    std::shared_lock lock(mutex_);
    std::vector<Term> out;
    out.reserve(names_.size());
    for (const auto& [name, entry] : names_)
        out.push_back(tuple(name, entry.pid, entry.method));
    return list_from(out);
}

std::size_t GlobalServer::names_of(const Pid& pid) const {
    std::shared_lock lock(mutex_);
    auto it = pid_names_.find(pid);
    return it == pid_names_.end() ? 0 : it->second.size();
}

std::vector<Atom> GlobalServer::known_nodes() const {
    std::shared_lock lock(mutex_);
    std::vector<Atom> out;
    for (const auto& [node, vsn] : known_)
        out.push_back(node);
    return out;
}

std::vector<Atom> GlobalServer::synced_nodes() const {
    std::shared_lock lock(mutex_);
    return synced_;
}

bool GlobalServer::can_set_lock(const Term& lock_id) const {
    if (!lock_id.is_tuple(2)) return false;
    std::shared_lock lock(mutex_);
    auto it = locks_.find(lock_id[0]);
    return it == locks_.end() || it->second.requester == lock_id[1];
}

bool GlobalServer::is_lock_set(const Term& resource) const {
    std::shared_lock lock(mutex_);
    return locks_.count(resource) > 0;
}

bool GlobalServer::wait_synced(std::chrono::milliseconds timeout) const {
    auto all_synced = [this] {
        if (!process_) return true;
        for (Atom node : runtime_.connected(false))
            if (std::find(synced_.begin(), synced_.end(), node) == synced_.end()) return false;
        return true;
    };
    std::shared_lock lock(mutex_);
    if (timeout == infinity_timeout) {
        synced_changed_.wait(lock, all_synced);
        return true;
    }
    // Nodes that connect later are waited for too; a node that goes down no longer counts.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!all_synced()) {
        const auto step =
            std::min(deadline - std::chrono::steady_clock::now(),
                     std::chrono::steady_clock::duration(std::chrono::milliseconds(50)));
        if (step <= std::chrono::steady_clock::duration::zero()) return false;
        synced_changed_.wait_for(lock, step);
    }
    return true;
}

void GlobalServer::set_resolver(const Term& name, GlobalResolver resolver) {
    std::unique_lock lock(mutex_);
    resolvers_by_name_[name] = std::move(resolver);
}

std::optional<GlobalResolver> GlobalServer::resolver_of(const Term& name) const {
    std::shared_lock lock(mutex_);
    auto it = resolvers_by_name_.find(name);
    if (it == resolvers_by_name_.end()) return std::nullopt;
    return it->second;
}

void GlobalServer::send_from_server(const Pid& to, Term message) {
    std::shared_lock lock(mutex_);
    if (process_) runtime_.send(*process_, to, std::move(message));
}

void GlobalServer::exit_from_server(const Pid& to, Term reason) {
    std::shared_lock lock(mutex_);
    if (process_) runtime_.exit2(*process_, to, std::move(reason));
}

// ---------------------------------------------------------------------------------------------
// Dispatch

void GlobalServer::handle(const Term& message) {
    std::vector<std::pair<std::function<void(const Pid&)>, Pid>> fired;
    {
        std::unique_lock lock(mutex_);
        if (!process_) return;
        if (auto call = parse_gen_call(message))
            handle_call(*call);
        else if (message.is_tuple(2) && message[0].is_atom(atoms::gen_cast))
            handle_cast(message[1]);
        else
            handle_info(message);
        fired.swap(fired_);
    }
    for (auto& [callback, pid] : fired)
        callback(pid);
}

std::uint64_t GlobalServer::watch_name(const Term& name, std::function<void(const Pid&)> callback) {
    std::unique_lock lock(mutex_);
    const std::uint64_t id = next_name_watch_++;
    name_watches_.emplace(name, std::make_pair(id, std::move(callback)));
    return id;
}

void GlobalServer::unwatch_name(std::uint64_t id) {
    std::unique_lock lock(mutex_);
    std::erase_if(name_watches_, [id](const auto& entry) { return entry.second.first == id; });
}

void GlobalServer::handle_call(const GenCall& call) {
    const GlobalAtoms& a = global_atoms();
    const Term& r = call.request;
    auto reply = [&](Term value) {
        gen_reply(ProcessHandle(process_), call.caller, call.tag, std::move(value));
    };
    if (r.is_tuple(4) && r[0].is_atom(a.register_) && r[2].is_pid()) {
        insert_name(r[1], *r[2].to<Pid>(), r[3], Term(call.caller), Term());
        reply(Term(a.yes));
    } else if (r.is_tuple(2) && r[0].is_atom(a.unregister)) {
        delete_name(r[1]);
        reply(Term(atoms::ok));
    } else if (r.is_tuple(5) && r[0].is_atom(a.register_ext) && r[2].is_pid() && r[4].is_atom()) {
        insert_external_name(r[1], *r[2].to<Pid>(), r[3], *r[4].to<Atom>(), Term(call.caller),
                             Term());
        reply(Term(a.yes));
    } else if (r.is_tuple(2) && r[0].is_atom(a.set_lock)) {
        reply(Term(set_lock(r[1], call.caller)));
    } else if (r.is_tuple(2) && r[0].is_atom(a.del_lock)) {
        del_lock(r[1], call.caller);
        reply(Term(true));
    } else if (r.is_atom(a.get_known)) {
        reply(known_list(0));
    } else if (r.is_atom(a.get_synced)) {
        std::vector<Term> synced(synced_.begin(), synced_.end());
        reply(list_from(synced));
    } else if (r.is_tuple(2) && r[0].is_atom(a.sync) && r[1].to<std::vector<Atom>>()) {
        start_sync(*r[1].to<std::vector<Atom>>(), call.caller, call.tag);
    } else if (r.is_atom(a.get_protocol_version)) {
        reply(Term(global_vsn));
    } else if (r.is_atom(a.get_names_ext)) {
        reply(names_ext_list());
    } else {
        // As global: logged, and no answer.
        log(LogLevel::warning,
            "ignored an unexpected call " + to_string(r) + " from " + to_string(Term(call.caller)));
    }
}

void GlobalServer::handle_cast(const Term& r) {
    const GlobalAtoms& a = global_atoms();
    auto node_at = [&](std::size_t i) { return r[i].to<Atom>(); };
    const std::size_t size = r.is_tuple() ? r.elements().size() : 0;
    const bool tagged = size > 0 && r[0].is_atom();
    if (tagged && r[0].is_atom(a.init_connect) && size == 4 && node_at(2)) {
        on_init_connect(r[1], *node_at(2), r[3]);
    } else if (tagged && r[0].is_atom(a.lock_is_set) && size == 4 && node_at(1)) {
        on_lock_is_set(*node_at(1), r[2], r[3]);
    } else if (tagged && r[0].is_atom(a.exchange) && size == 5 && node_at(1) &&
               r[2].is_proper_list()) {
        on_exchange(*node_at(1), r[2], r[4]);
    } else if (tagged && r[0].is_atom(a.exchange_ops) && size == 5 && node_at(1)) {
        on_exchange_ops(*node_at(1), r[2], r[3], r[4]);
    } else if (tagged && r[0].is_atom(a.resolved) && size == 7 && node_at(1) &&
               r[2].is_proper_list() && r[3].is_proper_list() && r[5].is_proper_list()) {
        on_resolved(*node_at(1), r[2], r[3], r[5], r[6]);
    } else if (tagged && r[0].is_atom(a.new_nodes) && size == 6 && node_at(1) &&
               r[2].is_proper_list() && r[3].is_proper_list() && r[4].is_proper_list()) {
        on_new_nodes(*node_at(1), r[2], r[3], r[4], r[5]);
    } else if (tagged && r[0].is_atom(a.in_sync) && size == 3 && node_at(1)) {
        on_in_sync(*node_at(1));
    } else if (tagged && (r[0].is_atom(a.async_del_name) || r[0].is_atom(a.async_del_lock)) &&
               size == 3) {
        // From R13B and older nodes; the DOWN of the monitor does the work.
    } else if (tagged && r[0].is_atom(a.lock_set) && (size == 4 || size == 5) && r[1].is_pid()) {
        on_lock_set(r);
    } else {
        log(LogLevel::warning, "ignored an unexpected cast " + to_string(r));
    }
}

void GlobalServer::handle_info(const Term& m) {
    const GlobalAtoms& a = global_atoms();
    const std::size_t size = m.is_tuple() ? m.elements().size() : 0;
    auto atom_at = [&](std::size_t i) { return size > i ? m[i].to<Atom>() : std::nullopt; };
    const auto tag = atom_at(0);
    if (!tag) {
        log(LogLevel::warning, "ignored an unexpected message " + to_string(m));
    } else if (*tag == a.node_event && size == 3 && atom_at(2)) {
        if (m[1].is_atom(a.up)) {
            if (connect_all_) handle_nodeup(*atom_at(2));
        } else {
            handle_nodedown(*atom_at(2), NodeDown::disconnected);
            syncer_node_down(*atom_at(2));
        }
    } else if (*tag == a.extra_nodedown && size == 2 && atom_at(1)) {
        syncer_node_down(*atom_at(1));
        handle_nodedown(*atom_at(1), NodeDown::disconnected);
    } else if (*tag == a.whereis && size == 3) {
        whereis_request(m[1], m[2]);
    } else if (*tag == a.lost_connection && size == 5 && atom_at(1) && atom_at(4)) {
        if (connect_all_ && prevent_overlapping_partitions_)
            on_lost_connection(*atom_at(1), m[2], m[3], *atom_at(4));
    } else if (*tag == a.lost_connection_expired && size == 4 && atom_at(1) && atom_at(2)) {
        on_lost_connection_expired(*atom_at(1), *atom_at(2), m[3]);
    } else if (*tag == a.remove_connection && size == 2 && atom_at(1)) {
        on_remove_connection(*atom_at(1));
    } else if (*tag == a.cancel_connect && size == 3 && atom_at(1)) {
        on_cancel_connect(*atom_at(1), m[2]);
    } else if (*tag == a.init_connect_ack && size == 4 && atom_at(1)) {
        on_init_connect_ack(*atom_at(1), m[2], m[3]);
    } else if (*tag == atoms::DOWN && size == 5 && m[1].is_reference()) {
        const Reference ref = *m[1].to<Reference>();
        delete_locks_monitored_by(ref);
        delete_name_monitored_by(ref);
    } else if (*tag == atoms::EXIT && size == 3) {
        // Links of external names' registrars: the DOWNs do the work.
    } else {
        log(LogLevel::warning, "ignored an unexpected message " + to_string(m));
    }
}

// ---------------------------------------------------------------------------------------------
// Names

void GlobalServer::insert_name(const Term& name, const Pid& pid, const Term& method,
                               const Term& from, const Term& extra_info) {
    // Whatever held the name before stops being watched; the entry itself is overwritten.
    if (auto it = names_.find(name); it != names_.end()) forget(name, it->second);
    const Reference monitor = runtime_.monitor(*process_, pid, pid.node);
    names_[name] = Name{pid, method, monitor};
    pid_names_[pid].push_back(name);
    name_monitors_[monitor] = name;
    // The lock that covered this registration went (its node went down and came back) before
    // the registration arrived: it does not count.
    if (!lock_still_set(from, extra_info)) return delete_name(name);
    auto [first, last] = name_watches_.equal_range(name);
    for (auto it = first; it != last; ++it)
        fired_.emplace_back(std::move(it->second.second), pid);
    name_watches_.erase(first, last);
}

void GlobalServer::insert_external_name(const Term& name, const Pid& pid, const Term& method,
                                        Atom registered_on, const Term& from,
                                        const Term& extra_info) {
    insert_name(name, pid, method, from, extra_info);
    if (names_.count(name)) external_names_[name] = ExternalName{pid, registered_on};
}

void GlobalServer::delete_name(const Term& name) {
    auto it = names_.find(name);
    if (it == names_.end()) return;
    forget(name, it->second);
    names_.erase(it);
    resolvers_by_name_.erase(name);
}

void GlobalServer::forget(const Term& name, const Name& entry) {
    runtime_.demonitor(*process_, entry.monitor);
    name_monitors_.erase(entry.monitor);
    if (auto p = pid_names_.find(entry.pid); p != pid_names_.end()) {
        std::erase(p->second, name);
        if (p->second.empty()) pid_names_.erase(p);
    }
    external_names_.erase(name);
}

void GlobalServer::delete_name_monitored_by(const Reference& ref) {
    auto it = name_monitors_.find(ref);
    if (it == name_monitors_.end()) return;
    const Term name = it->second;
    delete_name(name);
}

Term GlobalServer::names_ext_list() const {
    std::vector<Term> out;
    for (const auto& [name, ext] : external_names_)
        out.push_back(tuple(name, ext.pid, ext.registered_on));
    return list_from(out);
}

bool GlobalServer::lock_still_set(const Term& from, const Term& extra_info) const {
    auto it = locks_.find(Term(global_atoms().global));
    if (it == locks_.end()) return !global_lock_down_;
    if (auto pid = from.to<Pid>())
        return std::any_of(it->second.holders.begin(), it->second.holders.end(),
                           [&](const auto& h) { return h.first == *pid; });
    // A node's new_nodes or resolved: the lock id that node held, from its extra info.
    for (const Term& info : extra_info.elements())
        if (info.is_tuple(2) && info[0].is_atom(global_atoms().lock) && info[1].is_tuple(2))
            return it->second.requester == info[1][1];
    return false;
}

void GlobalServer::whereis_request(const Term& name, const Term& from) {
    auto caller = from.is_tuple(2) ? from[0].to<Pid>() : std::nullopt;
    if (!caller) {
        log(LogLevel::warning, "ignored a whereis with a bad From " + to_string(from));
        return;
    }
    if (locks_.count(Term(global_atoms().global))) {
        // Names are changing under the lock: ask again a little later, as global does.
        auto timer = std::make_shared<node::TimerState>(runtime_.io());
        node::start_timer(timer, *process_, random_sleep(5),
                          tuple(global_atoms().whereis, name, from));
        return;
    }
    std::optional<Pid> found;
    if (auto it = names_.find(name); it != names_.end()) {
        found = it->second.pid;
        if (runtime_.is_local(found->node)) {
            auto process = runtime_.find(*found);
            if (!process || !ProcessHandle(process).alive()) found.reset();
        }
    }
    gen_reply(ProcessHandle(process_), *caller, from[1],
              found ? Term(*found) : Term(atoms::undefined));
}

// ---------------------------------------------------------------------------------------------
// Locks

bool GlobalServer::set_lock(const Term& lock_id, const Pid& holder) {
    if (!lock_id.is_tuple(2)) {
        log(LogLevel::warning, "refused a malformed lock id " + to_string(lock_id));
        return false;
    }
    const Term& resource = lock_id[0];
    auto it = locks_.find(resource);
    if (it != locks_.end()) {
        if (!(it->second.requester == lock_id[1])) return false;
        auto& holders = it->second.holders;
        if (std::any_of(holders.begin(), holders.end(),
                        [&](const auto& h) { return h.first == holder; }))
            return true;
    } else {
        it = locks_.emplace(resource, Lock{lock_id[1], {}}).first;
    }
    const Reference monitor = runtime_.monitor(*process_, holder, holder.node);
    it->second.holders.emplace_back(holder, monitor);
    lock_monitors_[monitor] = resource;
    return true;
}

void GlobalServer::del_lock(const Term& lock_id, const Pid& holder) {
    if (!lock_id.is_tuple(2)) return;
    auto it = locks_.find(lock_id[0]);
    if (it != locks_.end() && it->second.requester == lock_id[1]) remove_holder(it, holder, false);
}

void GlobalServer::remove_holder(std::map<Term, Lock>::iterator lock, const Pid& holder,
                                 bool down) {
    auto& holders = lock->second.holders;
    auto h = std::find_if(holders.begin(), holders.end(),
                          [&](const auto& entry) { return entry.first == holder; });
    if (h == holders.end()) return;
    runtime_.demonitor(*process_, h->second);
    lock_monitors_.erase(h->second);
    holders.erase(h);
    if (holders.empty()) {
        if (lock->first.is_atom(global_atoms().global)) global_lock_down_ = down;
        locks_.erase(lock);
    }
}

void GlobalServer::delete_locks_monitored_by(const Reference& ref) {
    auto it = lock_monitors_.find(ref);
    if (it == lock_monitors_.end()) return;
    auto lock = locks_.find(it->second);
    if (lock == locks_.end()) {
        lock_monitors_.erase(it);
        return;
    }
    auto& holders = lock->second.holders;
    auto h = std::find_if(holders.begin(), holders.end(),
                          [&](const auto& entry) { return entry.second == ref; });
    if (h != holders.end()) remove_holder(lock, Pid(h->first), true);
}

// ---------------------------------------------------------------------------------------------
// global:sync

void GlobalServer::start_sync(std::vector<Atom> nodes, const Pid& caller, const Term& tag) {
    Syncer syncer{{}, caller, tag};
    for (Atom node : nodes)
        if (!runtime_.is_local(node) &&
            std::find(synced_.begin(), synced_.end(), node) == synced_.end())
            syncer.waiting.insert(node);
    if (syncer.waiting.empty())
        gen_reply(ProcessHandle(process_), caller, tag, Term(atoms::ok));
    else
        syncers_.push_back(std::move(syncer));
}

void GlobalServer::synced_with(Atom node) {
    if (std::find(synced_.begin(), synced_.end(), node) == synced_.end()) synced_.push_back(node);
    syncer_node_down(node);
    synced_changed_.notify_all();
}

void GlobalServer::syncer_node_down(Atom node) {
    for (auto it = syncers_.begin(); it != syncers_.end();) {
        it->waiting.erase(node);
        if (it->waiting.empty()) {
            gen_reply(ProcessHandle(process_), it->caller, it->tag, Term(atoms::ok));
            it = syncers_.erase(it);
        } else {
            ++it;
        }
    }
    synced_changed_.notify_all();
}

// ---------------------------------------------------------------------------------------------
// Sending

void GlobalServer::send(const Pid& to, Term message, node::Dial dial) {
    runtime_.send(*process_, to, std::move(message), dial);
}

void GlobalServer::cast(Atom node, Term request) {
    runtime_.send_named(*process_, global_atoms().global_name_server, node,
                        tuple(atoms::gen_cast, std::move(request)));
}

void GlobalServer::to_locker(Term message) {
    runtime_.send(*process_, locker_pid_, std::move(message));
}

}  // namespace distribute::otp
