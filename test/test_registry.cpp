// The registry on our own nodes: name checks, local and global registration and lookup, waiting
// for a name, typed lookups, and a standby taking over a global name. (Against BEAM nodes, and
// retries of a busy lock: interop/test_registry.cpp.)
#include <doctest/doctest.h>

#include <future>
#include <thread>

#include "distribute/registry.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

TEST_SUITE("registry") {
    TEST_CASE("names are checked: empty, too long and bad UTF-8 are refused with invalid_name") {
        CHECK(Registry::validate("fine").has_value());
        CHECK(Registry::validate(std::string(255, 'a')).has_value());
        for (std::string bad : {std::string(), std::string(256, 'a'), std::string("\xff\xfe")}) {
            auto checked = Registry::validate(bad);
            REQUIRE_FALSE(checked.has_value());
            CHECK(checked.error().code == RegistryErrc::invalid_name);
            CHECK_FALSE(checked.error().detail.empty());
        }
    }

    TEST_CASE("local and global names are registered, found and unregistered") {
        LocalNode n;
        Registry registry(n.node);
        Mailbox a = n.node.open_mailbox(), b = n.node.open_mailbox();
        for (NameScope scope : {NameScope::local, NameScope::global}) {
            CAPTURE(static_cast<int>(scope));
            REQUIRE(registry.register_name(scope, "svc", a.pid()).has_value());
            CHECK(registry.whereis(scope, "svc") == a.pid());
            auto taken = registry.register_name(scope, "svc", b.pid());
            REQUIRE_FALSE(taken.has_value());
            CHECK(taken.error().code == RegistryErrc::taken);
            CHECK_FALSE(taken.error().transient());
            CHECK(registry.unregister_name(scope, "svc"));
            CHECK_FALSE(registry.whereis(scope, "svc").has_value());
            CHECK_FALSE(registry.unregister_name(scope, "svc"));
        }
        // Local and global names are apart.
        REQUIRE(registry.register_name(NameScope::local, "only_here", a.pid()).has_value());
        CHECK_FALSE(registry.whereis(NameScope::global, "only_here").has_value());
        auto bad = registry.register_name(NameScope::local, "", a.pid());
        REQUIRE_FALSE(bad.has_value());
        CHECK(bad.error().code == RegistryErrc::invalid_name);
    }

    TEST_CASE("a dead process is refused with not_alive, and a final error is not retried") {
        LocalNode n;
        Registry registry(n.node);
        auto gone = std::make_unique<Mailbox>(n.node.open_mailbox());
        const Pid pid = gone->pid();
        gone.reset();
        unsigned attempts = 0;
        RetryPolicy policy{5, 1ms, 1ms, 1.0, Jitter::none};
        for (NameScope scope : {NameScope::local, NameScope::global}) {
            auto r = registry.register_name(scope, "ghost", pid, policy);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code == RegistryErrc::not_alive);
            ++attempts;
        }
        CHECK(attempts == 2);
    }

    TEST_CASE("await returns at once for a name that exists and when one appears later") {
        LocalNode n;
        Registry registry(n.node);
        for (NameScope scope : {NameScope::local, NameScope::global}) {
            CAPTURE(static_cast<int>(scope));
            Mailbox early = n.node.open_mailbox();
            REQUIRE(registry.register_name(scope, "early", early.pid()).has_value());
            auto now = registry.await(scope, "early", 1s);
            REQUIRE(now.has_value());
            CHECK(*now == early.pid());

            Mailbox late = n.node.open_mailbox();
            auto waiting =
                std::async(std::launch::async, [&] { return registry.await(scope, "late", 20s); });
            std::this_thread::sleep_for(100ms);
            REQUIRE(registry.register_name(scope, "late", late.pid()).has_value());
            auto got = waiting.get();
            REQUIRE(got.has_value());
            CHECK(*got == late.pid());

            auto none = registry.await(scope, "never", 100ms);
            REQUIRE_FALSE(none.has_value());
            CHECK(none.error().code == RegistryErrc::timeout);
            CHECK(registry.unregister_name(scope, "early"));
            CHECK(registry.unregister_name(scope, "late"));
        }
    }

    TEST_CASE("a typed lookup finds the subject its owner made for the name") {
        LocalNode n;
        Registry registry(n.node);
        Mailbox owner = n.node.open_mailbox();
        Subject<std::int64_t> mine = named_subject<std::int64_t>(owner, "counter");
        Subject<std::int64_t> other = make_subject<std::int64_t>(owner);
        REQUIRE(registry.register_name(NameScope::global, "counter", owner.pid()).has_value());
        auto found = registry.lookup<std::int64_t>(NameScope::global, "counter");
        REQUIRE(found.has_value());
        CHECK(*found == mine);
        CHECK_FALSE(*found == other);
        Mailbox sender = n.node.open_mailbox();
        REQUIRE(send(sender, *found, std::int64_t{41}).has_value());
        auto got = receive(owner, mine, 5s);
        REQUIRE(got.has_value());
        CHECK(*got == 41);
        CHECK_FALSE(registry.lookup<std::int64_t>(NameScope::local, "counter").has_value());
        CHECK(Registry::subject_tag(owner.pid(), "counter") ==
              Registry::subject_tag(owner.pid(), "counter"));
        CHECK_FALSE(Registry::subject_tag(owner.pid(), "counter") ==
                    Registry::subject_tag(owner.pid(), "other"));
    }

    TEST_CASE("a standby takes over a global name when its owner exits, and says so") {
        LocalNode n;
        Registry registry(n.node);
        auto owner = std::make_unique<Mailbox>(n.node.open_mailbox());
        Mailbox standby = n.node.open_mailbox();
        REQUIRE(registry.register_name(NameScope::global, "leader", owner->pid()).has_value());
        auto took = std::make_shared<std::promise<Pid>>();
        auto watch = Standby::start(n.node, "leader", standby.pid(),
                                    [took](const Pid& previous) { took->set_value(previous); });
        REQUIRE(watch.has_value());
        CHECK(watch->active());
        std::this_thread::sleep_for(100ms);
        CHECK(registry.whereis(NameScope::global, "leader") == owner->pid());
        const Pid old = owner->pid();
        owner.reset();
        auto previous = took->get_future();
        REQUIRE(previous.wait_for(20s) == std::future_status::ready);
        CHECK(previous.get() == old);
        CHECK(registry.whereis(NameScope::global, "leader") == standby.pid());
        watch->stop();
        CHECK_FALSE(watch->active());
    }

    TEST_CASE("a standby with no owner to wait for takes the name at once") {
        LocalNode n;
        Registry registry(n.node);
        Mailbox standby = n.node.open_mailbox();
        auto watch = Standby::start(n.node, "vacant", standby.pid());
        REQUIRE(watch.has_value());
        auto got = registry.await(NameScope::global, "vacant", 20s);
        REQUIRE(got.has_value());
        CHECK(*got == standby.pid());
    }
}
