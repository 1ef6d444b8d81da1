// The common core of supervisors, after supervisor.erl (OTP 25): message dispatch, do_restart,
// restart intensity (add_restart), starting children, and the group restart that one_for_all and
// rest_for_one share. The strategies are in their own files.
#include <algorithm>

#include "actor/process_start.hpp"
#include "actor/supervisor_core.hpp"
#include "actor/system_message.hpp"
#include "node/access.hpp"

namespace distribute::actor_detail {

namespace {

Atom atom(const char* name) {
    return Atom::make(name).value();
}

const Atom& try_again_atom() {
    static const Atom a = atom("$supervisor_try_again");
    return a;
}

Term child_term(const Child& c) {
    static const Atom restarting = atom("restarting");
    if (c.running()) return Term(c.handle.pid());
    return Term(c.restarting ? restarting : atoms::undefined);
}

Term type_term(ChildType type) {
    static const Atom worker = atom("worker");
    static const Atom supervisor = atom("supervisor");
    return Term(type == ChildType::worker ? worker : supervisor);
}

}  // namespace

Term child_id_term(const std::string& id) {
    if (auto a = Atom::make(id)) return Term(*a);
    return binary(id);
}

std::optional<std::string> child_id_from(const Term& id) {
    if (auto a = id.to<Atom>()) return std::string(a->name());
    if (id.is_binary()) return std::string(id.text());
    return std::nullopt;
}

Supervisor::Supervisor(SupervisorOptions options, Reference token) : options_(std::move(options)) {
    gate.set_token(token);
    children_.reserve(options_.children.size());
    for (auto& spec : options_.children)
        children_.push_back(Child{std::move(spec), {}, false});
    options_.children.clear();
}

Expected<void, Term> Supervisor::init(const ProcessHandle& self) {
    static const Atom failed_to_start_child = atom("failed_to_start_child");
    for (std::size_t i = 0; i < children_.size();) {
        if (auto failed = start_child(self, children_[i])) {
            // Not the ordered shutdown: that needs this process's messages, and the starter may
            // be a node thread that must not wait. Killing is immediate for local children.
            for (std::size_t j = i; j-- > 0;) {
                if (!children_[j].running()) continue;
                self.unlink(children_[j].handle.pid());
                self.exit(children_[j].handle.pid(), Term(atoms::kill));
            }
            return unexpected(
                tuple(atoms::shutdown,
                      tuple(failed_to_start_child, child_id_term(children_[i].spec.id), *failed)));
        }
        // An ignored temporary child is not kept: it would never run.
        if (!children_[i].running() && children_[i].spec.restart == Restart::temporary)
            children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(i));
        else
            ++i;
    }
    return {};
}

void Supervisor::handle(const ProcessHandle& self, Term message) {
    gate.pass(std::move(message), [&](Term m) {
        if (ended_) return false;
        if (!stopping_ || !shutdown_progress(self, m)) deferred_.push_back(std::move(m));
        // Messages are taken in the order they came, and none while a shutdown waits.
        while (!ended_ && !stopping_ && !deferred_.empty()) {
            Term next = std::move(deferred_.front());
            deferred_.pop_front();
            dispatch(self, std::move(next));
        }
        return !ended_;
    });
}

void Supervisor::dispatch(const ProcessHandle& self, Term message) {
    static const Atom terminate = atom("terminate");
    static const Atom shutdown_timeout = atom("$supervisor_shutdown_timeout");
    if (auto exit = message.tagged<Pid, Term>(atoms::EXIT)) {
        const auto& [from, reason] = *exit;
        if (options_.link_to && from == *options_.link_to) {
            shut_down(self, reason);
            return;
        }
        // An 'EXIT' of a process that is no longer a child (one already stopped and replaced,
        // or any other linked process) changes nothing, as in supervisor.erl.
        if (auto index = index_of(from)) child_exited(self, *index, reason);
        return;
    }
    if (auto call = parse_gen_call(message)) {
        handle_call(self, *call);
        return;
    }
    if (auto sys = system_message(self, message)) {
        if (!sys->from) return;
        if (auto t = sys->request.tagged<Term>(terminate)) {
            sys->from.reply(Term(atoms::ok));
            shut_down(self, std::get<0>(*t));
        } else {
            sys->from.reply(unknown_system_msg(sys->request));
        }
        return;
    }
    if (message.is_tuple(2) && message[0].is_atom(try_again_atom())) {
        auto id = child_id_from(message[1]);
        if (auto index = id ? index_of(*id) : std::nullopt; index && children_[*index].restarting)
            restart(self, *id);
        return;
    }
    // Leftovers of a shutdown already finished: a timer that fired late, a 'DOWN' after unlink.
    if (message.is_tuple(2) && message[0].is_atom(shutdown_timeout)) return;
    if (message.is_tuple(5) && message[0].is_atom(atoms::DOWN)) return;
    log(self, LogLevel::warning, label(self) + " got an unexpected message: " + to_string(message));
}

void Supervisor::handle_call(const ProcessHandle& self, const GenCall& call) {
    static const Atom which_children = atom("which_children");
    static const Atom count_children = atom("count_children");
    static const Atom not_supported = atom("not_supported");
    From from(self, call.caller, call.tag);
    if (call.request.is_atom(which_children)) {
        std::vector<Term> out;
        for (const auto& c : children_)
            out.push_back(
                tuple(child_id_term(c.spec.id), child_term(c), type_term(c.spec.type), Term()));
        from.reply(list_from(out));
    } else if (call.request.is_atom(count_children)) {
        std::int64_t active = 0, supervisors = 0, workers = 0;
        for (const auto& c : children_) {
            active += c.running() && c.handle.alive();
            ++(c.spec.type == ChildType::supervisor ? supervisors : workers);
        }
        auto pair = [](const char* k, std::int64_t v) { return tuple(atom(k), v); };
        from.reply(list(pair("specs", static_cast<std::int64_t>(children_.size())),
                        pair("active", active), pair("supervisors", supervisors),
                        pair("workers", workers)));
    } else {
        // start_child, terminate_child and the other dynamic calls are not served (yet).
        from.reply(tuple(atoms::error, tuple(not_supported, call.request)));
    }
}

void Supervisor::child_exited(const ProcessHandle& self, std::size_t index, const Term& reason) {
    Child& child = children_[index];
    child.handle = ProcessHandle();
    const std::string id = child.spec.id;
    const bool clean = clean_exit(reason);
    if (!clean || child.spec.restart == Restart::permanent)
        log(self, clean ? LogLevel::info : LogLevel::error,
            label(self) + ": child " + id + " ended: " + to_string(reason));
    switch (child.spec.restart) {
        case Restart::permanent:
            restart(self, id);
            return;
        case Restart::transient:
            if (!clean) restart(self, id);
            return;
        case Restart::temporary:
            children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(index));
            return;
    }
}

void Supervisor::restart(const ProcessHandle& self, const std::string& id) {
    if (!add_restart()) {
        log(self, LogLevel::error,
            label(self) + " reached its maximum restart intensity (" +
                std::to_string(options_.intensity) + " in " +
                std::to_string(options_.period.count()) + " ms) restarting " + id +
                ": shutting down");
        if (auto index = index_of(id)) children_[*index].restarting = false;
        shut_down(self, Term(atoms::shutdown));
        return;
    }
    switch (options_.strategy) {
        case Strategy::one_for_one:
            restart_one_for_one(self, id);
            return;
        case Strategy::one_for_all:
            restart_one_for_all(self, id);
            return;
        case Strategy::rest_for_one:
            restart_rest_for_one(self, id);
            return;
    }
}

bool Supervisor::add_restart() {
    const auto now = std::chrono::steady_clock::now();
    const auto threshold = now - options_.period;
    // Newest first: drop from the back what is older than the period, as lists:takewhile does.
    while (!restarts_.empty() && restarts_.back() < threshold)
        restarts_.pop_back();
    restarts_.push_front(now);
    return restarts_.size() <= static_cast<std::size_t>(options_.intensity);
}

std::optional<Term> Supervisor::start_child(const ProcessHandle& self, Child& child) {
    Expected<ProcessHandle, Term> started = unexpected(Term(atoms::undefined));
    try {
        started = child.spec.start(self);
    } catch (const std::exception& e) {
        started = unexpected(exception_reason(e.what()));
    } catch (...) {
        started = unexpected(exception_reason("an exception of unknown type"));
    }
    if (!started) {
        log(self, LogLevel::error,
            label(self) + ": child " + child.spec.id +
                " failed to start: " + to_string(started.error()));
        return started.error();
    }
    child.handle = *started;  // empty when the start function said "ignore"
    child.restarting = false;
    return std::nullopt;
}

void Supervisor::start_group(const ProcessHandle& self, const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
        auto index = index_of(id);
        if (!index) continue;  // a temporary child, forgotten when it was stopped
        if (start_child(self, children_[*index])) {
            children_[*index].restarting = true;
            try_again(self, id);
            return;
        }
    }
}

void Supervisor::restart_group(const ProcessHandle& self, std::vector<std::string> ids) {
    std::vector<std::string> stop_order(ids.rbegin(), ids.rend());
    stop_children(self, std::move(stop_order),
                  [this, ids = std::move(ids)](const ProcessHandle& me) { start_group(me, ids); });
}

void Supervisor::try_again(const ProcessHandle& self, const std::string& id) {
    // Behind whatever is queued already, as supervisor.erl's cast to itself: a shutdown request
    // or another exit is seen before the next attempt.
    self.send(self.pid(), tuple(try_again_atom(), child_id_term(id)));
}

void Supervisor::shut_down(const ProcessHandle& self, Term reason) {
    std::vector<std::string> order;
    for (auto it = children_.rbegin(); it != children_.rend(); ++it)
        order.push_back(it->spec.id);
    stop_children(self, std::move(order), [this, reason](const ProcessHandle& me) {
        ended_ = true;
        if (!clean_exit(reason))
            log(me, LogLevel::error, label(me) + " terminated: " + to_string(reason));
        me.exit_self(reason);
    });
}

std::optional<std::size_t> Supervisor::index_of(const std::string& id) const {
    for (std::size_t i = 0; i < children_.size(); ++i)
        if (children_[i].spec.id == id) return i;
    return std::nullopt;
}

std::optional<std::size_t> Supervisor::index_of(const Pid& pid) const {
    for (std::size_t i = 0; i < children_.size(); ++i)
        if (children_[i].running() && children_[i].handle.pid() == pid) return i;
    return std::nullopt;
}

std::vector<std::string> Supervisor::ids_from(std::size_t first) const {
    std::vector<std::string> out;
    for (std::size_t i = first; i < children_.size(); ++i)
        out.push_back(children_[i].spec.id);
    return out;
}

void Supervisor::log(const ProcessHandle& self, LogLevel level, const std::string& line) const {
    node::Access::process(self).runtime.log(level, line);
}

std::string Supervisor::label(const ProcessHandle& self) const {
    return "supervisor " + describe(self.pid(), options_.name);
}

}  // namespace distribute::actor_detail
