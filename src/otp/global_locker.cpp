#include "otp/global_locker.hpp"

#include <sodium.h>

#include <algorithm>

#include "otp/global_atoms.hpp"
#include "otp/global_server.hpp"

namespace distribute::otp {

namespace {

std::string_view host_of(Atom node) {
    const std::string_view name = node.name();
    const auto at = name.find('@');
    return at == std::string_view::npos ? std::string_view() : name.substr(at + 1);
}

std::vector<Atom> minus(std::vector<Atom> from, const std::vector<Atom>& take) {
    for (Atom node : take)
        if (auto it = std::find(from.begin(), from.end(), node); it != from.end()) from.erase(it);
    return from;
}

Term atom_list(const std::vector<Atom>& nodes) {
    std::vector<Term> terms(nodes.begin(), nodes.end());
    return list_from(terms);
}

}  // namespace

GlobalLocker::GlobalLocker(GlobalServer& server)
    : server_(server), runtime_(server.runtime()), locks_(server) {}

void GlobalLocker::start() {
    std::weak_ptr<GlobalLocker> weak = weak_from_this();
    process_ = runtime_.spawn_handler(
        [weak](const ProcessHandle&, Term message) {
            if (auto locker = weak.lock()) locker->handle(message);
        },
        true);
    pid_ = process_->pid;
    known_ = server_.known_nodes();
    std::vector<Atom> all = known_;
    all.push_back(runtime_.name());
    boss_ = the_boss(all);
}

// ---------------------------------------------------------------------------------------------
// The loop

void GlobalLocker::handle(const Term& message) {
    if (!process_) return;
    const GlobalAtoms& a = global_atoms();
    if (locks_.take(*process_, message)) {
        pump();
        return;
    }
    if (message.is_tuple(2) && message[0].is_atom(a.locker_timeout)) {
        // A timeout of an earlier loop is stale.
        if (mode_ == Mode::idle && message[1] == Term(timer_generation_)) on_timeout();
        pump();
        return;
    }
    if (mode_ == Mode::idle || accepts(message))
        dispatch(message);
    else
        deferred_.push_back(message);
    pump();
}

bool GlobalLocker::accepts(const Term& m) const {
    const GlobalAtoms& a = global_atoms();
    const std::size_t size = m.is_tuple() ? m.elements().size() : 0;
    if (size < 4) return false;
    if (mode_ == Mode::lock_is_set) {
        if (m[0].is_atom(a.lock_set) && m[1].is_pid()) return m[1].to<Pid>()->node == him_.node;
        return m[0].is_atom(a.cancel) && m[1].is_atom(him_.node) && m[2] == wait_tag_;
    }
    if (mode_ == Mode::wait_cancel)
        return m[0].is_atom(a.cancel) && m[1].is_atom(wait_node_) && m[2] == wait_tag_;
    return false;
}

void GlobalLocker::dispatch(const Term& message) {
    switch (mode_) {
        case Mode::idle:
            return on_idle(message);
        case Mode::lock_is_set:
            return on_lock_is_set(message);
        case Mode::wait_cancel:
            return on_cancel_waited(message);
        case Mode::busy:
            deferred_.push_back(message);
            return;
    }
}

void GlobalLocker::pump() {
    if (pumping_ || !process_) return;
    pumping_ = true;
    for (bool progress = true; progress && mode_ != Mode::busy;) {
        progress = false;
        for (auto it = deferred_.begin(); it != deferred_.end(); ++it) {
            if (mode_ != Mode::idle && !accepts(*it)) continue;
            const Term message = *it;
            deferred_.erase(it);
            dispatch(message);
            progress = true;
            break;
        }
    }
    pumping_ = false;
    if (mode_ == Mode::idle) loop();
}

void GlobalLocker::loop() {
    // loop_the_locker: with requests pending, try again after a while. Right after a success
    // there is no reason to wait; with others known, the wait grows with them (so that another
    // node of the partition gets its chance when this one failed after setting the lock).
    node::cancel_timer(timer_);
    ++timer_generation_;
    if (local_.empty() && remote_.empty()) return;
    const auto timeout =
        just_synced_ ? std::chrono::milliseconds(0)
        : known_.empty()
            ? std::chrono::milliseconds(200)
            : std::chrono::milliseconds(std::min<std::size_t>(1000 + 100 * known_.size(), 3000));
    just_synced_ = false;
    timer_ = std::make_shared<node::TimerState>(runtime_.io());
    node::start_timer(timer_, *process_, timeout,
                      tuple(global_atoms().locker_timeout, timer_generation_));
}

void GlobalLocker::on_timeout() {
    if (server_.is_lock_set(Term(global_atoms().global)))
        return;  // a registration is under way: pump() loops again
    select_node();
}

// ---------------------------------------------------------------------------------------------
// Idle

void GlobalLocker::on_idle(const Term& m) {
    const GlobalAtoms& a = global_atoms();
    const std::size_t size = m.is_tuple() ? m.elements().size() : 0;
    const bool tagged = size > 0 && m[0].is_atom();
    if (tagged && m[0].is_atom(a.his_the_locker) && size == 5 && m[1].is_pid() &&
        m[2].is_tuple(2)) {
        const auto vsn = m[2][0].to<int>();
        if (!vsn || *vsn <= 4) return;
        const Pid his_locker = *m[1].to<Pid>();
        list_of(his_locker.node).push_back(Him{his_locker.node, his_locker, *vsn, m[4], m[3]});
    } else if (tagged && m[0].is_atom(a.cancel) && size == 4 && m[1].is_atom()) {
        // A cancel with tag undefined may be an old nodedown's: it must not cancel a new nodeup.
        if (m[2].is_atom(atoms::undefined)) return;
        if (m[3].is_atom(a.no_fun)) return remove_him(*m[1].to<Atom>(), m[2]);
        runtime_.log(LogLevel::warning, "global: the locker dropped " + to_string(m));
    } else if (tagged && m[0].is_atom(a.lock_set) && (size == 4 || size == 5) && m[1].is_pid()) {
        if (!m[2].is_atom(atoms::true_)) return;  // a late refusal: nothing is under way
        const Pid his_locker = *m[1].to<Pid>();
        if (size == 5) return on_lock_set_idle(his_locker, m[4]);
        if (auto him = find_him(his_locker.node)) return on_lock_set_idle(his_locker, him->my_tag);
        send_lock_set(false, his_locker, 5, Term(0));
    } else if (tagged && (m[0].is_atom(a.add_to_known) || m[0].is_atom(a.remove_from_known)) &&
               size == 2) {
        update_known(m);
    } else {
        runtime_.log(LogLevel::warning,
                     "global: the locker received an unexpected message " + to_string(m));
    }
}

void GlobalLocker::on_lock_set_idle(const Pid& his_locker, const Term& my_tag) {
    // The other locker has set the lock in its partition: set it in ours, with the same id.
    auto him = find_him(his_locker.node);
    if (!him || !(him->my_tag == my_tag)) {
        send_lock_set(false, his_locker, 5, Term(0));
        return;
    }
    const Term lock_id = lock_id_with(his_locker);
    mode_ = Mode::busy;
    lock_nodes_safely(lock_id, {}, [this, him = *him, his_locker, lock_id](bool is_set) {
        send_lock_set(is_set, his_locker, him.vsn, him.his_tag);
        if (!is_set) {
            just_synced_ = false;
            mode_ = Mode::idle;
            return;
        }
        const GlobalAtoms& a = global_atoms();
        runtime_.send_named(
            *process_, a.global_name_server, runtime_.name(),
            tuple(atoms::gen_cast, tuple(a.lock_is_set, him.node, him.my_tag, lock_id)));
        lock_id_ = lock_id;
        lock_nodes_ = known_;
        lock_nodes_.insert(lock_nodes_.begin(), runtime_.name());
        wait_node_ = him.node;
        wait_tag_ = him.my_tag;
        after_cancel_ = [this, node = him.node, tag = him.my_tag] {
            just_synced_ = true;
            remove_him(node, tag);
        };
        mode_ = Mode::wait_cancel;
    });
}

void GlobalLocker::select_node() {
    // Requests from nodes on this host first: a safe optimisation, as global has it.
    auto& candidates = local_.empty() ? remote_ : local_;
    std::erase_if(candidates, [&](const Him& h) {
        return std::find(known_.begin(), known_.end(), h.node) != known_.end();
    });
    if (candidates.empty()) return;
    const Him him = candidates[randombytes_uniform(static_cast<std::uint32_t>(candidates.size()))];
    const Term lock_id = lock_id_with(him.locker);
    mode_ = Mode::busy;
    // Locking the other node too (not just our partition) prevents a deadlock.
    lock_nodes_safely(lock_id, {him.node}, [this, him, lock_id](bool is_set) {
        if (!is_set) {
            mode_ = Mode::idle;
            return;
        }
        lock_nodes_ = known_;
        lock_nodes_.insert(lock_nodes_.begin(), {runtime_.name(), him.node});
        send_lock_set(true, him.locker, him.vsn, him.his_tag);
        him_ = him;
        lock_id_ = lock_id;
        wait_tag_ = him.my_tag;
        mode_ = Mode::lock_is_set;
    });
}

void GlobalLocker::lock_nodes_safely(const Term& lock_id, std::vector<Atom> extra,
                                     std::function<void(bool)> done) {
    // The boss first (an optimisation: whoever holds the boss wins), but only when this node
    // itself could be locked.
    const std::vector<Atom> first{boss_};
    if (!(boss_ == runtime_.name()) && !server_.can_set_lock(lock_id)) return done(false);
    locks_.set(process_, lock_id, first, [=, this](bool boss_locked) {
        if (!boss_locked) return done(false);
        update_known_from_deferred();
        std::vector<Atom> mine{runtime_.name()};
        mine.insert(mine.end(), extra.begin(), extra.end());
        const std::vector<Atom> second = minus(mine, first);
        locks_.set(process_, lock_id, second, [=, this](bool second_locked) {
            if (!second_locked) {
                locks_.del(process_, lock_id, first, [done] { done(false); });
                return;
            }
            locks_.set(process_, lock_id, minus(known_, first), [=, this](bool all_locked) {
                if (all_locked) return done(true);
                // The boss is ours, so this should not fail unless someone else locks global.
                std::vector<Atom> so_far = first;
                so_far.insert(so_far.end(), second.begin(), second.end());
                locks_.del(process_, lock_id, so_far, [done] { done(false); });
            });
        });
    });
}

// ---------------------------------------------------------------------------------------------
// Lock set: waiting for the other locker, then for the server's cancel

void GlobalLocker::on_lock_is_set(const Term& m) {
    const GlobalAtoms& a = global_atoms();
    if (m[0].is_atom(a.cancel)) {
        // Given up by the server while the other side was still deciding.
        run_casts(m[3]);
        mode_ = Mode::busy;
        locks_.del_boss_last(process_, lock_id_, lock_nodes_,
                             [this, node = him_.node, tag = wait_tag_] {
                                 remove_him(node, tag);
                                 mode_ = Mode::idle;
                             });
        return;
    }
    // {lock_set, P, IsSet, Known} or {lock_set, P, IsSet, Known, Tag}: one with an old tag is
    // from an earlier attempt and changes nothing.
    if (m.elements().size() == 5 && !(m[4] == wait_tag_)) return;
    if (m[2].is_atom(atoms::true_)) return lock_is_set_true();
    mode_ = Mode::busy;
    locks_.del_boss_last(process_, lock_id_, lock_nodes_, [this] { mode_ = Mode::idle; });
}

void GlobalLocker::lock_is_set_true() {
    const GlobalAtoms& a = global_atoms();
    runtime_.send_named(
        *process_, a.global_name_server, runtime_.name(),
        tuple(atoms::gen_cast, tuple(a.lock_is_set, him_.node, wait_tag_, lock_id_)));
    wait_node_ = him_.node;
    after_cancel_ = [this, done = him_] {
        just_synced_ = true;
        for (auto* list : {&local_, &remote_})
            if (auto it = std::find(list->begin(), list->end(), done); it != list->end())
                list->erase(it);
    };
    mode_ = Mode::wait_cancel;
}

void GlobalLocker::on_cancel_waited(const Term& m) {
    // The names are exchanged: new_nodes goes to our partition before the lock goes.
    run_casts(m[3]);
    mode_ = Mode::busy;
    locks_.del_boss_last(process_, lock_id_, lock_nodes_, [this] {
        auto finish = std::move(after_cancel_);
        after_cancel_ = nullptr;
        if (finish) finish();
        mode_ = Mode::idle;
    });
}

// ---------------------------------------------------------------------------------------------
// Helpers

void GlobalLocker::send_lock_set(bool is_set, const Pid& his_locker, int vsn, const Term& his_tag) {
    const GlobalAtoms& a = global_atoms();
    const Term message = vsn < verify_connect_vsn
                             ? tuple(a.lock_set, pid_, is_set, atom_list(known_))
                             : tuple(a.lock_set, pid_, is_set, atom_list(known_), his_tag);
    if (vsn < 6)
        runtime_.send(*process_, his_locker, message);
    else
        runtime_.send_named(*process_, a.global_name_server, his_locker.node,
                            tuple(atoms::gen_cast, message));
}

void GlobalLocker::run_casts(const Term& casts) {
    for (const Term& entry : casts.elements())
        if (entry.is_tuple(2) && entry[0].is_atom())
            runtime_.send_named(*process_, global_atoms().global_name_server, *entry[0].to<Atom>(),
                                tuple(atoms::gen_cast, entry[1]));
}

void GlobalLocker::update_known(const Term& m) {
    if (m[0].is_atom(global_atoms().add_to_known)) {
        auto nodes = m[1].to<std::vector<Atom>>();
        if (nodes) known_.insert(known_.begin(), nodes->begin(), nodes->end());
    } else if (auto node = m[1].to<Atom>()) {
        if (auto it = std::find(known_.begin(), known_.end(), *node); it != known_.end())
            known_.erase(it);
    }
    std::vector<Atom> all = known_;
    all.push_back(runtime_.name());
    boss_ = the_boss(all);
}

void GlobalLocker::update_known_from_deferred() {
    const GlobalAtoms& a = global_atoms();
    for (auto it = deferred_.begin(); it != deferred_.end();) {
        const Term& m = *it;
        if (m.is_tuple(2) && (m[0].is_atom(a.add_to_known) || m[0].is_atom(a.remove_from_known))) {
            update_known(m);
            it = deferred_.erase(it);
        } else {
            ++it;
        }
    }
}

std::vector<GlobalLocker::Him>& GlobalLocker::list_of(const Atom& node) {
    return is_local_host(node) ? local_ : remote_;
}

void GlobalLocker::remove_him(Atom node, const Term& tag) {
    for (auto* list : {&local_, &remote_}) {
        auto it = std::find_if(list->begin(), list->end(),
                               [&](const Him& h) { return h.node == node && h.my_tag == tag; });
        if (it != list->end()) list->erase(it);
    }
}

std::optional<GlobalLocker::Him> GlobalLocker::find_him(Atom node) const {
    for (const auto* list : {&local_, &remote_})
        for (const Him& h : *list)
            if (h.node == node) return h;
    return std::nullopt;
}

Term GlobalLocker::lock_id_with(const Pid& other) const {
    // The same id on both sides: both lockers' pids, sorted.
    Pid a = pid_, b = other;
    if (b < a) std::swap(a, b);
    return tuple(global_atoms().global, list(a, b));
}

bool GlobalLocker::is_local_host(Atom node) const {
    return host_of(node) == host_of(runtime_.name());
}

}  // namespace distribute::otp
