#include <doctest/doctest.h>

#include <array>
#include <future>
#include <random>
#include <thread>

#include "distribute/expected.hpp"
#include "distribute/retry.hpp"
#include "net/asio.hpp"

using namespace distribute;
using std::chrono::milliseconds;

namespace {

RandomSource seeded(std::uint64_t seed) {
    auto engine = std::make_shared<std::mt19937_64>(seed);
    return [engine] { return (*engine)(); };
}

RetryPolicy policy(unsigned attempts, long base, long cap, double multiplier, Jitter jitter) {
    return {attempts, milliseconds(base), milliseconds(cap), multiplier, jitter};
}

enum class Failure { transient, permanent };

}  // namespace

TEST_CASE("the presets carry the numbers of the seed library") {
    const auto d = RetryPolicy::default_policy();
    CHECK(d.max_attempts == 3);
    CHECK(d.base_delay == milliseconds(100));
    CHECK(d.max_delay == milliseconds(5000));
    CHECK(d.multiplier == 2.0);
    CHECK(d.jitter == Jitter::none);
    const auto dj = RetryPolicy::default_with_jitter();
    CHECK(dj.max_attempts == 3);
    CHECK(dj.base_delay == milliseconds(100));
    CHECK(dj.max_delay == milliseconds(5000));
    CHECK(dj.multiplier == 2.0);
    CHECK(dj.jitter == Jitter::full);
    const auto a = RetryPolicy::aggressive();
    CHECK(a.max_attempts == 5);
    CHECK(a.base_delay == milliseconds(50));
    CHECK(a.max_delay == milliseconds(3000));
    CHECK(a.multiplier == 2.0);
    CHECK(a.jitter == Jitter::full);
    const auto c = RetryPolicy::conservative();
    CHECK(c.max_attempts == 2);
    CHECK(c.base_delay == milliseconds(500));
    CHECK(c.max_delay == milliseconds(10000));
    CHECK(c.multiplier == 2.0);
    CHECK(c.jitter == Jitter::full);
    const auto n = RetryPolicy::no_retry();
    CHECK(n.max_attempts == 1);
    CHECK(n.jitter == Jitter::none);
}

TEST_CASE("the exponential delay doubles from the base and stops at the cap") {
    const auto p = RetryPolicy::default_policy();
    CHECK(Backoff::exponential(p, 1) == milliseconds(100));
    CHECK(Backoff::exponential(p, 2) == milliseconds(200));
    CHECK(Backoff::exponential(p, 3) == milliseconds(400));
    CHECK(Backoff::exponential(p, 6) == milliseconds(3200));
    CHECK(Backoff::exponential(p, 7) == milliseconds(5000));
    // No overflow however far it goes, even with a cap at the largest duration.
    CHECK(Backoff::exponential(p, 100000) == milliseconds(5000));
    const auto uncapped =
        policy(RetryPolicy::unlimited, 1, milliseconds::max().count(), 2.0, Jitter::none);
    CHECK(Backoff::exponential(uncapped, 10) == milliseconds(512));
    CHECK(Backoff::exponential(uncapped, 100000) == milliseconds::max());
}

TEST_CASE("a backoff allows max_attempts - 1 waits, then none") {
    Backoff b(RetryPolicy::default_policy());
    CHECK(b.next() == milliseconds(100));
    CHECK(b.next() == milliseconds(200));
    CHECK_FALSE(b.next().has_value());
    CHECK(b.attempts() == 3);
    Backoff none(RetryPolicy::no_retry());
    CHECK_FALSE(none.next().has_value());
}

TEST_CASE("an unlimited policy keeps allowing attempts at the capped delay") {
    Backoff b(policy(RetryPolicy::unlimited, 10, 80, 2.0, Jitter::none));
    std::optional<milliseconds> last;
    for (int i = 0; i < 1000; ++i)
        last = b.next();
    REQUIRE(last.has_value());
    CHECK(*last == milliseconds(80));
}

TEST_CASE("full jitter stays within [0, d] and averages d/2 with a fixed seed") {
    const auto p = policy(RetryPolicy::unlimited, 1000, 1000, 1.0, Jitter::full);
    Backoff b(p, seeded(42));
    double sum = 0;
    long low = 1000, high = 0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
        const auto d = b.next()->count();
        REQUIRE(d >= 0);
        REQUIRE(d <= 1000);
        sum += static_cast<double>(d);
        low = std::min(low, static_cast<long>(d));
        high = std::max(high, static_cast<long>(d));
    }
    CHECK(sum / n == doctest::Approx(500).epsilon(0.02));
    CHECK(low < 10);
    CHECK(high > 990);
}

TEST_CASE("full jitter spreads evenly: each tenth of [0, d] gets a tenth of the waits") {
    Backoff b(policy(RetryPolicy::unlimited, 999, 999, 1.0, Jitter::full), seeded(11));
    std::array<int, 10> buckets{};
    const int n = 50000;
    for (int i = 0; i < n; ++i)
        ++buckets[static_cast<std::size_t>(b.next()->count() / 100)];
    for (const int count : buckets)
        CHECK(count == doctest::Approx(n / 10).epsilon(0.05));
}

TEST_CASE("equal jitter stays within [d/2, d] and averages 3d/4 with a fixed seed") {
    Backoff b(policy(RetryPolicy::unlimited, 1000, 1000, 1.0, Jitter::equal), seeded(7));
    double sum = 0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
        const auto d = b.next()->count();
        REQUIRE(d >= 500);
        REQUIRE(d <= 1000);
        sum += static_cast<double>(d);
    }
    CHECK(sum / n == doctest::Approx(750).epsilon(0.02));
}

TEST_CASE("decorrelated jitter draws from [base, previous * 3] and never passes the cap") {
    const auto p = policy(RetryPolicy::unlimited, 100, 5000, 2.0, Jitter::decorrelated);
    Backoff b(p, seeded(2024));
    long previous = 100;
    bool reached_cap_region = false;
    for (int i = 0; i < 5000; ++i) {
        const long d = static_cast<long>(b.next()->count());
        REQUIRE(d >= 100);
        REQUIRE(d <= std::min(5000L, previous * 3));
        if (d > 2500) reached_cap_region = true;
        previous = d;
    }
    CHECK(reached_cap_region);
}

TEST_CASE("decorrelated jitter starts from [base, base * 3] and survives a cap at the maximum") {
    const auto p = policy(RetryPolicy::unlimited, 100, 5000, 2.0, Jitter::decorrelated);
    for (std::uint64_t seed = 0; seed < 200; ++seed) {
        Backoff b(p, seeded(seed));
        const auto first = b.next()->count();
        REQUIRE(first >= 100);
        REQUIRE(first <= 300);
    }
    Backoff huge(
        policy(RetryPolicy::unlimited, 1, milliseconds::max().count(), 2.0, Jitter::decorrelated),
        seeded(3));
    for (int i = 0; i < 200; ++i)
        REQUIRE(huge.next()->count() >= 1);
}

TEST_CASE("the same seed gives the same jittered delays") {
    const auto p = policy(10, 100, 5000, 2.0, Jitter::full);
    Backoff a(p, seeded(99)), b(p, seeded(99));
    for (int i = 0; i < 9; ++i)
        CHECK(a.next() == b.next());
}

TEST_CASE("retry_sync retries transient errors until one attempt succeeds") {
    int calls = 0;
    std::vector<unsigned> observed;
    RetryHooks hooks;
    hooks.on_retry = [&](unsigned attempt, milliseconds) { observed.push_back(attempt); };
    auto result = retry_sync(
        policy(5, 1, 2, 2.0, Jitter::none),
        [&]() -> Expected<int, Failure> {
            if (++calls < 3) return unexpected(Failure::transient);
            return 42;
        },
        [](Failure f) { return f == Failure::transient; }, {}, hooks);
    REQUIRE(result.has_value());
    CHECK(*result == 42);
    CHECK(calls == 3);
    CHECK(observed == std::vector<unsigned>{2, 3});
}

TEST_CASE("retry_sync stops at the first error not marked transient") {
    int calls = 0;
    auto result = retry_sync(
        policy(5, 1, 2, 2.0, Jitter::none),
        [&]() -> Expected<int, Failure> {
            ++calls;
            return unexpected(Failure::permanent);
        },
        [](Failure f) { return f == Failure::transient; });
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error() == Failure::permanent);
    CHECK(calls == 1);
}

TEST_CASE("retry_sync returns the last error when the attempts run out") {
    int calls = 0;
    auto result = retry_sync(
        policy(4, 1, 1, 1.0, Jitter::none),
        [&]() -> Expected<int, Failure> {
            ++calls;
            return unexpected(Failure::transient);
        },
        [](Failure) { return true; });
    CHECK_FALSE(result.has_value());
    CHECK(calls == 4);
}

TEST_CASE("retry_sync gives up during a wait once a stop is requested") {
    std::stop_source stop;
    int calls = 0;
    RetryHooks hooks;
    hooks.on_retry = [&](unsigned, milliseconds) { stop.request_stop(); };
    // An hour-long wait: the test only finishes because the stop ends it.
    auto result = retry_sync(
        policy(3, 3600000, 3600000, 1.0, Jitter::none),
        [&]() -> Expected<int, Failure> {
            ++calls;
            return unexpected(Failure::transient);
        },
        [](Failure) { return true; }, stop.get_token(), hooks);
    CHECK_FALSE(result.has_value());
    CHECK(calls == 1);
}

TEST_CASE("retry_sync wakes from a wait when another thread requests a stop") {
    std::stop_source stop;
    std::promise<void> waiting;
    RetryHooks hooks;
    hooks.on_retry = [&](unsigned, milliseconds) { waiting.set_value(); };
    std::thread stopper([&] {
        waiting.get_future().wait();
        stop.request_stop();
    });
    int calls = 0;
    // An hour-long wait: the test only finishes because the stop ends it.
    auto result = retry_sync(
        policy(3, 3600000, 3600000, 1.0, Jitter::none),
        [&]() -> Expected<int, Failure> {
            ++calls;
            return unexpected(Failure::transient);
        },
        [](Failure) { return true; }, stop.get_token(), hooks);
    stopper.join();
    CHECK_FALSE(result.has_value());
    CHECK(calls == 1);
}

TEST_CASE("the retry helpers take their jitter from the injected random source") {
    const auto p = policy(6, 1, 20, 2.0, Jitter::full);
    std::vector<milliseconds> expected;
    Backoff reference(p, seeded(5));
    while (auto d = reference.next())
        expected.push_back(*d);

    std::vector<milliseconds> sync_waits;
    RetryHooks sync_hooks{seeded(5), [&](unsigned, milliseconds d) { sync_waits.push_back(d); }};
    (void)retry_sync(
        p, []() -> Expected<int, Failure> { return unexpected(Failure::transient); },
        [](Failure) { return true; }, {}, sync_hooks);
    CHECK(sync_waits == expected);

    net::asio::io_context io;
    std::vector<milliseconds> async_waits;
    async_retry(
        io, p, [](auto done) { done(std::make_error_code(std::errc::timed_out)); },
        [](const std::error_code&) { return true; }, [](std::error_code) {},
        {seeded(5), [&](unsigned, milliseconds d) { async_waits.push_back(d); }});
    io.run();
    CHECK(async_waits == expected);
}

TEST_CASE("async_retry runs attempts on the io_context until one succeeds") {
    net::asio::io_context io;
    int calls = 0;
    std::optional<std::error_code> outcome;
    auto handle = async_retry(
        io, policy(5, 1, 2, 2.0, Jitter::full),
        [&](auto done) {
            ++calls;
            done(calls < 3 ? std::make_error_code(std::errc::connection_refused)
                           : std::error_code());
        },
        [](const std::error_code& ec) { return ec == std::errc::connection_refused; },
        [&](std::error_code ec) { outcome = ec; }, {seeded(1), {}});
    io.run();
    REQUIRE(outcome.has_value());
    CHECK_FALSE(*outcome);
    CHECK(calls == 3);
}

TEST_CASE(
    "async_retry reports a permanent error after one attempt and the last transient one "
    "when the policy runs out") {
    net::asio::io_context io;
    int calls = 0;
    std::optional<std::error_code> permanent, exhausted;
    async_retry(
        io, policy(5, 1, 1, 1.0, Jitter::none),
        [&](auto done) {
            ++calls;
            done(std::make_error_code(std::errc::permission_denied));
        },
        [](const std::error_code& ec) { return ec == std::errc::connection_refused; },
        [&](std::error_code ec) { permanent = ec; });
    io.run();
    CHECK(calls == 1);
    CHECK(permanent == std::make_error_code(std::errc::permission_denied));

    io.restart();
    calls = 0;
    async_retry(
        io, policy(3, 1, 1, 1.0, Jitter::none),
        [&](auto done) {
            ++calls;
            done(std::make_error_code(std::errc::connection_refused));
        },
        [](const std::error_code&) { return true; }, [&](std::error_code ec) { exhausted = ec; });
    io.run();
    CHECK(calls == 3);
    CHECK(exhausted == std::make_error_code(std::errc::connection_refused));
}

TEST_CASE("cancelling an async_retry ends its wait and completes with operation_canceled") {
    net::asio::io_context io;
    std::optional<std::error_code> outcome;
    RetryHandle handle;
    RetryHooks hooks;
    hooks.on_retry = [&](unsigned, milliseconds) { handle.cancel(); };
    handle = async_retry(
        io, policy(3, 3600000, 3600000, 1.0, Jitter::none),
        [](auto done) { done(std::make_error_code(std::errc::timed_out)); },
        [](const std::error_code&) { return true; }, [&](std::error_code ec) { outcome = ec; },
        hooks);
    io.run();  // returns only because the hour-long wait was cancelled
    REQUIRE(outcome.has_value());
    CHECK(*outcome == std::make_error_code(std::errc::operation_canceled));
}

TEST_CASE(
    "cancelling during an attempt completes once with operation_canceled and drops the "
    "attempt's late result") {
    net::asio::io_context io;
    std::function<void(std::error_code)> in_flight;
    int completions = 0;
    std::optional<std::error_code> outcome;
    auto handle = async_retry(
        io, policy(3, 1, 1, 1.0, Jitter::none), [&](auto done) { in_flight = std::move(done); },
        [](const std::error_code&) { return true; },
        [&](std::error_code ec) {
            ++completions;
            outcome = ec;
        });
    io.run();  // the first attempt has started and waits for its outcome
    REQUIRE(in_flight);
    handle.cancel();
    io.restart();
    io.run();
    in_flight({});  // the attempt succeeds, too late
    io.restart();
    io.run();
    CHECK(completions == 1);
    REQUIRE(outcome.has_value());
    CHECK(*outcome == std::make_error_code(std::errc::operation_canceled));
}
