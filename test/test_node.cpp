// The node's local semantics, without erl: processes on one node and on two C++ nodes in this
// program (over loopback, with the embedded EPMD): message order, selective receive, links, exit
// signals, monitors, registered names, aliases, handler processes, and the options a node refuses.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <semaphore>
#include <thread>
#include <vector>

#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace std::chrono_literals;

namespace {

using namespace testing;

Term down(const Reference& ref, const Term& object, const Term& reason) {
    return tuple(atoms::DOWN, ref, atoms::process, object, reason);
}

}  // namespace

TEST_SUITE("node") {
    TEST_CASE("messages between two mailboxes of a node arrive in the order sent") {
        LocalNode n;
        Mailbox a = n.node.open_mailbox();
        Mailbox b = n.node.open_mailbox();
        for (int i = 0; i < 1000; ++i)
            a.send(b.pid(), Term(i));
        for (int i = 0; i < 1000; ++i)
            CHECK(next_message(b) == Term(i));
        CHECK(b.queued() == 0);
    }

    TEST_CASE("receive_if takes the first match and leaves the other messages queued in order") {
        LocalNode n;
        Mailbox m = n.node.open_mailbox();
        for (int i = 0; i < 10; ++i)
            m.send(m.pid(), Term(i));
        auto seven = m.receive_if([](const Term& t) { return t == Term(7); }, 1s);
        REQUIRE(seven.has_value());
        CHECK(*seven == Term(7));
        auto even = m.receive_if(
            [](const Term& t) { return t.to<std::int64_t>().value_or(1) % 2 == 0; }, 1s);
        REQUIRE(even.has_value());
        CHECK(*even == Term(0));
        CHECK(m.queued() == 8);
        for (int i : {1, 2, 3, 4, 5, 6, 8, 9})
            CHECK(next_message(m) == Term(i));

        // A match that arrives while receive_if waits is taken; a non-match stays behind.
        std::thread later([&, to = m.pid()] {
            Mailbox sender = n.node.open_mailbox();
            std::this_thread::sleep_for(20ms);
            sender.send(to, Term("skip"_a));
            sender.send(to, Term("take"_a));
        });
        auto take = m.receive_if([](const Term& t) { return t.is_atom("take"_a); }, 10s);
        later.join();
        REQUIRE(take.has_value());
        CHECK(next_message(m) == Term("skip"_a));
    }

    TEST_CASE("receive times out when nothing (that matches) arrives in time") {
        LocalNode n;
        Mailbox m = n.node.open_mailbox();
        auto nothing = m.receive(30ms);
        REQUIRE_FALSE(nothing.has_value());
        CHECK(nothing.error().code == ReceiveErrc::timeout);
        m.send(m.pid(), Term("other"_a));
        auto unmatched = m.receive_if([](const Term& t) { return t.is_atom("wanted"_a); }, 30ms);
        REQUIRE_FALSE(unmatched.has_value());
        CHECK(unmatched.error().code == ReceiveErrc::timeout);
        CHECK(m.queued() == 1);
        CHECK(m.alive());
    }

    TEST_CASE("a link to a dead local pid gives noproc: a message when trapping, else the end") {
        LocalNode n;
        Mailbox dead = n.node.open_mailbox();
        const Pid gone = dead.pid();
        dead.close();
        Mailbox trapper = n.node.open_mailbox();
        trapper.trap_exit(true);
        trapper.link(gone);
        CHECK(next_message(trapper) == tuple(atoms::EXIT, gone, atoms::noproc));
        Mailbox plain = n.node.open_mailbox();
        plain.link(gone);
        CHECK(exited_with(plain) == Term(atoms::noproc));
    }

    TEST_CASE(
        "a linked process's end: trapped as a message, else it ends the other; normal is "
        "ignored") {
        LocalNode n;
        Mailbox trapper = n.node.open_mailbox();
        trapper.trap_exit(true);
        Mailbox plain = n.node.open_mailbox();
        Mailbox calm = n.node.open_mailbox();
        {
            Mailbox doomed = n.node.open_mailbox();
            trapper.link(doomed.pid());
            plain.link(doomed.pid());
            const Pid p = doomed.pid();
            doomed.close(Term("boom"_a));
            CHECK(next_message(trapper) == tuple(atoms::EXIT, p, "boom"_a));
            CHECK(exited_with(plain) == Term("boom"_a));
        }
        {
            Mailbox quiet = n.node.open_mailbox();
            calm.link(quiet.pid());
            quiet.close();  // normal
            calm.send(calm.pid(), Term("still_here"_a));
            CHECK(next_message(calm) == Term("still_here"_a));
            CHECK(calm.alive());
        }
        // The trapper learns of the plain one's end, which it was not linked to: nothing.
        CHECK(trapper.queued() == 0);
    }

    TEST_CASE(
        "exit/2: trapped as a message; kill cannot be trapped; normal is ignored unless sent "
        "to oneself") {
        LocalNode n;
        Mailbox sender = n.node.open_mailbox();
        Mailbox trapper = n.node.open_mailbox();
        trapper.trap_exit(true);
        sender.exit(trapper.pid(), Term("soft"_a));
        CHECK(next_message(trapper) == tuple(atoms::EXIT, sender.pid(), "soft"_a));
        sender.exit(trapper.pid(), Term(atoms::normal));
        CHECK(next_message(trapper) == tuple(atoms::EXIT, sender.pid(), atoms::normal));
        sender.exit(trapper.pid(), Term(atoms::kill));
        CHECK(exited_with(trapper) == Term(atoms::killed));

        Mailbox plain = n.node.open_mailbox();
        sender.exit(plain.pid(), Term(atoms::normal));
        sender.send(plain.pid(), Term("after"_a));
        CHECK(next_message(plain) == Term("after"_a));
        CHECK(plain.alive());
        sender.exit(plain.pid(), Term("hard"_a));
        CHECK(exited_with(plain) == Term("hard"_a));

        // A process killed by kill tells its links `killed`.
        Mailbox watcher = n.node.open_mailbox();
        watcher.trap_exit(true);
        Mailbox victim = n.node.open_mailbox();
        watcher.link(victim.pid());
        sender.exit(victim.pid(), Term(atoms::kill));
        CHECK(next_message(watcher) == tuple(atoms::EXIT, victim.pid(), atoms::killed));

        // exit(self(), normal) ends the caller, even a non-trapping one.
        Mailbox self = n.node.open_mailbox();
        self.exit(self.pid(), Term(atoms::normal));
        CHECK(exited_with(self) == Term(atoms::normal));
        CHECK_FALSE(self.alive());
    }

    TEST_CASE(
        "a chain of 100,000 linked processes dies from one end without overflowing the stack") {
        LocalNode n;
        constexpr int length = 100000;
        std::vector<ProcessHandle> chain;
        chain.reserve(length);
        for (int i = 0; i < length; ++i) {
            chain.push_back(n.node.spawn([](const ProcessHandle&, Term) {}));
            if (i > 0) chain[i].link(chain[i - 1].pid());
        }
        Mailbox tail = n.node.open_mailbox();
        tail.trap_exit(true);
        tail.link(chain.back().pid());
        chain.front().exit_self(Term("domino"_a));
        CHECK(next_message(tail, 60s) == tuple(atoms::EXIT, chain.back().pid(), "domino"_a));
        for (auto& p : chain)
            REQUIRE_FALSE(p.alive());
    }

    TEST_CASE("monitors: DOWN with the reason, noproc for a missing target, none after demonitor") {
        LocalNode n;
        Mailbox watcher = n.node.open_mailbox();
        {
            Mailbox target = n.node.open_mailbox();
            const Reference ref = watcher.monitor(target.pid());
            const Pid p = target.pid();
            target.close(tuple("crash"_a, 1));
            CHECK(next_message(watcher) == down(ref, Term(p), tuple("crash"_a, 1)));
            const Reference late = watcher.monitor(p);
            CHECK(next_message(watcher) == down(late, Term(p), Term(atoms::noproc)));
        }
        {
            Mailbox target = n.node.open_mailbox();
            REQUIRE(n.node.register_name("named_target"_a, target.pid()).has_value());
            const Reference ref = watcher.monitor("named_target"_a, n.node.name());
            target.close(Term("bye"_a));
            CHECK(next_message(watcher) ==
                  down(ref, tuple("named_target"_a, n.node.name()), Term("bye"_a)));
            const Reference missing = watcher.monitor("named_target"_a, n.node.name());
            CHECK(next_message(watcher) ==
                  down(missing, tuple("named_target"_a, n.node.name()), Term(atoms::noproc)));
        }
        {
            Mailbox target = n.node.open_mailbox();
            const Reference ref = watcher.monitor(target.pid());
            CHECK(watcher.demonitor(ref));
            CHECK_FALSE(watcher.demonitor(ref));
            target.close(Term("unseen"_a));
            watcher.send(watcher.pid(), Term("marker"_a));
            CHECK(next_message(watcher) == Term("marker"_a));
        }
        {
            // A monitor by name follows the process that had the name, demonitor included.
            Mailbox target = n.node.open_mailbox();
            REQUIRE(n.node.register_name("named_again"_a, target.pid()).has_value());
            const Reference ref = watcher.monitor("named_again"_a, n.node.name());
            CHECK(watcher.demonitor(ref));
            target.close(Term("unseen"_a));
            watcher.send(watcher.pid(), Term("marker"_a));
            CHECK(next_message(watcher) == Term("marker"_a));
        }
        // A monitor does not link: the watcher lives on.
        CHECK(watcher.alive());
    }

    TEST_CASE(
        "registered names: register, whereis, a taken name refused, unregister, freed on exit") {
        LocalNode n;
        Mailbox a = n.node.open_mailbox();
        Mailbox b = n.node.open_mailbox();
        REQUIRE(n.node.register_name("first"_a, a.pid()).has_value());
        CHECK(n.node.whereis("first"_a) == a.pid());
        auto taken = n.node.register_name("first"_a, b.pid());
        REQUIRE_FALSE(taken.has_value());
        CHECK(taken.error().code == NodeErrc::name_taken);
        CHECK(n.node.whereis("first"_a) == a.pid());

        b.send("first"_a, Term("by_name"_a));
        CHECK(next_message(a) == Term("by_name"_a));
        b.send("first"_a, n.node.name(), Term("by_name_and_node"_a));
        CHECK(next_message(a) == Term("by_name_and_node"_a));

        CHECK(n.node.unregister_name("first"_a));
        CHECK_FALSE(n.node.unregister_name("first"_a));
        CHECK_FALSE(n.node.whereis("first"_a).has_value());
        const auto dropped = n.node.stats().dropped_messages;
        b.send("first"_a, Term("nobody"_a));
        CHECK(n.node.stats().dropped_messages == dropped + 1);

        REQUIRE(n.node.register_name("second"_a, a.pid()).has_value());
        REQUIRE(n.node.register_name("third"_a, a.pid()).has_value());
        a.close();
        CHECK_FALSE(n.node.whereis("second"_a).has_value());
        CHECK_FALSE(n.node.whereis("third"_a).has_value());
        // Free again for somebody else; a dead process cannot take a name.
        CHECK(n.node.register_name("second"_a, b.pid()).has_value());
        auto dead = n.node.register_name("fourth"_a, a.pid());
        REQUIRE_FALSE(dead.has_value());
        CHECK(dead.error().code == NodeErrc::not_alive);
    }

    TEST_CASE("an alias reaches its process until unalias or the process's end") {
        LocalNode n;
        Mailbox owner = n.node.open_mailbox();
        Mailbox sender = n.node.open_mailbox();
        const Reference alias = owner.alias();
        CHECK(alias.node == n.node.name());
        sender.send_alias(alias, Term("via_alias"_a));
        CHECK(next_message(owner) == Term("via_alias"_a));
        CHECK(owner.unalias(alias));
        CHECK_FALSE(owner.unalias(alias));
        const auto dropped = n.node.stats().dropped_messages;
        sender.send_alias(alias, Term("too_late"_a));
        CHECK(n.node.stats().dropped_messages == dropped + 1);

        const Reference second = owner.alias();
        CHECK_FALSE(second == alias);
        sender.send_alias(second, Term("second"_a));
        CHECK(next_message(owner) == Term("second"_a));
        owner.close();
        sender.send_alias(second, Term("after_end"_a));
        CHECK(n.node.stats().dropped_messages == dropped + 2);
        // References are unique.
        CHECK_FALSE(sender.make_ref() == sender.make_ref());
    }

    TEST_CASE("a spawned handler handles its messages one at a time, in order, until exit_self") {
        LocalNode n;
        constexpr int senders = 4;
        constexpr int each = 500;
        struct Seen {
            std::atomic<int> inside{0};
            std::atomic<int> overlaps{0};
            std::atomic<int> handled{0};
            std::atomic<int> out_of_order{0};
            std::vector<std::int64_t> last = std::vector<std::int64_t>(senders, -1);
        };
        auto seen = std::make_shared<Seen>();
        ProcessHandle handler = n.node.spawn([seen](const ProcessHandle& self, Term message) {
            if (seen->inside.fetch_add(1) != 0) seen->overlaps.fetch_add(1);
            if (message.is_atom("stop"_a)) {
                seen->inside.fetch_sub(1);
                self.exit_self(Term(atoms::normal));
                return;
            }
            auto pair = message.unpack<std::int64_t, std::int64_t>();
            if (pair) {
                auto [sender, n] = *pair;
                // Handlers of one process never overlap, so `last` needs no lock.
                auto& last = seen->last[static_cast<std::size_t>(sender)];
                if (n != last + 1) seen->out_of_order.fetch_add(1);
                last = n;
            }
            std::this_thread::yield();
            seen->handled.fetch_add(1);
            seen->inside.fetch_sub(1);
        });
        {
            std::vector<std::jthread> threads;
            for (int s = 0; s < senders; ++s)
                threads.emplace_back([&, s] {
                    Mailbox me = n.node.open_mailbox();
                    for (int i = 0; i < each; ++i)
                        me.send(handler.pid(), tuple(s, i));
                });
        }
        eventually([&] { return seen->handled.load() == senders * each; });
        CHECK(seen->overlaps.load() == 0);
        CHECK(seen->out_of_order.load() == 0);

        Mailbox watcher = n.node.open_mailbox();
        const Reference ref = watcher.monitor(handler.pid());
        watcher.send(handler.pid(), Term("stop"_a));
        CHECK(next_message(watcher) == down(ref, Term(handler.pid()), Term(atoms::normal)));
        CHECK_FALSE(handler.alive());
        const auto dropped = n.node.stats().dropped_messages;
        watcher.send(handler.pid(), tuple(0, 0));
        CHECK(n.node.stats().dropped_messages == dropped + 1);
    }

    TEST_CASE("a handler's turn whose budget ends as its seen messages do leaves none behind") {
        // A turn takes what is queued when it looks, up to its budget of messages. Here a turn
        // gathers `batch` messages while one more waits behind them: with some batch size its
        // next turn ends its budget on the last gathered one, and the one behind must still get
        // a turn. The sizes cover budgets up to 190 messages a turn.
        LocalNode n;
        Mailbox sender = n.node.open_mailbox();
        struct Gates {
            std::binary_semaphore first{0};
            std::binary_semaphore second{0};
            std::atomic<int> holding{0};
            std::atomic<bool> last_handled{false};
        };
        for (int batch = 1; batch <= 190; ++batch) {
            auto gates = std::make_shared<Gates>();
            ProcessHandle handler = n.node.spawn([gates](const ProcessHandle&, Term message) {
                if (message.is_atom("hold_first"_a)) {
                    gates->holding = 1;
                    gates->first.acquire();
                } else if (message.is_atom("hold_second"_a)) {
                    gates->holding = 2;
                    gates->second.acquire();
                } else if (message.is_atom("last"_a)) {
                    gates->last_handled = true;
                }
            });
            sender.send(handler.pid(), Term("hold_first"_a));
            eventually([&] { return gates->holding == 1; });
            sender.send(handler.pid(), Term("hold_second"_a));
            for (int i = 0; i < batch; ++i)
                sender.send(handler.pid(), Term(i));
            gates->first.release();
            // The turn took hold_second and the batch from the inbox together.
            eventually([&] { return gates->holding == 2; });
            sender.send(handler.pid(), Term("last"_a));
            gates->second.release();
            INFO("batch of " << batch);
            eventually([&] { return gates->last_handled.load(); });
            sender.exit(handler.pid(), Term(atoms::kill));
        }
    }

    TEST_CASE("a handler that throws ends its process with a cpp_exception reason") {
        LocalNode n;
        ProcessHandle thrower = n.node.spawn(
            [](const ProcessHandle&, Term) { throw std::runtime_error("handler failed"); });
        Mailbox watcher = n.node.open_mailbox();
        const Reference ref = watcher.monitor(thrower.pid());
        watcher.send(thrower.pid(), Term("go"_a));
        auto d = next_message(watcher);
        REQUIRE(d.is_tuple(5));
        CHECK(d[1] == Term(ref));
        CHECK(d[4] == tuple("cpp_exception"_a, binary("handler failed")));
    }

    TEST_CASE("a spawned trapping handler gets exit signals as messages") {
        LocalNode n;
        Mailbox out = n.node.open_mailbox();
        const Pid to = out.pid();
        ProcessHandle handler =
            n.node.spawn([to](const ProcessHandle& self, Term message) { self.send(to, message); },
                         /*trap_exit=*/true);
        out.exit(handler.pid(), Term("polite"_a));
        CHECK(next_message(out) == tuple(atoms::EXIT, out.pid(), "polite"_a));
        CHECK(handler.alive());
        out.exit(handler.pid(), Term(atoms::kill));
        eventually([&] { return !handler.alive(); });
    }

    TEST_CASE("a bad node name is refused with bad_name") {
        const auto port = free_port();
        for (const char* name : {"", "@host", "alive@", "two@at@signs"}) {
            CAPTURE(name);
            auto o = node_options(port);
            o.name = name;
            auto node = Node::start(o);
            REQUIRE_FALSE(node.has_value());
            CHECK(node.error().code == NodeErrc::bad_name);
        }
    }

    TEST_CASE("a stopped node ends its processes with shutdown") {
        LocalNode n;
        Mailbox m = n.node.open_mailbox();
        n.node.stop();
        CHECK(exited_with(m) == Term(atoms::shutdown));
        Mailbox late = n.node.open_mailbox();
        CHECK_FALSE(late.alive());
    }

    // ---------------------------------------------------------------------------------------------
    // Two C++ nodes in this program

    namespace {

    struct TwoNodes {
        std::uint16_t epmd_port = free_port();
        Node a = start_node(node_options(epmd_port, "unit_a", EpmdMode::embedded));
        Node b = start_node(node_options(epmd_port, "unit_b"));
    };

    }  // namespace

    TEST_CASE("two C++ nodes: messages by name and by pid arrive in order, and ping answers") {
        TwoNodes t;
        CHECK(t.a.ping(t.b.name()));
        Mailbox rx = t.b.open_mailbox();
        REQUIRE(t.b.register_name("rx"_a, rx.pid()).has_value());
        Mailbox tx = t.a.open_mailbox();
        for (int i = 0; i < 2000; ++i)
            tx.send("rx"_a, t.b.name(), Term(i));
        for (int i = 0; i < 2000; ++i)
            REQUIRE(next_message(rx) == Term(i));
        rx.send(tx.pid(), tuple("reply"_a, rx.pid()));
        CHECK(next_message(tx) == tuple("reply"_a, rx.pid()));
        // Both visible (the default): each lists the other in nodes().
        CHECK(t.a.nodes() == std::vector<Atom>{t.b.name()});
        CHECK(t.b.nodes() == std::vector<Atom>{t.a.name()});
        CHECK(t.a.hidden_nodes().empty());
    }

    TEST_CASE(
        "two C++ nodes: links, exits and monitors work across, and a disconnect fires "
        "noconnection") {
        TwoNodes t;
        Mailbox on_a = t.a.open_mailbox();
        on_a.trap_exit(true);
        Mailbox watcher = t.a.open_mailbox();
        {
            Mailbox on_b = t.b.open_mailbox();
            on_a.link(on_b.pid());
            const Reference ref = watcher.monitor(on_b.pid());
            CHECK(t.a.ping(t.b.name()));
            const Pid p = on_b.pid();
            on_b.close(Term("far_away"_a));
            CHECK(next_message(on_a) == tuple(atoms::EXIT, p, "far_away"_a));
            CHECK(next_message(watcher) == down(ref, Term(p), Term("far_away"_a)));
            // Dead now: link gives noproc, monitor noproc, by pid and by name.
            on_a.link(p);
            CHECK(next_message(on_a) == tuple(atoms::EXIT, p, atoms::noproc));
            const Reference late = watcher.monitor(p);
            CHECK(next_message(watcher) == down(late, Term(p), Term(atoms::noproc)));
            const Reference missing = watcher.monitor("nobody"_a, t.b.name());
            CHECK(next_message(watcher) ==
                  down(missing, tuple("nobody"_a, t.b.name()), Term(atoms::noproc)));
        }
        {
            Mailbox on_b = t.b.open_mailbox();
            on_b.trap_exit(true);
            on_b.exit(on_a.pid(), Term("remote_exit"_a));
            CHECK(next_message(on_a) == tuple(atoms::EXIT, on_b.pid(), "remote_exit"_a));
            on_a.exit(on_b.pid(), Term(atoms::kill));
            CHECK(exited_with(on_b) == Term(atoms::killed));
        }
        {
            Mailbox on_b = t.b.open_mailbox();
            on_b.trap_exit(true);
            on_a.link(on_b.pid());
            const Reference ref = watcher.monitor(on_b.pid());
            CHECK(t.a.ping(t.b.name()));
            CHECK(t.a.disconnect(t.b.name()));
            CHECK(next_message(on_a) == tuple(atoms::EXIT, on_b.pid(), atoms::noconnection));
            CHECK(next_message(watcher) == down(ref, Term(on_b.pid()), Term(atoms::noconnection)));
            auto other_end = next_message(on_b);
            CHECK(other_end == tuple(atoms::EXIT, on_a.pid(), atoms::noconnection));
            // The next send connects again.
            on_a.send(on_b.pid(), Term("again"_a));
            CHECK(next_message(on_b) == Term("again"_a));
        }
    }

    TEST_CASE("two C++ nodes: unlink before the other side ends leaves no exit behind") {
        TwoNodes t;
        Mailbox on_a = t.a.open_mailbox();
        on_a.trap_exit(true);
        Mailbox on_b = t.b.open_mailbox();
        on_a.link(on_b.pid());
        on_a.unlink(on_b.pid());
        on_b.close(Term("after_unlink"_a));
        Mailbox marker = t.b.open_mailbox();
        CHECK(t.a.ping(t.b.name()));
        marker.send(on_a.pid(), Term("marker"_a));
        CHECK(next_message(on_a) == Term("marker"_a));
        // And a link made again after an unlink holds.
        Mailbox again = t.b.open_mailbox();
        on_a.link(again.pid());
        on_a.unlink(again.pid());
        on_a.link(again.pid());
        CHECK(t.a.ping(t.b.name()));
        again.close(Term("relinked"_a));
        CHECK(next_message(on_a) == tuple(atoms::EXIT, again.pid(), "relinked"_a));
    }

    TEST_CASE("node events and monitor_nodes report nodeup and nodedown") {
        TwoNodes t;
        std::mutex mutex;
        std::vector<NodeEvent> events;
        const auto id = t.a.on_node_event([&](const NodeEvent& e) {
            std::lock_guard lock(mutex);
            events.push_back(e);
        });
        Mailbox watch = t.a.open_mailbox();
        t.a.monitor_nodes(watch.pid());
        REQUIRE(t.a.connect(t.b.name()).has_value());
        CHECK(next_message(watch) == tuple("nodeup"_a, t.b.name()));
        CHECK(t.a.disconnect(t.b.name()));
        CHECK(next_message(watch) == tuple("nodedown"_a, t.b.name()));
        t.a.unsubscribe(id);
        t.a.monitor_nodes(watch.pid(), false);
        REQUIRE(t.a.connect(t.b.name()).has_value());
        CHECK(t.a.ping(t.b.name()));
        CHECK(watch.queued() == 0);
        std::lock_guard lock(mutex);
        REQUIRE(events.size() == 2);
        CHECK(events[0].up);
        CHECK_FALSE(events[0].hidden);
        CHECK(events[0].node == t.b.name());
        CHECK_FALSE(events[1].up);
        CHECK_FALSE(events[1].reason.empty());
    }

    TEST_CASE("links and monitors to a node that cannot be reached fire noconnection; sends drop") {
        LocalNode n;
        const Atom nowhere =
            Atom::make("nowhere_" + std::to_string(::getpid()) + "@localhost").value();
        const Pid far{nowhere, 1, 0, 1};
        Mailbox m = n.node.open_mailbox();
        m.trap_exit(true);
        for (int i = 0; i < 50; ++i) {
            CAPTURE(i);
            const Reference ref = m.monitor(far);
            CHECK(next_message(m) == down(ref, Term(far), Term(atoms::noconnection)));
            const Reference by_name = m.monitor("someone"_a, nowhere);
            CHECK(next_message(m) ==
                  down(by_name, tuple("someone"_a, nowhere), Term(atoms::noconnection)));
            m.link(far);
            CHECK(next_message(m) == tuple(atoms::EXIT, far, atoms::noconnection));
        }
        m.send(far, Term("lost"_a));
        CHECK(m.alive());
    }

    TEST_CASE("connect to a node that does not exist fails, and ping says false") {
        LocalNode n;
        const std::string alive = "nobody_" + std::to_string(::getpid());
        const Atom nobody = Atom::make(alive + "@localhost").value();
        auto up = n.node.connect(nobody, 5s);
        REQUIRE_FALSE(up.has_value());
        CHECK(up.error().code == NodeErrc::not_registered);
        // The names EPMD has are listed, ours among them.
        const std::string ours(n.node.name().name().substr(0, n.node.name().name().find('@')));
        CHECK(
            up.error().detail.starts_with(alive + " is not registered on localhost (EPMD lists: "));
        CHECK(up.error().detail.find(ours) != std::string::npos);
        CHECK_FALSE(n.node.ping(nobody, 5s));
    }

    TEST_CASE("a connection that cannot be made says why: no EPMD, wrong cookie, unreachable") {
        const auto port = free_port();
        Node a = start_node(node_options(port, "why"));
        auto other = node_options(port, "why");
        other.cookie = "another_cookie";
        Node b = start_node(other);

        auto refused = a.connect(b.name(), 5s);
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().code == NodeErrc::wrong_cookie);
        CHECK(refused.error().detail.find("refused the handshake: wrong cookie?") !=
              std::string::npos);
        CHECK(a.hidden_nodes().empty());

        auto silent = node_options(free_port(), "why");
        silent.epmd_mode = EpmdMode::use_running;
        silent.dist_listen = false;  // needs no EPMD of its own to start
        Node lonely = start_node(silent);
        auto no_epmd = lonely.connect(b.name(), 5s);
        REQUIRE_FALSE(no_epmd.has_value());
        CHECK(no_epmd.error().code == NodeErrc::no_epmd);
        CHECK(no_epmd.error().detail.starts_with("no EPMD on "));

        auto nowhere = a.connect(Atom::make("x@no-such-host.invalid").value(), 5s);
        REQUIRE_FALSE(nowhere.has_value());
        CHECK(nowhere.error().code == NodeErrc::unreachable);
        CHECK(nowhere.error().detail.find("cannot resolve no-such-host.invalid") !=
              std::string::npos);
    }

    TEST_CASE("a node that does not listen dials out, with a random creation and no registration") {
        const auto port = free_port();
        Node server = start_node(node_options(port, "listening"));
        auto options = node_options(port, "dialler");
        options.dist_listen = false;
        Node dialler = start_node(options);
        CHECK(dialler.port() == 0);
        CHECK(dialler.creation() >= 4);
        auto names = epmd_names({"127.0.0.1", port});
        REQUIRE(names.has_value());
        CHECK(names->size() == 1);  // the listening one alone
        CHECK(dialler.ping(server.name(), 5s));
        Mailbox inbox = server.open_mailbox();
        Mailbox me = dialler.open_mailbox();
        me.send(inbox.pid(), Term("hello"_a));
        CHECK(next_message(inbox) == Term("hello"_a));
    }

    TEST_CASE("two nodes with IPv6 hosts in their long names connect over ::1") {
        const auto port = free_port();
        auto first = node_options(port, "six");
        first.name += "@::1";
        first.long_names = true;
        auto second = node_options(port, "six");
        second.name += "@::1";
        second.long_names = true;
        second.listen_address = "::1";
        Node a = start_node(first);
        Node b = start_node(second);
        CHECK(a.ping(b.name(), 5s));
        CHECK(b.ping(a.name(), 5s));
        CHECK(a.nodes() == std::vector<Atom>{b.name()});  // both visible, the default
    }

    TEST_CASE(
        "a node started as undefined takes the name and creation its named_by node gives it, "
        "and loses them with that connection") {
        const std::uint16_t epmd_port = free_port();
        Node namer = start_node(node_options(epmd_port, "namer", EpmdMode::embedded));
        auto options = node_options(epmd_port, "unused");
        options.name = "undefined";
        options.named_by = std::string(namer.name().name());
        Node dynamic = start_node(options);
        const std::string given(dynamic.name().name());
        const std::string namer_name(namer.name().name());
        CHECK(given.substr(given.find('@')) == namer_name.substr(namer_name.find('@')));
        CHECK(given.substr(0, given.find('@'))
                  .find_first_not_of("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == std::string::npos);
        CHECK(dynamic.creation() >= 4);
        CHECK(dynamic.port() == 0);  // it does not listen
        // The namer lists it once the handshake is done on its side, just after the ack that
        // lets start() return.
        for (int i = 0; i < 500 && namer.hidden_nodes().empty(); ++i)
            std::this_thread::sleep_for(10ms);
        CHECK(namer.hidden_nodes() == std::vector<Atom>{dynamic.name()});

        Mailbox rx = dynamic.open_mailbox();
        CHECK(rx.pid().node == dynamic.name());
        CHECK(rx.pid().creation == dynamic.creation());
        REQUIRE(dynamic.register_name("rx"_a, rx.pid()).has_value());
        Mailbox tx = namer.open_mailbox();
        tx.send("rx"_a, dynamic.name(), Term("hello"_a));
        CHECK(next_message(rx) == Term("hello"_a));
        rx.send(tx.pid(), tuple("back"_a, rx.pid()));
        CHECK(next_message(tx) == tuple("back"_a, rx.pid()));
        CHECK(namer.ping(dynamic.name()));

        // The namer may give the name away once the connection is gone: no new connection then.
        CHECK(namer.disconnect(dynamic.name()));
        for (int i = 0; i < 500 && !dynamic.hidden_nodes().empty(); ++i)
            std::this_thread::sleep_for(10ms);
        auto again = dynamic.connect(namer.name(), 5s);
        REQUIRE_FALSE(again.has_value());
        CHECK(again.error().code == NodeErrc::connect_failed);
    }

    TEST_CASE("a name a node gave is given again, with the next creation, once its holder went") {
        const std::uint16_t epmd_port = free_port();
        Node namer = start_node(node_options(epmd_port, "namer", EpmdMode::embedded));
        auto options = node_options(epmd_port, "unused");
        options.name = "undefined";
        options.named_by = std::string(namer.name().name());
        Atom first_name;
        std::uint32_t first_creation = 0;
        {
            Node first = start_node(options);
            first_name = first.name();
            first_creation = first.creation();
        }
        for (int i = 0; i < 500 && !namer.hidden_nodes().empty(); ++i)
            std::this_thread::sleep_for(10ms);
        REQUIRE(namer.hidden_nodes().empty());
        Node second = start_node(options);
        CHECK(second.name() == first_name);
        CHECK(second.creation() == (first_creation + 1 >= 4 ? first_creation + 1 : 4));
    }

    TEST_CASE("a dynamic name needs a named_by node that answers") {
        LocalNode n;
        auto options = node_options(n.epmd_port, "unused");
        options.name = "undefined";
        auto without = Node::start(options);
        REQUIRE_FALSE(without.has_value());
        CHECK(without.error().code == NodeErrc::bad_name);
        options.named_by = "nobody_" + std::to_string(::getpid()) + "@localhost";
        options.setup_timeout = 2s;
        auto unregistered = Node::start(options);
        REQUIRE_FALSE(unregistered.has_value());
        CHECK(unregistered.error().code == NodeErrc::not_registered);
        CHECK(unregistered.error().detail.starts_with("cannot get a name from " + options.named_by +
                                                      ": "));
    }

    TEST_CASE("a dynamic name from a node with another cookie fails as a wrong cookie") {
        const std::uint16_t epmd_port = free_port();
        Node namer = start_node(node_options(epmd_port, "namer", EpmdMode::embedded));
        auto options = node_options(epmd_port, "unused");
        options.name = "undefined";
        options.named_by = std::string(namer.name().name());
        options.cookie = "not_the_namers_cookie";
        auto refused = Node::start(options);
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().code == NodeErrc::wrong_cookie);
        CHECK(namer.hidden_nodes().empty());
    }

    TEST_CASE(
        "a frame above max_frame_bytes closes that connection; set_limits applies to the "
        "next connection") {
        // Hidden: after the bad frame nothing but this test may dial again (on visible nodes,
        // a pg discover still queued monitors the peer, which connects).
        std::uint16_t epmd_port = free_port();
        struct {
            Node a, b;
        } t{start_node(hidden_node_options(epmd_port, "unit_a", EpmdMode::embedded)),
            start_node(hidden_node_options(epmd_port, "unit_b", EpmdMode::automatic))};
        t.b.set_limits({.max_frame_bytes = 4096});
        Mailbox rx = t.b.open_mailbox();
        REQUIRE(t.b.register_name("rx"_a, rx.pid()).has_value());
        Mailbox tx = t.a.open_mailbox();
        REQUIRE(t.a.connect(t.b.name()).has_value());
        const auto bad = t.b.stats().bad_frames;
        tx.send("rx"_a, t.b.name(), binary(std::string(8000, 'x')));
        eventually([&] { return t.b.stats().bad_frames == bad + 1; });
        eventually([&] { return connected_nodes(t.b).empty() && connected_nodes(t.a).empty(); });
        CHECK(rx.queued() == 0);

        t.b.set_limits({.max_frame_bytes = 1 << 20});
        CHECK(t.b.limits().max_frame_bytes == 1u << 20);
        tx.send("rx"_a, t.b.name(), binary(std::string(8000, 'x')));
        CHECK(next_message(rx) == binary(std::string(8000, 'x')));
    }

    TEST_CASE("a program started beside two connected nodes inherits none of their sockets") {
        // An inherited listener keeps its port bound, an inherited connection never closes.
        // The child lists the sockets it got; one made inheritable on purpose shows it can see
        // them (listing our own descriptors instead would race with the nodes' threads).
        const std::uint16_t epmd_port = free_port();
        Node a = start_node(node_options(epmd_port, "cloexec_a", EpmdMode::embedded));
        Node b = start_node(node_options(epmd_port, "cloexec_b", EpmdMode::automatic));
        REQUIRE(a.connect(b.name()).has_value());
        const int inheritable = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(inheritable >= 0);
        FILE* child = ::popen(
            "n=0; for f in /proc/$$/fd/*; do case $(readlink \"$f\") in socket:*) n=$((n+1));; "
            "esac; done; echo $n",
            "r");
        REQUIRE(child != nullptr);
        char line[32] = {};
        const bool read = std::fgets(line, sizeof line, child) != nullptr;
        ::pclose(child);
        ::close(inheritable);
        REQUIRE(read);
        CHECK(std::string(line) == "1\n");
    }

    TEST_CASE(
        "messages queued before a connection is up and past max_send_queue_bytes end that "
        "connection once it comes up, and the node connects again") {
        std::uint16_t epmd_port = free_port();
        NodeOptions options = node_options(epmd_port, "unit_limit", EpmdMode::embedded);
        options.limits.max_send_queue_bytes = 1 << 20;
        options.limits.busy_limit = 64 << 20;  // so that this thread never waits
        Node a = start_node(std::move(options));
        Node b = start_node(node_options(epmd_port, "unit_b"));
        Mailbox tx = a.open_mailbox();
        const Term payload = binary(std::string(400 * 1024, 'q'));
        // Sent before the connection is up: all wait in it and go out together when it is.
        for (int i = 0; i < 4; ++i)
            tx.send("nobody"_a, b.name(), tuple(i, payload));
        eventually([&] { return a.stats().send_queue_overflows == 1; });
        eventually([&] { return a.ping(b.name()); });
    }
}  // TEST_SUITE
