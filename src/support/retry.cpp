// Backoff math and the asynchronous retry loop.
#include "distribute/retry.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <random>

#include "support/asio.hpp"

namespace distribute {

namespace asio = boost::asio;

namespace {

using std::chrono::milliseconds;

RandomSource default_random() {
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    return [engine] { return (*engine)(); };
}

}  // namespace

Backoff::Backoff(RetryPolicy policy, RandomSource random)
    : policy_(policy), random_(random ? std::move(random) : default_random()) {
    if (policy_.max_delay < policy_.base_delay) policy_.max_delay = policy_.base_delay;
    previous_ = policy_.base_delay;
}

milliseconds Backoff::exponential(const RetryPolicy& policy, unsigned retry) {
    const milliseconds cap = std::max(policy.max_delay, policy.base_delay);
    // pow saturates to infinity rather than overflowing. Past the cap, the cap itself: a cap near
    // milliseconds::max() rounds up as a double, and converting that back would overflow.
    const double grown = static_cast<double>(policy.base_delay.count()) *
                         std::pow(std::max(policy.multiplier, 1.0), retry - 1.0);
    if (grown >= static_cast<double>(cap.count())) return cap;
    return milliseconds(static_cast<milliseconds::rep>(grown));
}

milliseconds Backoff::uniform(milliseconds low, milliseconds high) {
    if (high <= low) return low;
    const auto span = static_cast<std::uint64_t>((high - low).count()) + 1;
    // Rejection sampling keeps every value equally likely.
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    std::uint64_t r = random_();
    while (r >= limit)
        r = random_();
    return low + milliseconds(static_cast<long long>(r % span));
}

std::optional<milliseconds> Backoff::next() {
    if (policy_.max_attempts != RetryPolicy::unlimited && attempts_ >= policy_.max_attempts)
        return std::nullopt;
    const unsigned retry = attempts_;
    if (attempts_ < UINT_MAX) ++attempts_;
    const milliseconds d = exponential(policy_, retry);
    milliseconds delay{0};
    switch (policy_.jitter) {
        case Jitter::none:
            delay = d;
            break;
        case Jitter::full:
            delay = uniform(milliseconds(0), d);
            break;
        case Jitter::equal:
            delay = d / 2 + uniform(milliseconds(0), d - d / 2);
            break;
        case Jitter::decorrelated: {
            // previous * 3, saturating rather than overflowing for a cap near milliseconds::max().
            const milliseconds upper =
                previous_ > milliseconds::max() / 3 ? milliseconds::max() : previous_ * 3;
            delay = std::min(policy_.max_delay, uniform(policy_.base_delay, upper));
            break;
        }
    }
    previous_ = delay;
    return delay;
}

struct RetryHandle::State : std::enable_shared_from_this<RetryHandle::State> {
    State(asio::io_context& io, const RetryPolicy& policy, RandomSource random)
        : strand(asio::make_strand(io)), timer(strand), backoff(policy, std::move(random)) {}

    void start_attempt() {
        const std::uint64_t generation = ++attempt_generation;
        attempt([self = shared_from_this(), generation](std::error_code ec) {
            asio::dispatch(self->strand,
                           [self, generation, ec] { self->attempt_done(generation, ec); });
        });
    }

    void attempt_done(std::uint64_t generation, std::error_code ec) {
        if (finished || generation != attempt_generation) return;
        if (!ec || !is_transient(ec)) return finish(ec);
        const auto delay = backoff.next();
        if (!delay) return finish(ec);
        if (on_retry) on_retry(backoff.attempts(), *delay);
        if (finished) return;  // the observer may have cancelled
        timer.expires_after(*delay);
        timer.async_wait([self = shared_from_this()](boost::system::error_code wait_ec) {
            if (self->finished || wait_ec) return;
            self->start_attempt();
        });
    }

    void finish(std::error_code ec) {
        if (finished) return;
        finished = true;
        timer.cancel();
        auto done = std::move(completion);
        if (done) done(ec);
        // The callables may hold their owner, which holds this run's handle: drop them to break
        // the cycle, after the handler that may be running one of them has returned.
        asio::post(strand, [self = shared_from_this()] {
            self->attempt = {};
            self->is_transient = {};
            self->on_retry = {};
        });
    }

    asio::strand<asio::io_context::executor_type> strand;
    asio::steady_timer timer;
    Backoff backoff;
    AsyncAttempt attempt;
    std::function<bool(const std::error_code&)> is_transient;
    std::function<void(std::error_code)> completion;
    RetryObserver on_retry;
    std::uint64_t attempt_generation = 0;
    bool finished = false;
};

void RetryHandle::cancel() {
    if (!state_) return;
    asio::dispatch(state_->strand, [state = state_] {
        state->finish(std::make_error_code(std::errc::operation_canceled));
    });
}

RetryHandle async_retry(asio::io_context& io, const RetryPolicy& policy, AsyncAttempt attempt,
                        std::function<bool(const std::error_code&)> is_transient,
                        std::function<void(std::error_code)> completion, RetryHooks hooks) {
    auto state = std::make_shared<RetryHandle::State>(io, policy, std::move(hooks.random));
    state->attempt = std::move(attempt);
    state->is_transient = std::move(is_transient);
    state->completion = std::move(completion);
    state->on_retry = std::move(hooks.on_retry);
    asio::post(state->strand, [state] { state->start_attempt(); });
    return RetryHandle(state);
}

}  // namespace distribute
