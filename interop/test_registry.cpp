// The registry against real erl nodes: names registered through it found by erl, erl's names
// awaited here, a registration retried while an erl node holds the cluster-wide lock, and a
// standby taking over a name whose owner's node goes down.
#include <doctest/doctest.h>

#include <future>

#include "distribute/registry.hpp"
#include "membership_support.hpp"

using namespace distribute;
using namespace distribute::testing;

TEST_CASE("registry names are found by erl, and erl's names are awaited until they appear") {
    Membership m(2);
    INFO(m.log.text());
    Registry registry(*m.node);
    Mailbox ours = m.node->open_mailbox();
    REQUIRE(registry.register_name(NameScope::global, "reg_cpp", ours.pid()).has_value());
    CHECK(m.value(1, "global:whereis_name(reg_cpp)") == Term(ours.pid()));
    auto waiting = std::async(std::launch::async,
                              [&] { return registry.await(NameScope::global, "reg_erl", 30s); });
    const Pid theirs =
        m.pid(0, "begin P = " + std::string(erl_forwarder) +
                     ", timer:sleep(200), yes = global:register_name(reg_erl, P), P end");
    auto got = waiting.get();
    REQUIRE(got.has_value());
    CHECK(*got == theirs);
}

TEST_CASE("a registration retries while an erl node holds the global lock, and then succeeds") {
    Membership m(1);
    INFO(m.log.text());
    Registry registry(*m.node);
    // global's own lock resource, held by an erl process on every node: registrations wait.
    CHECK(m.erls[0]->eval("global:set_lock({global, blocker}, [node() | nodes()])") == "true");
    std::atomic<unsigned> attempts{0};
    Mailbox ours = m.node->open_mailbox();
    auto registering = std::async(std::launch::async, [&] {
        RetryPolicy policy{4, 500ms, 1s, 2.0, Jitter::none};
        return retry_sync(
            policy,
            [&] {
                ++attempts;
                return registry.register_name(NameScope::global, "patient", ours.pid(),
                                              RetryPolicy::no_retry());
            },
            [](const RegistryError& e) { return e.transient(); });
    });
    eventually([&] { return attempts.load() >= 2; }, 30s);  // the first one came back busy
    CHECK(m.erls[0]->eval("global:del_lock({global, blocker}, [node() | nodes()])") == "true");
    auto done = registering.get();
    REQUIRE_MESSAGE(done.has_value(), done.error().detail);
    CHECK(m.value(0, "global:whereis_name(patient)") == Term(ours.pid()));

    // The registry's own policy form: a taken name is final, however many attempts it allows.
    Mailbox other = m.node->open_mailbox();
    auto taken = registry.register_name(NameScope::global, "patient", other.pid(),
                                        RetryPolicy{10, 1ms, 1ms, 1.0, Jitter::none});
    REQUIRE_FALSE(taken.has_value());
    CHECK(taken.error().code == RegistryErrc::taken);
}

TEST_CASE("a standby here takes over a name whose owner's erl node goes down") {
    Membership m(2);
    INFO(m.log.text());
    Registry registry(*m.node);
    const Pid owner = m.pid(1, "begin P = " + std::string(erl_forwarder) +
                                   ", yes = global:register_name(leader, P), P end");
    Mailbox standby = m.node->open_mailbox();
    auto took = std::make_shared<std::promise<Pid>>();
    auto watch = Standby::start(*m.node, "leader", standby.pid(),
                                [took](const Pid& previous) { took->set_value(previous); });
    REQUIRE(watch.has_value());
    m.erls[1].reset();  // the owner's node goes
    auto previous = took->get_future();
    REQUIRE(previous.wait_for(30s) == std::future_status::ready);
    CHECK(previous.get() == owner);
    CHECK(m.value(0, "global:whereis_name(leader)") == Term(standby.pid()));
    // A {global, leader} call now goes to the standby, never nowhere.
    CHECK(m.erls[0]->eval("begin global:send(leader, hello), ok end") == "ok");
    CHECK(next_message(standby) == Term("hello"_a));
}
