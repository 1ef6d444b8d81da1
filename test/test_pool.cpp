// The generic resource pool: exact capacity, first-come first-served waiters, backpressure at
// once beyond the waiter limit, timeouts, health checks on checkout, idle eviction, closing, and
// 1,000 concurrent acquirers on real threads.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "distribute/pool.hpp"
#include "net/asio.hpp"
#include "waits.hpp"

using namespace distribute;
using testing::eventually;
using namespace std::chrono_literals;
namespace asio = distribute::net::asio;

namespace {

// An io_context run by `threads` threads until this goes.
struct Io {
    explicit Io(unsigned threads = 2) {
        for (unsigned i = 0; i < threads; ++i)
            runners.emplace_back([this] { io.run(); });
    }
    ~Io() {
        work.reset();
        for (auto& t : runners)
            t.join();
    }
    asio::io_context io;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{
        asio::make_work_guard(io)};
    std::vector<std::thread> runners;
};

// A resource that knows its serial number, and a factory counting what it made.
struct Resource {
    int serial = 0;
    bool healthy = true;
};

struct Factory {
    std::shared_ptr<std::atomic<int>> made = std::make_shared<std::atomic<int>>(0);
    std::shared_ptr<std::atomic<int>> destroyed = std::make_shared<std::atomic<int>>(0);
    Pool<Resource>::Factory create() const {
        return [made = made](auto done) { done(Resource{made->fetch_add(1) + 1, true}); };
    }
    Pool<Resource>::Destroy destroy() const {
        return [destroyed = destroyed](Resource&) { destroyed->fetch_add(1); };
    }
};

}  // namespace

TEST_CASE("exactly max_size leases are out at once; the next acquirer waits for a return") {
    Io io;
    Factory factory;
    Pool<Resource> pool(io.io, {.max_size = 3}, factory.create(), {}, factory.destroy());
    std::vector<Pool<Resource>::Lease> held;
    for (int i = 0; i < 3; ++i) {
        auto lease = pool.acquire();
        REQUIRE(lease.has_value());
        held.push_back(std::move(*lease));
    }
    CHECK(pool.stats().in_use == 3);
    CHECK(pool.stats().size == 3);

    auto fourth = std::async(std::launch::async, [&] { return pool.acquire(5s); });
    eventually([&] { return pool.stats().waiting == 1; });
    CHECK(fourth.wait_for(50ms) == std::future_status::timeout);
    CHECK(pool.stats().size == 3);  // no fourth resource was made
    const int returned = held[1]->serial;
    held.erase(held.begin() + 1);
    auto got = fourth.get();
    REQUIRE(got.has_value());
    CHECK((*got)->serial == returned);  // the returned one, not a new one
    CHECK(*factory.made == 3);
}

TEST_CASE("1,000 queued acquirers are served first come, first served") {
    Io io(1);  // one thread: callbacks run in the order the pool hands resources out
    Factory factory;
    Pool<Resource> pool(io.io, {.max_size = 4, .max_waiters = 1000}, factory.create());
    std::mutex mutex;
    std::vector<int> served;
    std::promise<void> all;
    for (int i = 0; i < 1000; ++i)
        pool.async_acquire([&, i](Expected<Pool<Resource>::Lease, PoolError> lease) {
            REQUIRE(lease.has_value());
            std::lock_guard lock(mutex);
            served.push_back(i);
            if (served.size() == 1000) all.set_value();
            // The lease goes back here, as the callback ends.
        });
    REQUIRE(all.get_future().wait_for(30s) == std::future_status::ready);
    std::vector<int> in_order(1000);
    for (int i = 0; i < 1000; ++i)
        in_order[i] = i;
    CHECK(served == in_order);
    CHECK(pool.stats().acquired == 1000);
    CHECK(*factory.made <= 4);
}

TEST_CASE("1,000 threads acquiring at once are all served, never more than max_size at once") {
    Io io;
    Factory factory;
    Pool<Resource> pool(io.io, {.max_size = 8, .max_waiters = 1000}, factory.create());
    std::atomic<int> holding{0};
    std::atomic<int> most{0};
    std::atomic<int> served{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 1000; ++i)
        threads.emplace_back([&] {
            auto lease = pool.acquire(60s);
            REQUIRE(lease.has_value());
            const int now = holding.fetch_add(1) + 1;
            int seen = most.load();
            while (now > seen && !most.compare_exchange_weak(seen, now)) {
            }
            std::this_thread::yield();
            holding.fetch_sub(1);
            served.fetch_add(1);
        });
    for (auto& t : threads)
        t.join();
    CHECK(served == 1000);
    CHECK(most <= 8);
    CHECK(*factory.made <= 8);
    const auto stats = pool.stats();
    CHECK(stats.acquired == 1000);
    CHECK(stats.timeouts == 0);
    CHECK(stats.rejected == 0);
    CHECK(stats.in_use == 0);
}

TEST_CASE("beyond max_waiters, 1,000 concurrent acquirers are refused at once: backpressure") {
    Io io;
    Factory factory;
    Pool<Resource> pool(io.io, {.max_size = 10, .max_waiters = 100}, factory.create());
    std::vector<Pool<Resource>::Lease> held;
    for (int i = 0; i < 10; ++i)
        held.push_back(std::move(pool.acquire().value()));

    std::atomic<int> overloaded{0};
    std::atomic<int> served{0};
    std::atomic<int> other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 1000; ++i)
        threads.emplace_back([&] {
            auto lease = pool.acquire(60s);
            if (lease)
                served.fetch_add(1);
            else if (lease.error().code == PoolErrc::overloaded)
                overloaded.fetch_add(1);
            else
                other.fetch_add(1);
        });
    // Every refusal came while the 10 leases were still held: it did not wait for a resource.
    eventually([&] { return overloaded.load() + static_cast<int>(pool.stats().waiting) == 1000; },
               60s);
    CHECK(overloaded == 900);
    CHECK(served == 0);
    CHECK(pool.stats().rejected == 900);
    held.clear();
    for (auto& t : threads)
        t.join();
    CHECK(served == 100);
    CHECK(other == 0);
    CHECK(pool.stats().size <= 10);
}

TEST_CASE("an acquirer that waits past its timeout gets timeout, and the others keep their place") {
    Io io;
    Factory factory;
    Pool<Resource> pool(io.io, {.max_size = 1}, factory.create());
    auto held = pool.acquire().value();
    auto quick = pool.acquire(30ms);
    REQUIRE_FALSE(quick.has_value());
    CHECK(quick.error().code == PoolErrc::timeout);
    CHECK(quick.error().detail == "no resource within 30 ms");
    CHECK(pool.stats().timeouts == 1);
    CHECK(pool.stats().waiting == 0);
}

TEST_CASE("a resource that fails its health check is closed and the acquirer gets another") {
    Io io;
    Factory factory;
    Pool<Resource> pool(
        io.io, {.max_size = 2}, factory.create(), [](Resource& r) { return r.healthy; },
        factory.destroy());
    {
        auto lease = pool.acquire().value();
        CHECK(lease->serial == 1);
        lease->healthy = false;  // it broke while in use; nobody said so
    }
    auto next = pool.acquire();
    REQUIRE(next.has_value());
    CHECK((*next)->serial == 2);
    CHECK(pool.stats().failed_checks == 1);
    eventually([&] { return *factory.destroyed == 1; });
}

TEST_CASE("a discarded lease is closed instead of returned") {
    Io io;
    Factory factory;
    Pool<Resource> pool(io.io, {.max_size = 2}, factory.create(), {}, factory.destroy());
    {
        auto lease = pool.acquire().value();
        lease.discard();
    }
    eventually([&] { return *factory.destroyed == 1; });
    CHECK(pool.stats().size == 0);
    CHECK(pool.acquire().value()->serial == 2);
}

TEST_CASE("idle resources are closed after the idle timeout, down to min_idle") {
    Io io;
    Factory factory;
    // Long enough that the four are still idle when counted, on a slow (sanitized, loaded) run.
    Pool<Resource> pool(io.io, {.max_size = 4, .idle_timeout = 500ms, .min_idle = 1},
                        factory.create(), {}, factory.destroy());
    {
        std::vector<Pool<Resource>::Lease> leases;
        for (int i = 0; i < 4; ++i)
            leases.push_back(std::move(pool.acquire().value()));
    }
    CHECK(pool.stats().idle == 4);
    eventually([&] { return pool.stats().idle == 1; });
    eventually([&] { return *factory.destroyed == 3; });
    CHECK(pool.stats().size == 1);
}

TEST_CASE("a factory that fails gives the waiter create_failed at once, not a timeout") {
    Io io;
    Pool<Resource> pool(io.io, {.max_size = 2}, [](auto done) {
        done(unexpected(PoolError{PoolErrc::create_failed, "database is down"}));
    });
    auto lease = pool.acquire(10s);
    REQUIRE_FALSE(lease.has_value());
    CHECK(lease.error().code == PoolErrc::create_failed);
    CHECK(lease.error().detail == "database is down");
    CHECK(pool.stats().create_failures == 1);
    CHECK(pool.stats().size == 0);
}

TEST_CASE("a factory that throws gives the waiter create_failed with what it threw") {
    Io io;
    Pool<Resource> pool(io.io, {.max_size = 1},
                        [](auto) -> void { throw std::runtime_error("no socket"); });
    auto lease = pool.acquire(10s);
    REQUIRE_FALSE(lease.has_value());
    CHECK(lease.error().code == PoolErrc::create_failed);
    CHECK(lease.error().detail == "the factory threw: no socket");
    CHECK(lease.error().to_string() ==
          "a resource could not be made: the factory threw: no socket");
}

TEST_CASE("closing a pool fails its waiters, and leases still out are closed when they return") {
    Io io;
    Factory factory;
    auto pool =
        std::make_unique<Pool<Resource>>(io.io, PoolOptions{.max_size = 1}, factory.create(),
                                         Pool<Resource>::Check{}, factory.destroy());
    auto held = pool->acquire().value();
    auto waiting = std::async(std::launch::async, [&] { return pool->acquire(10s); });
    eventually([&] { return pool->stats().waiting == 1; });
    pool->close();
    auto refused = waiting.get();
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == PoolErrc::closed);
    CHECK(pool->acquire().error().code == PoolErrc::closed);
    pool.reset();
    held.release();
    eventually([&] { return *factory.destroyed == 1; });
}
