// The shutdown of children, as supervisor:shutdown/1 does it for each child: a monitor,
// exit(Child, shutdown) (or kill for brutal_kill), then wait for the 'DOWN'; when the child's
// shutdown time passes first, exit(Child, kill) and wait again. Children with ids go one after
// the other; dynamic children (simple_one_for_one, DynamicSupervisor) all at once, as
// terminate_dynamic_children does. The waits are messages: timers post the timeouts, and the
// handler returns to the node between steps.
#include "actor/process_start.hpp"
#include "actor/supervisor_core.hpp"

namespace distribute::actor_detail {

namespace {

const Atom& timeout_atom() {
    static const Atom a = Atom::make("$supervisor_shutdown_timeout").value();
    return a;
}

}  // namespace

void Supervisor::stop_children(const ProcessHandle& self, std::vector<std::string> ids, Then then,
                               bool parallel) {
    stopping_ = Stopping{};
    stopping_->left.assign(ids.begin(), ids.end());
    stopping_->then = std::move(then);
    stopping_->parallel = parallel;
    stop_next(self);
}

void Supervisor::stop_next(const ProcessHandle& self) {
    auto& s = *stopping_;
    while (!s.left.empty()) {
        std::string id = std::move(s.left.front());
        s.left.pop_front();
        auto index = index_of(id);
        if (!index) continue;
        if (!children_[*index].running()) {
            forget_or_keep(*index);
            continue;
        }
        stop_one(self, children_[*index]);
        // The 'DOWN' (or the timeout) comes as a message.
        if (!s.parallel) return;
    }
    if (!s.active.empty()) return;
    Then then = std::move(s.then);
    stopping_.reset();
    then(self);
}

void Supervisor::stop_one(const ProcessHandle& self, Child& child) {
    const Pid pid = child.handle.pid();
    Reference monitor = self.monitor(pid);
    Timer timer;
    if (child.spec.shutdown == brutal_kill) {
        self.exit(pid, Term(atoms::kill));
    } else {
        self.exit(pid, Term(atoms::shutdown));
        if (child.spec.shutdown != shutdown_infinity)
            timer = send_after(self, child.spec.shutdown, tuple(timeout_atom(), monitor));
    }
    stopping_->active.emplace(monitor, Stopping::Active{child.spec.id, pid, std::move(timer)});
}

bool Supervisor::shutdown_progress(const ProcessHandle& self, const Term& message) {
    auto& s = *stopping_;
    if (message.is_tuple(2) && message[0].is_atom(timeout_atom())) {
        auto monitor = message[1].to<Reference>();
        auto it = monitor ? s.active.find(*monitor) : s.active.end();
        if (it == s.active.end()) return false;
        log(self, LogLevel::warning,
            label(self) + ": child " + it->second.id +
                " did not stop within its shutdown time: killed");
        self.exit(it->second.pid, Term(atoms::kill));
        return true;
    }
    if (!(message.is_tuple(5) && message[0].is_atom(atoms::DOWN))) return false;
    auto monitor = message[1].to<Reference>();
    auto it = monitor ? s.active.find(*monitor) : s.active.end();
    if (it == s.active.end()) return false;
    Stopping::Active stopped = std::move(it->second);
    s.active.erase(it);
    stopped.timer.cancel();
    // After unlink, no 'EXIT' of this child can arrive any more; one that came already is
    // ignored, since the child no longer has this pid.
    self.unlink(stopped.pid);
    const Term& reason = message[4];
    if (auto index = index_of(stopped.id)) {
        Child& child = children_[*index];
        const bool expected = reason.is_atom(atoms::shutdown) || reason.is_atom(atoms::killed) ||
                              (child.spec.restart != Restart::permanent && clean_exit(reason));
        if (!expected)
            log(self, LogLevel::error,
                label(self) + ": child " + to_string(child.id) + " ended with " +
                    to_string(reason) + " while being shut down");
        forget_or_keep(*index);
    }
    stop_next(self);
    return true;
}

}  // namespace distribute::actor_detail
