// The ordered shutdown of children, as supervisor:shutdown/1 does it for each child in turn: a
// monitor, exit(Child, shutdown) (or kill for brutal_kill), then wait for the 'DOWN'; when the
// child's shutdown time passes first, exit(Child, kill) and wait again. The waits are messages:
// a timer posts the timeout, and the handler returns to the node between steps.
#include "actor/process_start.hpp"
#include "actor/supervisor_core.hpp"

namespace distribute::actor_detail {

namespace {

const Atom& timeout_atom() {
    static const Atom a = Atom::make("$supervisor_shutdown_timeout").value();
    return a;
}

}  // namespace

void Supervisor::stop_children(const ProcessHandle& self, std::vector<std::string> ids, Then then) {
    stopping_.emplace();
    stopping_->left.assign(ids.begin(), ids.end());
    stopping_->then = std::move(then);
    stop_next(self);
}

void Supervisor::stop_next(const ProcessHandle& self) {
    auto& s = *stopping_;
    while (!s.left.empty()) {
        std::string id = std::move(s.left.front());
        s.left.pop_front();
        auto index = index_of(id);
        if (!index) continue;
        Child& child = children_[*index];
        if (!child.running()) {
            child.restarting = false;
            if (child.spec.restart == Restart::temporary)
                children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(*index));
            continue;
        }
        s.active = true;
        s.id = id;
        s.pid = child.handle.pid();
        s.monitor = self.monitor(s.pid);
        if (child.spec.shutdown == brutal_kill) {
            self.exit(s.pid, Term(atoms::kill));
        } else {
            self.exit(s.pid, Term(atoms::shutdown));
            if (child.spec.shutdown != shutdown_infinity)
                s.timer = send_after(self, child.spec.shutdown, tuple(timeout_atom(), s.monitor));
        }
        return;  // the 'DOWN' (or the timeout) comes as a message
    }
    Then then = std::move(s.then);
    stopping_.reset();
    then(self);
}

bool Supervisor::shutdown_progress(const ProcessHandle& self, const Term& message) {
    auto& s = *stopping_;
    if (!s.active) return false;
    if (message.is_tuple(2) && message[0].is_atom(timeout_atom()) &&
        message[1] == Term(s.monitor)) {
        log(self, LogLevel::warning,
            label(self) + ": child " + s.id + " did not stop within its shutdown time: killed");
        self.exit(s.pid, Term(atoms::kill));
        return true;
    }
    if (!(message.is_tuple(5) && message[0].is_atom(atoms::DOWN) && message[1] == Term(s.monitor)))
        return false;
    s.timer.cancel();
    // After unlink, no 'EXIT' of this child can arrive any more; one that came already is
    // ignored, since the child no longer has this pid.
    self.unlink(s.pid);
    const Term& reason = message[4];
    if (auto index = index_of(s.id)) {
        Child& child = children_[*index];
        const bool expected = reason.is_atom(atoms::shutdown) || reason.is_atom(atoms::killed) ||
                              (child.spec.restart != Restart::permanent && clean_exit(reason));
        if (!expected)
            log(self, LogLevel::error,
                label(self) + ": child " + s.id + " ended with " + to_string(reason) +
                    " while being shut down");
        child.handle = ProcessHandle();
        child.restarting = false;
        if (child.spec.restart == Restart::temporary)
            children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(*index));
    }
    s.active = false;
    stop_next(self);
    return true;
}

}  // namespace distribute::actor_detail
