// Coroutine processes: turns that resume the coroutine, waits that suspend it, a timer per process
// for the deadlines of its waits, and the coroutine's end with the process's.
#include "node/coroutine_process.hpp"

#include <stdexcept>

#include "node/access.hpp"
#include "node/runtime.hpp"

namespace distribute {

namespace node {

namespace {

// Waits a coroutine may finish without suspending in one turn before it yields its thread.
constexpr int coroutine_budget = 64;

}  // namespace

CoroutineProcess::CoroutineProcess(std::shared_ptr<Runtime> owner, Pid pid, CoroutineBody body,
                                   bool trap_exit)
    : Process(std::move(owner), pid, Kind::coroutine, trap_exit), body_(std::move(body)) {}

CoroutineProcess::~CoroutineProcess() {
    // Never started, or its node stopped before the turn that would have ended it ran.
    task_ = Task<>();
}

bool CoroutineProcess::turn() {
    budget_ = coroutine_budget;
    yield_ = false;
    if (!started_) {
        started_ = true;
        if (alive.load(std::memory_order_acquire)) {
            try {
                task_ = body_(CoProcess(shared_from_this()));
            } catch (...) {
                std::string what;
                Term reason = crash_reason(std::current_exception(), what);
                runtime.log(LogLevel::error,
                            "process " + to_string(Term(pid)) + " crashed: " + what);
                runtime.terminate(shared_from_this(), std::move(reason));
            }
            if (task_.handle()) resume(task_.handle());
        }
    } else if (waiting_ != nullptr) {
        bool expired;
        {
            std::lock_guard lock(mutex);
            seen.append(inbox);
            expired = expired_wait_ == wait_number_;
        }
        if (!alive.load(std::memory_order_acquire)) {
            release();
            return false;
        }
        Term message;
        auto& wait = *waiting_;
        if (seen.take_first(
                cursor_, [&](const Term& m) { return wait.accepts(m); }, message))
            waiting_outcome_->emplace(std::move(message));
        else if (expired)
            waiting_outcome_->reset();
        else
            return false;
        waiting_ = nullptr;
        if (timer_) timer_->cancel();
        resume(std::exchange(waiter_, nullptr));
    }
    if (!alive.load(std::memory_order_acquire)) {
        release();
        return false;
    }
    if (task_.handle() && task_.handle().done()) {
        finish();
        return false;
    }
    return yield_;
}

void CoroutineProcess::resume(std::coroutine_handle<> handle) {
    handle.resume();  // exceptions stay in the promises: the root's is looked at by finish()
}

void CoroutineProcess::finish() {
    Term reason(atoms::normal);
    if (auto thrown = task_.handle().promise().thrown) {
        std::string what;
        reason = crash_reason(thrown, what);
        runtime.log(LogLevel::error, "process " + to_string(Term(pid)) + " crashed: " + what);
    }
    runtime.terminate(shared_from_this(), std::move(reason));
    release();
}

void CoroutineProcess::release() {
    waiting_ = nullptr;
    waiter_ = nullptr;
    // The frame first: the destructors of its locals may use what the body captured.
    task_ = Task<>();
    body_ = nullptr;
    timer_.reset();
    seen.clear();
    released = true;
}

bool CoroutineProcess::ready(coroutine_detail::Wait& wait, std::optional<Term>& outcome) {
    cursor_ = LanedQueue::Cursor();
    if (!alive.load(std::memory_order_acquire)) return false;  // suspends, to be destroyed
    if (budget_ <= 0) {
        yield_ = true;  // the turn ends here; the next one looks at the queue
        return false;
    }
    --budget_;
    gather();
    Term message;
    if (seen.take_first(
            cursor_, [&](const Term& m) { return wait.accepts(m); }, message)) {
        outcome.emplace(std::move(message));
        return true;
    }
    return false;
}

void CoroutineProcess::suspend(coroutine_detail::Wait& wait, std::optional<Term>& outcome,
                               std::coroutine_handle<> waiter,
                               std::chrono::steady_clock::time_point deadline) {
    waiting_ = &wait;
    waiting_outcome_ = &outcome;
    waiter_ = waiter;
    ++wait_number_;
    if (deadline != std::chrono::steady_clock::time_point::max()) arm(deadline);
}

void CoroutineProcess::arm(std::chrono::steady_clock::time_point deadline) {
    if (!timer_) timer_ = std::make_unique<net::asio::steady_timer>(runtime.io());
    timer_->expires_at(deadline);
    timer_->async_wait(
        [weak = weak_from_this(), number = wait_number_](const boost::system::error_code& e) {
            if (e) return;
            auto process = weak.lock();
            if (!process) return;
            std::unique_lock lock(process->mutex);
            static_cast<CoroutineProcess&>(*process).expired_wait_ = number;
            process->wake(lock);
        });
}

}  // namespace node

// ---------------------------------------------------------------------------------------------
// The public side

namespace coroutine_detail {

namespace {
node::CoroutineProcess& coroutine_of(node::Process* process) {
    return static_cast<node::CoroutineProcess&>(*process);
}
}  // namespace

Wait::Wait(const ProcessHandle& self, std::chrono::steady_clock::time_point deadline)
    : process_(&node::Access::process(self)), deadline_(deadline) {
    if (process_->kind != node::Process::Kind::coroutine)
        throw std::logic_error("a coroutine wait made for a process that is not a coroutine");
}

bool Wait::await_ready() {
    if (coroutine_of(process_).ready(*this, outcome_)) return true;
    // Nothing queued that ends the wait: a deadline already past ends it now, unsuspended.
    if (deadline_ <= std::chrono::steady_clock::now() && process_->alive.load()) {
        outcome_.reset();
        return true;
    }
    return false;
}

void Wait::await_suspend(std::coroutine_handle<> waiter) {
    coroutine_of(process_).suspend(*this, outcome_, waiter, deadline_);
}

std::chrono::steady_clock::time_point deadline_after(std::chrono::milliseconds timeout) {
    if (timeout == infinity_timeout) return std::chrono::steady_clock::time_point::max();
    return std::chrono::steady_clock::now() + std::max(timeout, std::chrono::milliseconds(0));
}

}  // namespace coroutine_detail

Expected<Term, ReceiveError> ReceiveAwaiter::await_resume() {
    if (!outcome()) return unexpected(ReceiveError{ReceiveErrc::timeout, Term()});
    return std::move(*outcome());
}

namespace {

ProcessHandle start(std::shared_ptr<node::Runtime> runtime, CoroutineBody body, bool trap_exit) {
    const Pid pid = runtime->new_pid();
    auto& r = *runtime;
    auto process = r.admit(std::make_shared<node::CoroutineProcess>(std::move(runtime), pid,
                                                                    std::move(body), trap_exit));
    std::unique_lock lock(process->mutex);
    process->wake(lock);  // its first turn starts the body
    return ProcessHandle(std::move(process));
}

}  // namespace

ProcessHandle spawn_coroutine(Node& node, CoroutineBody body, bool trap_exit) {
    return start(node::Access::shared(node), std::move(body), trap_exit);
}

ProcessHandle spawn_coroutine(const ProcessHandle& on_node_of, CoroutineBody body, bool trap_exit) {
    return start(node::Access::process(on_node_of).owner, std::move(body), trap_exit);
}

}  // namespace distribute
