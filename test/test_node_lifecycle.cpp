// What a program built around a node uses besides messages: Node::wait, the Down value of a
// monitor's message, and the counters of Node::stats.
#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <thread>

#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace std::chrono_literals;
using namespace distribute::testing;

namespace {

// The handler SIGINT has now.
void (*sigint_handler())(int) {
    struct sigaction now {};
    ::sigaction(SIGINT, nullptr, &now);
    return now.sa_handler;
}

}  // namespace

TEST_SUITE("node lifecycle") {
    TEST_CASE("wait returns 0 once stop() from another thread has finished") {
        LocalNode n;
        Mailbox m = n.node.open_mailbox();
        std::thread stopper([&] { n.node.stop(); });
        CHECK(n.node.wait() == 0);
        // Stopped, not stopping: the processes have ended already.
        CHECK(exited_with(m, 0ms) == Term(atoms::shutdown));
        stopper.join();
        CHECK(n.node.wait() == 0);  // and at once on a stopped node
    }

    TEST_CASE("SIGINT stops a node in wait, which returns the signal") {
        LocalNode n;
        Mailbox m = n.node.open_mailbox();
        const auto before = sigint_handler();
        std::thread signaller([&] {
            // Once wait has taken the signal over (its handler replaced the one before), a
            // SIGINT to the process no longer ends it but the node. If it never does, the node
            // is stopped instead, and wait returns 0.
            for (int i = 0; i < 2000 && sigint_handler() == before; ++i)
                std::this_thread::sleep_for(10ms);
            if (sigint_handler() != before)
                ::kill(::getpid(), SIGINT);
            else
                n.node.stop();
        });
        CHECK(n.node.wait() == SIGINT);
        signaller.join();
        CHECK(exited_with(m, 0ms) == Term(atoms::shutdown));
        ::signal(SIGINT, before);
    }

    TEST_CASE("Down reads a monitor's message, and receive_down waits for the one of a monitor") {
        LocalNode n;
        Mailbox watcher = n.node.open_mailbox();
        Mailbox first = n.node.open_mailbox();
        Mailbox second = n.node.open_mailbox();
        REQUIRE(n.node.register_name("second"_a, second.pid()).has_value());
        const Pid first_pid = first.pid();
        const Reference by_pid = watcher.monitor(first_pid);
        const Reference by_name = watcher.monitor("second"_a, n.node.name());
        watcher.send(watcher.pid(), Term("unrelated"_a));
        second.close(Term("later"_a));
        first.close(tuple("crash"_a, 1));

        auto down = receive_down(watcher, by_pid, 10s);
        REQUIRE(down.has_value());
        CHECK(down->ref == by_pid);
        CHECK(down->pid() == first_pid);
        CHECK(down->reason == tuple("crash"_a, 1));
        CHECK(down->to_term() ==
              tuple(atoms::DOWN, by_pid, atoms::process, first_pid, tuple("crash"_a, 1)));

        auto any = receive_down(watcher, 10s);
        REQUIRE(any.has_value());
        CHECK(any->ref == by_name);
        CHECK(any->object == tuple("second"_a, n.node.name()));
        CHECK_FALSE(any->pid().has_value());
        CHECK(any->reason == Term("later"_a));

        // The other message stayed queued; no DOWN is left.
        CHECK(next_message(watcher) == Term("unrelated"_a));
        CHECK(receive_down(watcher, 0ms).error().code == ReceiveErrc::timeout);
        CHECK_FALSE(Down::from_term(tuple(atoms::DOWN, by_pid, "port"_a, first_pid, Term())));
        CHECK_FALSE(Down::from_term(Term("DOWN"_a)));
    }

    TEST_CASE("stats count processes, names and atoms, and each connection's messages and bytes") {
        std::uint16_t epmd_port = free_port();
        // Hidden, so that only this test's messages cross (visible nodes also speak pg and
        // global).
        Node a = start_node(hidden_node_options(epmd_port, "stats_a", EpmdMode::embedded));
        Node b = start_node(hidden_node_options(epmd_port, "stats_b", EpmdMode::automatic));
        const NodeStats empty = a.stats();
        CHECK(empty.connections.empty());
        CHECK(empty.atoms > 0);

        Mailbox tx = a.open_mailbox();
        Mailbox rx = b.open_mailbox();
        REQUIRE(b.register_name("rx"_a, rx.pid()).has_value());
        CHECK(a.stats().processes == empty.processes + 1);
        CHECK(b.stats().registered_names >= 1);
        REQUIRE(a.ping(b.name()));
        // What the ping sent after its answer (its demonitor) is at b once this has arrived:
        // one connection keeps order.
        tx.send("rx"_a, b.name(), Term("settle"_a));
        CHECK(next_message(rx) == Term("settle"_a));

        const NodeStats a0 = a.stats();
        const NodeStats b0 = b.stats();
        REQUIRE(a0.connections.size() == 1);
        REQUIRE(b0.connections.size() == 1);
        CHECK(a0.connections[0].node == b.name());
        CHECK(a0.connections[0].hidden);
        CHECK(a0.connections[0].address.starts_with("127.0.0.1:"));
        for (int i = 0; i < 10; ++i)
            tx.send("rx"_a, b.name(), binary(std::string(100, 'x')));
        for (int i = 0; i < 10; ++i)
            next_message(rx);

        const ConnectionStats a1 = a.stats().connections.at(0);
        const ConnectionStats b1 = b.stats().connections.at(0);
        CHECK(a1.messages_out - a0.connections[0].messages_out == 10);
        CHECK(b1.messages_in - b0.connections[0].messages_in == 10);
        // Each frame: a length, the control tuple and the message, 100 bytes of it the binary.
        CHECK(a1.bytes_out - a0.connections[0].bytes_out > 10 * 104);
        CHECK(b1.bytes_in - b0.connections[0].bytes_in ==
              a1.bytes_out - a0.connections[0].bytes_out);
        CHECK(b1.since_last_received < 10s);
        CHECK(a1.queued_bytes < 1024 * 1024);

        // Gone connections leave their traffic in the node's totals.
        REQUIRE(a.disconnect(b.name()));
        eventually([&] { return a.stats().connections.empty(); });
        const NodeStats after = a.stats();
        CHECK(after.messages_out >= a1.messages_out);
        CHECK(after.bytes_out >= a1.bytes_out);
        CHECK(after.messages_in >= a1.messages_in);
    }
}
