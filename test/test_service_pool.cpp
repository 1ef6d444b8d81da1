// Pools of processes between C++ nodes: actors behind one name (calls spread over the workers,
// a crashed worker restarted) and a call pool (calls in flight bounded, backpressure at once,
// servers whose node's breaker is open skipped). Against erl in interop/test_service_pool.cpp.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

#include "distribute/service_pool.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// Set by a test to let every `hold` call answer.
std::atomic<bool> holds_released{false};

// Answers `who` with its pid, {sleep, Ms} after sleeping, and `hold` once a test sets
// holds_released (it blocks a node thread meanwhile: it is a test); the cast `crash` ends it
// abnormally.
class Worker : public Actor {
  public:
    CallResult handle_call(const Term& request, From) override {
        if (request.is_atom("who"_a)) return Reply{Term(self().pid())};
        if (request.is_atom("hold"_a)) {
            while (!holds_released)
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            return Reply{Term("released"_a)};
        }
        if (auto nap = request.tagged<std::int64_t>("sleep"_a)) {
            std::this_thread::sleep_for(std::chrono::milliseconds(std::get<0>(*nap)));
            return Reply{Term("slept"_a)};
        }
        return Reply{tuple(atoms::error, request)};
    }
    HandleResult handle_cast(const Term& message) override {
        if (message.is_atom("crash"_a)) return Stop{Term("crashed"_a), std::nullopt};
        return NoReply{};
    }
};

std::unique_ptr<Actor> worker() {
    return std::make_unique<Worker>();
}

}  // namespace

TEST_CASE("calls to an actor pool's name spread over its workers, each answering its caller") {
    LocalNode t;
    auto pool = start_actor_pool(t.node, {.name = "workers"_a, .size = 4, .make = worker});
    REQUIRE(pool.has_value());
    eventually([&] { return pool->workers().size() == 4; });
    std::mutex mutex;
    std::set<Pid> answered_by;
    std::vector<std::thread> callers;
    for (int i = 0; i < 8; ++i)
        callers.emplace_back([&] {
            Mailbox me = t.node.open_mailbox();
            for (int k = 0; k < 10; ++k) {
                // Slow calls: the router sees queues and sends the next call elsewhere.
                auto slept = call(me, ServerRef("workers"_a), tuple("sleep"_a, 5), 10s);
                REQUIRE(slept.has_value());
                auto who = call(me, ServerRef("workers"_a), Term("who"_a), 10s);
                REQUIRE(who.has_value());
                std::lock_guard lock(mutex);
                answered_by.insert(who->to<Pid>().value());
            }
        });
    for (auto& c : callers)
        c.join();
    CHECK(answered_by.size() > 1);
    for (const Pid& pid : answered_by) {
        const auto workers = pool->workers();
        CHECK(std::find(workers.begin(), workers.end(), pid) != workers.end());
    }
    CHECK(pool->forwarded() == 160);
    CHECK(pool->dropped() == 0);
}

TEST_CASE("a worker of an actor pool that crashes is restarted and the pool keeps answering") {
    LocalNode t;
    auto pool = start_actor_pool(t.node, {.name = "crashy"_a, .size = 2, .make = worker});
    REQUIRE(pool.has_value());
    eventually([&] { return pool->workers().size() == 2; });
    const auto before = pool->workers();
    Mailbox me = t.node.open_mailbox();
    cast(me, ServerRef(before[0]), Term("crash"_a));
    eventually([&] {
        auto now = pool->workers();
        return now.size() == 2 && std::find(now.begin(), now.end(), before[0]) == now.end();
    });
    for (int i = 0; i < 4; ++i)
        CHECK(call(me, ServerRef("crashy"_a), Term("who"_a), 10s).has_value());
}

TEST_CASE("an actor pool needs a size, a factory and a free name") {
    LocalNode t;
    auto empty = start_actor_pool(t.node, {.name = "none"_a, .size = 0, .make = worker});
    REQUIRE_FALSE(empty.has_value());
    CHECK(empty.error().code == StartErrc::bad_options);
    Mailbox squatter = t.node.open_mailbox();
    REQUIRE(t.node.register_name("taken"_a, squatter.pid()).has_value());
    auto taken = start_actor_pool(t.node, {.name = "taken"_a, .size = 1, .make = worker});
    REQUIRE_FALSE(taken.has_value());
    CHECK(to_string(taken.error().reason).find("already_started") != std::string::npos);
}

TEST_CASE("a call pool bounds the calls in flight and refuses callers beyond its queue at once") {
    const auto epmd = free_port();
    Node a = start_node(node_options(epmd, "cp_a", EpmdMode::embedded));
    Node b = start_node(node_options(epmd, "cp_b"));
    auto server = start_actor_pool(b, {.name = "svc"_a, .size = 4, .make = worker});
    REQUIRE(server.has_value());
    CallPool calls(a, {.servers = {ServerRef("svc"_a, b.name())},
                       .pool = {.max_size = 2, .max_waiters = 3, .acquire_timeout = 30s}});
    holds_released = false;
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    const auto hold = [&] {
        threads.emplace_back([&] {
            if (calls.call(Term("hold"_a))) ok.fetch_add(1);
        });
    };
    // Two in flight first: an acquirer whose caller is still being made counts as waiting.
    hold();
    hold();
    eventually([&] { return calls.stats().in_use == 2; });
    for (int i = 0; i < 3; ++i)
        hold();
    eventually([&] { return calls.stats().waiting == 3; });
    // Two in flight, three waiting: the sixth is refused without waiting.
    auto refused = calls.call(Term("who"_a));
    holds_released = true;
    for (auto& t : threads)
        t.join();
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == CallPoolErrc::busy);
    CHECK(ok == 5);
    CHECK(calls.stats().size <= 2);
    CHECK(calls.stats().rejected == 1);
}

TEST_CASE("a call pool skips a server whose node's breaker opened, and calls the others") {
    const auto epmd = free_port();
    Node a = start_node(node_options(epmd, "cpb_a", EpmdMode::embedded));
    Node b = start_node(node_options(epmd, "cpb_b"));
    auto server = start_actor_pool(b, {.name = "svc"_a, .size = 1, .make = worker});
    REQUIRE(server.has_value());
    const Atom gone = Atom::make("gone_" + std::to_string(free_port()) + "@127.0.0.1").value();
    auto breakers = std::make_shared<PeerBreakers>(
        BreakerOptions{.failures_to_open = 1, .open_for = std::chrono::hours(1)});
    CallPool calls(a, {.servers = {ServerRef("svc"_a, gone), ServerRef("svc"_a, b.name())},
                       .call_timeout = 5s,
                       .breakers = breakers});
    int failed = 0;
    for (int i = 0; i < 6; ++i) {
        auto who = calls.call(Term("who"_a));
        if (!who) {
            ++failed;
            CHECK(who.error().code == CallPoolErrc::call_failed);
            CHECK(who.error().call->code == CallErrc::nodedown);
        }
    }
    CHECK(failed == 1);  // the first call to `gone` opened its breaker; the rest went to b
    CHECK(breakers->state(gone) == BreakerState::open);
    CHECK(breakers->state(b.name()) == BreakerState::closed);
}
