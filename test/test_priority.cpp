// Priority messages (OTP 28): a priority alias takes priority messages and priority exit signals
// ahead of its process's ordinary messages, here and across two C++ nodes, where they travel as
// ALTACT_SIG_SEND. Interop with OTP 29 is in interop/test_releases.cpp.
#include <doctest/doctest.h>

#include <thread>

#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace std::chrono_literals;
using namespace distribute::testing;

namespace {

// Waits until `m` holds `n` messages; the bound only turns a hang into a failure.
void await_queued(const Mailbox& m, std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (m.queued() < n) {
        REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "messages did not arrive");
        std::this_thread::sleep_for(1ms);
    }
}

struct TwoNodes {
    std::uint16_t epmd_port = free_port();
    Node a = start_node(node_options(epmd_port, "prio_a", EpmdMode::embedded));
    Node b = start_node(node_options(epmd_port, "prio_b"));
};

}  // namespace

TEST_SUITE("priority messages") {
    TEST_CASE(
        "a priority message to a priority alias goes after earlier priority ones, before "
        "every ordinary one") {
        LocalNode n;
        Mailbox owner = n.node.open_mailbox();
        Mailbox sender = n.node.open_mailbox();
        const Reference alias = owner.priority_alias();
        sender.send(owner.pid(), Term(1));
        sender.send_priority(alias, Term("p1"_a));
        sender.send(owner.pid(), Term(2));
        sender.send_priority(alias, Term("p2"_a));
        CHECK(next_message(owner) == Term("p1"_a));
        CHECK(next_message(owner) == Term("p2"_a));
        CHECK(next_message(owner) == Term(1));
        CHECK(next_message(owner) == Term(2));
    }

    TEST_CASE("without the priority option, or to an ordinary alias, a message is ordinary") {
        LocalNode n;
        Mailbox owner = n.node.open_mailbox();
        Mailbox sender = n.node.open_mailbox();
        const Reference ordinary = owner.alias();
        const Reference priority = owner.priority_alias();
        sender.send(owner.pid(), Term(1));
        sender.send_priority(ordinary, Term(2));
        sender.send_alias(priority, Term(3));
        CHECK(next_message(owner) == Term(1));
        CHECK(next_message(owner) == Term(2));
        CHECK(next_message(owner) == Term(3));
    }

    TEST_CASE("a selective receive finds a priority message that lands ahead of what it scanned") {
        LocalNode n;
        Mailbox owner = n.node.open_mailbox();
        Mailbox sender = n.node.open_mailbox();
        const Reference alias = owner.priority_alias();
        sender.send(owner.pid(), Term(1));
        sender.send(owner.pid(), Term(2));
        std::thread late([&] {
            std::this_thread::sleep_for(100ms);
            sender.send_priority(alias, Term("wanted"_a));
        });
        auto got = owner.receive_if([](const Term& t) { return t.is_atom(); }, 10s);
        late.join();
        REQUIRE(got.has_value());
        CHECK(*got == Term("wanted"_a));
        CHECK(next_message(owner) == Term(1));
    }

    TEST_CASE(
        "an exit signal through an alias ends the process; trapped and priority, it comes "
        "first") {
        LocalNode n;
        Mailbox sender = n.node.open_mailbox();
        Mailbox plain = n.node.open_mailbox();
        Mailbox watcher = n.node.open_mailbox();
        const Reference watched = watcher.monitor(plain.pid());
        sender.exit(plain.alias(), Term("bye"_a));
        CHECK(next_message(watcher) ==
              tuple(atoms::DOWN, watched, atoms::process, plain.pid(), "bye"_a));

        Mailbox trapper = n.node.open_mailbox();
        trapper.trap_exit(true);
        const Reference alias = trapper.priority_alias();
        sender.send(trapper.pid(), Term(1));
        sender.exit(alias, Term("urgent"_a), true);
        CHECK(next_message(trapper) == tuple(atoms::EXIT, sender.pid(), "urgent"_a));
        CHECK(next_message(trapper) == Term(1));
    }

    TEST_CASE(
        "between two C++ nodes a priority message overtakes the ordinary ones queued before "
        "it") {
        TwoNodes t;
        Mailbox rx = t.b.open_mailbox();
        Mailbox tx = t.a.open_mailbox();
        const Reference alias = rx.priority_alias();
        REQUIRE(t.a.connect(t.b.name()).has_value());
        for (int i = 0; i < 3; ++i)
            tx.send(rx.pid(), Term(i));
        tx.send_priority(alias, Term("urgent"_a));
        tx.send_alias(alias, Term("plain"_a));
        await_queued(rx, 5);
        CHECK(next_message(rx) == Term("urgent"_a));
        for (int i = 0; i < 3; ++i)
            CHECK(next_message(rx) == Term(i));
        CHECK(next_message(rx) == Term("plain"_a));
    }

    TEST_CASE(
        "between two C++ nodes a priority exit through an alias reaches a trapping process "
        "first") {
        TwoNodes t;
        Mailbox rx = t.b.open_mailbox();
        rx.trap_exit(true);
        Mailbox tx = t.a.open_mailbox();
        const Reference alias = rx.priority_alias();
        tx.send(rx.pid(), Term("first"_a));
        tx.exit(alias, Term("urgent"_a), true);
        await_queued(rx, 2);
        CHECK(next_message(rx) == tuple(atoms::EXIT, tx.pid(), "urgent"_a));
        CHECK(next_message(rx) == Term("first"_a));
        // Once unaliased, neither a message nor an exit signal reaches it through the alias.
        CHECK(rx.unalias(alias));
        tx.exit(alias, Term("late"_a), true);
        tx.send_priority(alias, Term("late"_a));
        tx.send(rx.pid(), Term("last"_a));
        CHECK(next_message(rx) == Term("last"_a));
        CHECK(rx.queued() == 0);
    }
}
