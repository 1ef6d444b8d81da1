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

Supervisor::Supervisor(SupervisorConfig config, Reference token) : config_(std::move(config)) {
    gate.set_token(token);
    if (config_.kind == SupervisorKind::simple) {
        template_ = std::move(options_.children.front());
    } else {
        children_.reserve(options_.children.size());
        for (auto& spec : options_.children)
            children_.push_back(child_of(std::move(spec)));
    }
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
                tuple(atoms::shutdown, tuple(failed_to_start_child, children_[i].id, *failed)));
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
    if (auto exit = message.tagged<Pid, Term>(atoms::EXIT);
        exit && options_.link_to && std::get<0>(*exit) == *options_.link_to) {
        shut_down(self, std::get<1>(*exit));
        return;
    }
    if (auto sys = system_message(self, message)) {
        system(self, *sys);
        return;
    }
    // A get_state reply that waited for the caller's release goes out even while suspended.
    if (state_replies_.answer(self, message)) return;
    if (suspended_) {
        held_.push_back(std::move(message));
        return;
    }
    handle_message(self, std::move(message));
}

void Supervisor::handle_message(const ProcessHandle& self, Term message) {
    static const Atom in = atom("in");
    static const Atom shutdown_timeout = atom("$supervisor_shutdown_timeout");
    if (debug_.active()) debug_event(self, tuple(in, message));
    if (auto exit = message.tagged<Pid, Term>(atoms::EXIT)) {
        // An 'EXIT' of a process that is no longer a child (one already stopped and replaced,
        // or any other linked process) changes nothing, as in supervisor.erl.
        if (auto index = index_of(std::get<0>(*exit)))
            child_exited(self, *index, std::get<1>(*exit));
        return;
    }
    if (auto call = parse_gen_call(message)) {
        if (!handle_call(self, *call)) {
            log(self, LogLevel::warning,
                label(self) + " got an unexpected call: " + to_string(call->request));
            From(self, call->caller, call->tag)
                .reply(tuple(atoms::error, tuple(atom("not_supported"), call->request)));
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

void Supervisor::child_exited(const ProcessHandle& self, std::size_t index, const Term& reason) {
    Child& child = children_[index];
    child.handle = ProcessHandle();
    const std::string id = child.spec.id;
    const bool clean = clean_exit(reason);
    if (!clean || child.spec.restart == Restart::permanent)
        log(self, clean ? LogLevel::info : LogLevel::error,
            label(self) + ": child " + to_string(child.id) + " ended: " + to_string(reason));
    if (child.spec.restart == Restart::permanent ||
        (child.spec.restart == Restart::transient && !clean)) {
        restart(self, id);
        return;
    }
    const bool significant = child.spec.significant;
    forget_or_keep(index);
    auto_shutdown(self, significant);
}

bool Supervisor::auto_shutdown(const ProcessHandle& self, bool significant) {
    if (options_.auto_shutdown == AutoShutdown::never || !significant) return false;
    if (options_.auto_shutdown == AutoShutdown::all_significant &&
        std::any_of(children_.begin(), children_.end(),
                    [](const Child& c) { return c.running() && c.spec.significant; }))
        return false;
    log(self, LogLevel::info, label(self) + ": a significant child ended: shutting down");
    shut_down(self, Term(atoms::shutdown));
    return true;
}

void Supervisor::forget_or_keep(std::size_t index) {
    Child& child = children_[index];
    if (dynamic_children() || child.spec.restart == Restart::temporary) {
        children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(index));
        return;
    }
    child.handle = ProcessHandle();
    child.restarting = false;
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
        case Strategy::simple_one_for_one:
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
    Expected<ProcessHandle, SupervisorError> started = unexpected(SupervisorError{});
    try {
        started = run_start(self, child.spec);
    } catch (const std::exception& e) {
        started = unexpected(start_failure(exception_reason(e.what())));
    } catch (...) {
        started = unexpected(start_failure(exception_reason("an exception of unknown type")));
    }
    if (!started) {
        log(self, LogLevel::error,
            label(self) + ": child " + to_string(child.id) +
                " failed to start: " + to_string(started.error().reason));
        return started.error().reason;
    }
    child.handle = *started;  // empty when the start function said "ignore"
    child.restarting = false;
    return std::nullopt;
}

Expected<ProcessHandle, SupervisorError> Supervisor::run_start(const ProcessHandle& self,
                                                               const ChildSpec& spec) const {
    if (spec.start) return spec.start(self);
    std::optional<ChildFactory> factory;
    if (spec.factory && options_.factories) factory = options_.factories->find(spec.factory->name);
    if (!factory)
        return unexpected(start_failure(spec.factory ? undefined_factory(*spec.factory)
                                                     : Term(atom("missing_start"))));
    return (*factory)(self, spec.factory->args);
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
    stop_children(
        self, std::move(order),
        [this, reason](const ProcessHandle& me) {
            ended_ = true;
            if (!clean_exit(reason))
                log(me, LogLevel::error, label(me) + " terminated: " + to_string(reason));
            me.exit_self(reason);
        },
        dynamic_children());
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

std::optional<std::size_t> Supervisor::index_of_id(const Term& id) const {
    if (auto pid = id.to<Pid>()) return index_of(*pid);
    if (dynamic_children()) return std::nullopt;
    for (std::size_t i = 0; i < children_.size(); ++i)
        if (children_[i].id == id) return i;
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
