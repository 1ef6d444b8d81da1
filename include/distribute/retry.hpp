// Retry policies: how many times to try again, how long to wait between attempts, and how much
// randomness (jitter) to add so that many clients do not retry in lockstep. The delays are pure
// math (Backoff), and two helpers run work under a policy: a synchronous callable on the calling
// thread, and an asynchronous operation on an io_context. Only errors the caller marks as
// transient are retried; anything else ends the run at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <system_error>
#include <type_traits>
#include <utility>

namespace boost::asio {
class io_context;
}

namespace distribute {

enum class Jitter {
    none,          // exactly the exponential delay d
    full,          // uniform in [0, d]
    equal,         // d/2 plus uniform in [0, d/2]
    decorrelated,  // min(max_delay, uniform in [base_delay, previous * 3]): uses the last sleep
};

struct RetryPolicy {
    // Attempts in all, the first one included. `unlimited` (0) never gives up.
    static constexpr unsigned unlimited = 0;

    unsigned max_attempts = 3;
    std::chrono::milliseconds base_delay{100};
    std::chrono::milliseconds max_delay{5000};
    double multiplier = 2.0;
    Jitter jitter = Jitter::none;

    // 3 attempts, 100 ms doubling up to 5 s, no jitter.
    static RetryPolicy default_policy() { return {}; }
    // The default numbers with full jitter.
    static RetryPolicy default_with_jitter() { return {3, ms(100), ms(5000), 2.0, Jitter::full}; }
    // 5 attempts, 50 ms doubling up to 3 s, full jitter.
    static RetryPolicy aggressive() { return {5, ms(50), ms(3000), 2.0, Jitter::full}; }
    // 2 attempts, 500 ms doubling up to 10 s, full jitter.
    static RetryPolicy conservative() { return {2, ms(500), ms(10000), 2.0, Jitter::full}; }
    // One attempt, no waiting.
    static RetryPolicy no_retry() { return {1, ms(0), ms(0), 1.0, Jitter::none}; }

  private:
    static constexpr std::chrono::milliseconds ms(long n) { return std::chrono::milliseconds(n); }
};

// Uniformly distributed 64-bit values. Tests inject a seeded generator; the default one is
// seeded from std::random_device.
using RandomSource = std::function<std::uint64_t()>;

// The delays of one run of a policy, in order. Not thread-safe: one Backoff per run.
class Backoff {
  public:
    explicit Backoff(RetryPolicy policy, RandomSource random = {});

    // The wait before the next attempt, or nullopt when the policy allows no more attempts.
    // Call it once per failed attempt.
    std::optional<std::chrono::milliseconds> next();
    // Attempts that next() has allowed so far, the first one included.
    unsigned attempts() const { return attempts_; }
    const RetryPolicy& policy() const { return policy_; }
    // The un-jittered exponential delay before retry number `retry` (1 = after the first
    // failure): min(max_delay, base_delay * multiplier^(retry-1)).
    static std::chrono::milliseconds exponential(const RetryPolicy& policy, unsigned retry);

  private:
    // Uniform in [low, high] (inclusive) milliseconds.
    std::chrono::milliseconds uniform(std::chrono::milliseconds low,
                                      std::chrono::milliseconds high);

    RetryPolicy policy_;
    RandomSource random_;
    unsigned attempts_ = 1;
    std::chrono::milliseconds previous_{0};
};

// Observes a run: called before each wait with the attempt about to be made (2 = first retry).
using RetryObserver = std::function<void(unsigned next_attempt, std::chrono::milliseconds delay)>;

struct RetryHooks {
    RandomSource random;
    RetryObserver on_retry;
};

// Runs `attempt` until it succeeds, fails with an error `is_transient` rejects, the policy runs
// out, or `stop` is requested during a wait; returns the last result. `attempt` returns something
// that converts to bool (true = success) and has error(), such as Expected. The first attempt
// always runs.
template <class Attempt, class Transient>
std::invoke_result_t<Attempt&> retry_sync(const RetryPolicy& policy, Attempt attempt,
                                          Transient is_transient, std::stop_token stop = {},
                                          RetryHooks hooks = {}) {
    Backoff backoff(policy, std::move(hooks.random));
    std::mutex mutex;
    std::condition_variable_any wake;
    for (;;) {
        auto result = attempt();
        if (result || !is_transient(result.error())) return result;
        const auto delay = backoff.next();
        if (!delay) return result;
        if (hooks.on_retry) hooks.on_retry(backoff.attempts(), *delay);
        std::unique_lock lock(mutex);
        if (wake.wait_for(lock, stop, *delay, [] { return false; }) || stop.stop_requested())
            return result;
    }
}

// One attempt of an asynchronous operation: start it, and call `done` exactly once with its
// outcome (an empty error_code for success), from any thread.
using AsyncAttempt = std::function<void(std::function<void(std::error_code)> done)>;

// A running async_retry. cancel() stops it: a pending wait ends at once and the completion gets
// std::errc::operation_canceled; an attempt already in flight is left to finish, and its result is
// dropped. Safe to call from any thread, any number of times.
class RetryHandle {
  public:
    struct State;
    RetryHandle() = default;
    explicit RetryHandle(std::shared_ptr<State> state) : state_(std::move(state)) {}
    void cancel();

  private:
    std::shared_ptr<State> state_;
};

// Runs `attempt` on `io` under the policy, waiting with a steady timer between attempts, and
// calls `completion` once with the last outcome (or operation_canceled after cancel()). All
// callbacks run on `io`, one at a time.
RetryHandle async_retry(boost::asio::io_context& io, const RetryPolicy& policy,
                        AsyncAttempt attempt,
                        std::function<bool(const std::error_code&)> is_transient,
                        std::function<void(std::error_code)> completion, RetryHooks hooks = {});

}  // namespace distribute
