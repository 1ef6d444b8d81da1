// ProcessHandle and Mailbox: the public face of a process.
#include "distribute/mailbox.hpp"

#include "node/runtime.hpp"

namespace distribute {

ProcessHandle::ProcessHandle(std::shared_ptr<node::Process> process)
    : process_(std::move(process)) {}

const Pid& ProcessHandle::pid() const {
    return process_->pid;
}

Atom ProcessHandle::node_name() const {
    return process_->pid.node;
}

bool ProcessHandle::alive() const {
    std::lock_guard lock(process_->mutex);
    return process_->alive;
}

void ProcessHandle::send(const Pid& to, Term message) const {
    process_->runtime.send(*process_, to, std::move(message));
}

void ProcessHandle::send(Atom name, Term message) const {
    process_->runtime.send_named(*process_, name, process_->pid.node, std::move(message));
}

void ProcessHandle::send(Atom name, Atom node, Term message) const {
    process_->runtime.send_named(*process_, name, node, std::move(message));
}

void ProcessHandle::send_alias(const Reference& alias, Term message) const {
    process_->runtime.send_alias(*process_, alias, std::move(message));
}

void ProcessHandle::send_priority(const Reference& alias, Term message) const {
    process_->runtime.send_alias(*process_, alias, std::move(message), true);
}

void ProcessHandle::link(const Pid& other) const {
    process_->runtime.link(*process_, other);
}

void ProcessHandle::unlink(const Pid& other) const {
    process_->runtime.unlink(*process_, other);
}

Reference ProcessHandle::monitor(const Pid& target) const {
    return process_->runtime.monitor(*process_, target, target.node);
}

Reference ProcessHandle::monitor(Atom name, Atom node) const {
    return process_->runtime.monitor(*process_, name, node);
}

bool ProcessHandle::demonitor(const Reference& ref) const {
    return process_->runtime.demonitor(*process_, ref);
}

void ProcessHandle::exit(const Pid& target, Term reason) const {
    process_->runtime.exit2(*process_, target, std::move(reason));
}

void ProcessHandle::exit(const Reference& alias, Term reason, bool priority) const {
    process_->runtime.exit_alias(*process_, alias, std::move(reason), priority);
}

void ProcessHandle::exit_self(Term reason) const {
    process_->runtime.terminate(process_, std::move(reason));
}

void ProcessHandle::trap_exit(bool on) const {
    std::lock_guard lock(process_->mutex);
    process_->trap_exit = on;
}

Reference ProcessHandle::make_ref() const {
    return process_->runtime.make_ref();
}

Reference ProcessHandle::alias() const {
    return process_->runtime.make_alias(*process_);
}

Reference ProcessHandle::priority_alias() const {
    return process_->runtime.make_alias(*process_, true);
}

bool ProcessHandle::unalias(const Reference& alias) const {
    return process_->runtime.remove_alias(*process_, alias);
}

Mailbox::Mailbox(std::shared_ptr<node::Process> process) : ProcessHandle(std::move(process)) {}

Mailbox& Mailbox::operator=(Mailbox&& other) noexcept {
    if (this != &other) {
        if (process_) close();
        process_ = std::move(other.process_);
    }
    return *this;
}

Mailbox::~Mailbox() {
    if (process_) close();
}

void Mailbox::close(Term reason) {
    process_->runtime.terminate(process_, std::move(reason));
}

std::size_t Mailbox::queued() const {
    std::lock_guard lock(process_->mutex);
    return process_->queue.size();
}

Expected<Term, ReceiveError> Mailbox::receive(std::chrono::milliseconds timeout) {
    return receive_if({}, timeout);
}

Expected<Term, ReceiveError> Mailbox::receive_if(const std::function<bool(const Term&)>& match,
                                                 std::chrono::milliseconds timeout) {
    auto& p = *process_;
    const bool forever = timeout == infinity_timeout;
    const auto deadline = forever ? std::chrono::steady_clock::time_point::max()
                                  : std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(p.mutex);
    std::size_t scanned = 0;  // messages already refused by `match`
    std::uint64_t priority_seen = p.priority_arrivals;
    for (;;) {
        // A process ended by an exit signal handles no more messages, as on the BEAM.
        if (!p.alive) return unexpected(ReceiveError{ReceiveErrc::exited, p.exit_reason});
        // A priority message went in ahead of what was scanned: look again from the front.
        if (p.priority_arrivals != priority_seen) {
            priority_seen = p.priority_arrivals;
            scanned = 0;
        }
        for (; scanned < p.queue.size(); ++scanned) {
            if (!match || match(p.queue[scanned])) {
                Term found = std::move(p.queue[scanned]);
                p.queue.erase(p.queue.begin() + static_cast<std::ptrdiff_t>(scanned));
                if (scanned < p.priority_queued) --p.priority_queued;
                return found;
            }
        }
        if (forever) {
            p.arrived.wait(lock);
        } else if (p.arrived.wait_until(lock, deadline) == std::cv_status::timeout &&
                   scanned == p.queue.size() && p.alive) {
            return unexpected(ReceiveError{ReceiveErrc::timeout, Term()});
        }
    }
}

}  // namespace distribute
