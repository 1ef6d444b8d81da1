// The coroutine kind of process (coroutine.hpp): its turns resume the body's coroutine where it
// waits, once a message it accepts has arrived or its deadline has passed. The process owns the
// coroutine and destroys it when it ends.
#pragma once

#include <memory>

#include "distribute/coroutine.hpp"
#include "net/asio.hpp"
#include "node/process.hpp"

namespace distribute::node {

class CoroutineProcess final : public Process {
  public:
    CoroutineProcess(std::shared_ptr<Runtime> owner, Pid pid, CoroutineBody body, bool trap_exit);
    ~CoroutineProcess() override;

    bool turn() override;

    // From the waits of its own coroutine, on its turn.
    // A message `wait` accepts is queued already (or the deadline passed): the coroutine goes on
    // without suspending, while its budget for this turn lasts.
    bool ready(coroutine_detail::Wait& wait, std::optional<Term>& outcome);
    void suspend(coroutine_detail::Wait& wait, std::optional<Term>& outcome,
                 std::coroutine_handle<> waiter, std::chrono::steady_clock::time_point deadline);

  private:
    void resume(std::coroutine_handle<> handle);
    // The coroutine returned or threw: the process ends with `normal` or the crash reason.
    void finish();
    // The process has ended: no more of its code runs.
    void release();
    void arm(std::chrono::steady_clock::time_point deadline);

    CoroutineBody body_;
    Task<> task_;
    bool started_ = false;
    int budget_ = 0;
    bool yield_ = false;
    coroutine_detail::Wait* waiting_ = nullptr;
    std::optional<Term>* waiting_outcome_ = nullptr;
    std::coroutine_handle<> waiter_;
    LanedQueue::Cursor cursor_;
    std::unique_ptr<net::asio::steady_timer> timer_;
    std::uint64_t wait_number_ = 0;   // the current wait, for the timer to name
    std::uint64_t expired_wait_ = 0;  // guarded by mutex: the wait whose deadline passed
};

}  // namespace distribute::node
