// Processes written as C++20 coroutines. The body of such a process runs on the node's threads
// and suspends, holding no thread, wherever an Erlang process would wait in a receive: for a
// message (selectively, with a timeout), for a while, or for the answer of a call (rpc.hpp).
//
//   auto counter = spawn_coroutine(node, [](CoProcess self) -> Task<> {
//       std::int64_t n = 0;
//       for (;;) {
//           auto m = co_await self.receive(std::chrono::seconds(30));
//           if (!m) co_return;  // 30 s without a message: the process ends, normal
//           if (auto from = m->tagged<Pid>("next"_a)) self.send(std::get<0>(*from), Term(++n));
//       }
//   });
//
// A process runs one turn at a time, never two at once, so its coroutine needs no lock for its
// own state; a turn resumes it until it waits again, and after a bounded number of messages
// taken without waiting it yields its thread to the other processes. When the process ends
// (its body returns, it calls exit_self, or an exit signal it does not trap kills it) the
// coroutine is destroyed where it waits: the destructors of its locals run, no more of its code
// does, as no more code of a killed Erlang process runs. A body that returns ends the process
// with reason `normal`; an exception out of it ends it with {cpp_exception, <<"what()">>}.
//
// Why our own promise type rather than Boost.Asio's awaitable: Boost 1.74 (Debian 12) has no
// cancellation slots, so an asio::awaitable waiting on a process's mailbox could not be
// abandoned when the process is killed; our frames are owned by the process and destroyed by
// it. A wait must also resume on the process's own turn, serialised with its messages and
// counted against its budget, which a completion handler on the executor is not; and Asio's
// frames would add an executor hop to every receive.
#pragma once

#include <chrono>
#include <coroutine>
#include <exception>
#include <functional>
#include <optional>
#include <utility>
#include <variant>

#include "distribute/expected.hpp"
#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"
#include "distribute/term.hpp"

namespace distribute {

template <class T = void>
class Task;

namespace coroutine_detail {

// A coroutine (of this process) that awaits this one, resumed when it finishes.
struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <class Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> done) noexcept {
        auto next = done.promise().continuation;
        return next ? next : std::noop_coroutine();
    }
    void await_resume() noexcept {}
};

struct PromiseBase {
    std::coroutine_handle<> continuation;
    std::exception_ptr thrown;
    std::suspend_always initial_suspend() noexcept { return {}; }
    FinalAwaiter final_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { thrown = std::current_exception(); }
};

template <class T>
struct Promise : PromiseBase {
    std::optional<T> value;
    Task<T> get_return_object() noexcept;
    template <class U>
    void return_value(U&& v) {
        value.emplace(std::forward<U>(v));
    }
};

template <>
struct Promise<void> : PromiseBase {
    Task<void> get_return_object() noexcept;
    void return_void() noexcept {}
};

// What a suspended process waits for. It lives in the frame of the coroutine that waits, which
// the process resumes on one of its turns once a message is accepted or the deadline passed.
class Wait {
  public:
    explicit Wait(const ProcessHandle& self, std::chrono::steady_clock::time_point deadline =
                                                 std::chrono::steady_clock::time_point::max());
    Wait(const Wait&) = delete;
    Wait& operator=(const Wait&) = delete;
    virtual ~Wait() = default;

    // Whether `message` ends the wait; called with no lock held, on the process's turn.
    virtual bool accepts(const Term& message) = 0;

    bool await_ready();
    void await_suspend(std::coroutine_handle<> waiter);

  protected:
    // What ended the wait: the message, or nothing when the deadline passed first.
    std::optional<Term>& outcome() { return outcome_; }

  private:
    friend struct WaitAccess;
    // The waiting process, which owns the frame this lives in.
    node::Process* process_;
    std::chrono::steady_clock::time_point deadline_;
    std::optional<Term> outcome_;
    std::coroutine_handle<> waiter_;
};

std::chrono::steady_clock::time_point deadline_after(std::chrono::milliseconds timeout);

}  // namespace coroutine_detail

// A coroutine of a process: the body given to spawn_coroutine, or a helper it co_awaits (which
// runs in the same process, as a function an Erlang process calls). Lazy: it starts when
// awaited. Move-only; destroying it destroys the coroutine.
template <class T>
class [[nodiscard]] Task {
  public:
    using promise_type = coroutine_detail::Promise<T>;

    Task() = default;
    explicit Task(std::coroutine_handle<promise_type> handle) : handle_(handle) {}
    Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Task& operator=(Task&& other) noexcept {
        if (this != &other) {
            if (handle_) handle_.destroy();
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    ~Task() {
        if (handle_) handle_.destroy();
    }

    bool await_ready() const noexcept { return !handle_ || handle_.done(); }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
        handle_.promise().continuation = awaiting;
        return handle_;
    }
    T await_resume() {
        auto& promise = handle_.promise();
        if (promise.thrown) std::rethrow_exception(promise.thrown);
        if constexpr (!std::is_void_v<T>) return std::move(*promise.value);
    }

    // For the process that runs it.
    std::coroutine_handle<promise_type> handle() const { return handle_; }

  private:
    std::coroutine_handle<promise_type> handle_;
};

template <class T>
Task<T> coroutine_detail::Promise<T>::get_return_object() noexcept {
    return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> coroutine_detail::Promise<void>::get_return_object() noexcept {
    return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}

// co_await self.receive(timeout): the message, or ReceiveErrc::timeout.
class ReceiveAwaiter final : public coroutine_detail::Wait {
  public:
    ReceiveAwaiter(const ProcessHandle& self, std::function<bool(const Term&)> match,
                   std::chrono::milliseconds timeout)
        : Wait(self, coroutine_detail::deadline_after(timeout)), match_(std::move(match)) {}
    bool accepts(const Term& message) override { return !match_ || match_(message); }
    Expected<Term, ReceiveError> await_resume();

  private:
    std::function<bool(const Term&)> match_;
};

// co_await self.sleep(duration): nothing is received meanwhile; messages stay queued.
class SleepAwaiter final : public coroutine_detail::Wait {
  public:
    SleepAwaiter(const ProcessHandle& self, std::chrono::milliseconds duration)
        : Wait(self, coroutine_detail::deadline_after(duration)) {}
    bool accepts(const Term&) override { return false; }
    void await_resume() const noexcept {}
};

// The process a coroutine body runs as: a ProcessHandle (send, link, monitor...) that can also
// wait. Its waits may be awaited only by the coroutine of this process itself.
class CoProcess : public ProcessHandle {
  public:
    using ProcessHandle::ProcessHandle;

    // The oldest message; Expected holds ReceiveErrc::timeout when none came in time.
    [[nodiscard]] ReceiveAwaiter receive(
        std::chrono::milliseconds timeout = infinity_timeout) const {
        return ReceiveAwaiter(*this, {}, timeout);
    }
    // The oldest message `match` accepts; the others stay queued in order. `match` runs with no
    // lock held and may send, to this process as well.
    [[nodiscard]] ReceiveAwaiter receive_if(
        std::function<bool(const Term&)> match,
        std::chrono::milliseconds timeout = infinity_timeout) const {
        return ReceiveAwaiter(*this, std::move(match), timeout);
    }
    // timer:sleep/1.
    [[nodiscard]] SleepAwaiter sleep(std::chrono::milliseconds duration) const {
        return SleepAwaiter(*this, duration);
    }
};

using CoroutineBody = std::function<Task<>(CoProcess self)>;

// A process whose body is a coroutine, started on the node's threads; the body function is kept
// for the life of the process, so a lambda's captures stay valid in its coroutine.
ProcessHandle spawn_coroutine(Node& node, CoroutineBody body, bool trap_exit = false);
// The same on the node of `on_node_of` (any process of that node: from inside another process).
ProcessHandle spawn_coroutine(const ProcessHandle& on_node_of, CoroutineBody body,
                              bool trap_exit = false);

}  // namespace distribute
