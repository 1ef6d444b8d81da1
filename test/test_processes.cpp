// The process model under load and at its edges: turns that yield (fairness), processes written
// as coroutines, blocking calls refused on the node's own threads, teardown from inside the node,
// and a nodedown that visits only what crossed the connection.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <optional>
#include <set>
#include <thread>

#include "distribute/call.hpp"
#include "distribute/coroutine.hpp"
#include "node/access.hpp"
#include "node/runtime.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace std::chrono_literals;

namespace {

using namespace testing;

// Holds the node's only thread until released: what is sent meanwhile queues in order.
class ThreadGate {
  public:
    explicit ThreadGate(Node& node) {
        auto opened = opened_;
        ProcessHandle blocker =
            node.spawn([opened](const ProcessHandle&, Term) { opened->get_future().wait(); });
        blocker.send(blocker.pid(), Term("block"_a));
    }
    void release() { opened_->set_value(); }

  private:
    std::shared_ptr<std::promise<void>> opened_ = std::make_shared<std::promise<void>>();
};

constexpr int flood = 20000;

// With the node's one thread held, `flood` messages go to `busy`, then one to `other`, which
// reports how many of the flood `busy` had handled when it ran. Waits for the whole flood.
std::int64_t flooded_count_seen(Node& node, Mailbox& me, const Pid& busy, const Pid& other,
                                const std::atomic<int>& handled) {
    ThreadGate gate(node);
    for (int i = 0; i < flood; ++i)
        me.send(busy, Term(i));
    me.send(other, Term("go"_a));
    gate.release();
    const std::int64_t seen = next_message(me).to<std::int64_t>().value();
    eventually([&] { return handled.load() == flood; });
    return seen;
}

// The node threads a handler process's turns ran on, one entry per message, with the message.
struct TurnThreads {
    std::mutex mutex;
    std::vector<std::pair<Term, std::thread::id>> seen;
    std::set<std::thread::id> threads_of(const std::function<bool(const Term&)>& which) {
        std::lock_guard lock(mutex);
        std::set<std::thread::id> threads;
        for (auto& [message, thread] : seen)
            if (which(message)) threads.insert(thread);
        return threads;
    }
};

std::size_t crossing_of(Node& node, Atom peer) {
    auto connection = node::Access::runtime(node).existing_connection(peer);
    REQUIRE(connection != nullptr);
    std::lock_guard lock(connection->mutex);
    return connection->crossing.size();
}

}  // namespace

TEST_SUITE("processes") {
    TEST_CASE("a flooded process yields its thread: another runs before the flood is through") {
        auto o = node_options(free_port(), "fair", EpmdMode::embedded);
        o.threads = 1;
        Node node = start_node(o);
        Mailbox me = node.open_mailbox();
        const Pid observer = me.pid();
        auto handled = std::make_shared<std::atomic<int>>(0);
        SUBCASE("handler processes") {
            ProcessHandle busy =
                node.spawn([handled](const ProcessHandle&, Term) { handled->fetch_add(1); });
            ProcessHandle other = node.spawn([handled, observer](const ProcessHandle& self, Term) {
                self.send(observer, Term(handled->load()));
            });
            CHECK(flooded_count_seen(node, me, busy.pid(), other.pid(), *handled) < flood);
        }
        SUBCASE("coroutine processes") {
            ProcessHandle busy = spawn_coroutine(node, [handled](CoProcess self) -> Task<> {
                for (;;)
                    if (co_await self.receive()) handled->fetch_add(1);
            });
            ProcessHandle other =
                spawn_coroutine(node, [handled, observer](CoProcess self) -> Task<> {
                    (void)co_await self.receive();
                    self.send(observer, Term(handled->load()));
                });
            CHECK(flooded_count_seen(node, me, busy.pid(), other.pid(), *handled) < flood);
        }
    }

    TEST_CASE("a selective receive's predicate may send, to its own process too") {
        LocalNode n;
        Mailbox me = n.node.open_mailbox();
        me.send(me.pid(), Term("first"_a));
        bool sent = false;
        auto got = me.receive_if(
            [&](const Term& m) {
                if (!sent) {
                    sent = true;
                    me.send(me.pid(), Term("from_predicate"_a));
                }
                return m.is_atom("from_predicate"_a);
            },
            10s);
        REQUIRE(got.has_value());
        CHECK(*got == Term("from_predicate"_a));
        CHECK(next_message(me) == Term("first"_a));

        // The same in a coroutine process.
        const Pid observer = me.pid();
        spawn_coroutine(n.node, [observer](CoProcess self) -> Task<> {
            self.send(self.pid(), Term("first"_a));
            bool once = false;
            auto m = co_await self.receive_if(
                [&](const Term& t) {
                    if (!once) {
                        once = true;
                        self.send(self.pid(), Term("from_predicate"_a));
                    }
                    return t.is_atom("from_predicate"_a);
                },
                10s);
            self.send(observer, m ? *m : Term("timeout"_a));
        });
        CHECK(next_message(me) == Term("from_predicate"_a));
    }

    TEST_CASE(
        "a handler that throws what is not a std::exception ends with a reason; others go on") {
        LocalNode n;
        Mailbox me = n.node.open_mailbox();
        ProcessHandle thrower = n.node.spawn([](const ProcessHandle&, Term) { throw 42; });
        const Reference ref = me.monitor(thrower.pid());
        me.send(thrower.pid(), Term("go"_a));
        CHECK(down_reason(me, ref) ==
              tuple("cpp_exception"_a, binary("an exception of unknown type")));
        ProcessHandle echo = n.node.spawn([](const ProcessHandle& self, Term m) {
            if (auto from = m.to<Pid>()) self.send(*from, Term("still_here"_a));
        });
        me.send(echo.pid(), Term(me.pid()));
        CHECK(next_message(me) == Term("still_here"_a));

        ProcessHandle coroutine = spawn_coroutine(n.node, [](CoProcess self) -> Task<> {
            (void)co_await self.receive();
            throw "a C string";
        });
        const Reference cref = me.monitor(coroutine.pid());
        me.send(coroutine.pid(), Term("go"_a));
        CHECK(down_reason(me, cref) ==
              tuple("cpp_exception"_a, binary("an exception of unknown type")));
    }

    TEST_CASE("stopping a node from one of its own threads neither deadlocks nor crashes") {
        const auto port = free_port();
        auto holder = std::make_shared<std::optional<Node>>(
            start_node(node_options(port, "stopper", EpmdMode::embedded)));
        Mailbox watcher = (*holder)->open_mailbox();
        std::promise<void> stopped;
        ProcessHandle stopper = (*holder)->spawn([&](const ProcessHandle&, Term) {
            (*holder)->stop();
            stopped.set_value();
        });
        stopper.send(stopper.pid(), Term("stop"_a));
        REQUIRE(stopped.get_future().wait_for(20s) == std::future_status::ready);
        CHECK(exited_with(watcher) == Term(atoms::shutdown));
        holder->reset();  // the node, stopped already, goes on this thread

        // And a node whose last owner lets go of it inside one of its own handlers.
        auto owner = std::make_shared<std::optional<Node>>(
            start_node(node_options(free_port(), "dropper", EpmdMode::embedded)));
        Mailbox observer = (*owner)->open_mailbox();
        ProcessHandle dropper =
            (*owner)->spawn([owner](const ProcessHandle&, Term) { owner->reset(); });
        dropper.send(dropper.pid(), Term("drop"_a));
        CHECK(exited_with(observer) == Term(atoms::shutdown));
    }

    TEST_CASE("a blocking call on a node thread fails at once; the asynchronous forms work there") {
        LocalNode n;
        Mailbox me = n.node.open_mailbox();
        REQUIRE(n.node.register_name("target"_a, me.pid()).has_value());
        Node& node = n.node;
        const Pid observer = me.pid();
        ProcessHandle caller = node.spawn([&node, observer](const ProcessHandle& self, Term m) {
            if (!m.is_atom("go"_a)) return;
            auto called = call(node, ServerRef("target"_a), Term("hello"_a), 2s);
            Mailbox scratch = node.open_mailbox();
            auto received = scratch.receive(2s);
            const bool pinged = node.ping("nobody@nowhere"_a, 2s);
            auto connected = node.connect("nobody@nowhere"_a, 2s);
            self.send(
                observer,
                tuple(called ? Term("ok"_a) : Term(static_cast<int>(called.error().code)),
                      received ? Term("ok"_a) : Term(static_cast<int>(received.error().code)),
                      pinged,
                      connected ? Term("ok"_a) : Term(static_cast<int>(connected.error().code))));
        });
        me.send(caller.pid(), Term("go"_a));
        const Term report = next_message(me);
        CHECK(report[0] == Term(static_cast<int>(CallErrc::node_thread)));
        CHECK(report[1] == Term(static_cast<int>(ReceiveErrc::node_thread)));
        CHECK(report[2] == Term(false));
        CHECK(report[3] == Term(static_cast<int>(NodeErrc::node_thread)));
        CHECK(none_queued(me, [](const Term& m) { return m.is_tuple(2); }));  // no call went out
    }

    TEST_CASE("each connection keeps to one node thread, and two connections get two") {
        const auto port = free_port();
        Node a = start_node(hidden_node_options(port, "thr_a"));  // two threads
        Node b = start_node(hidden_node_options(port, "thr_b"));
        Node c = start_node(hidden_node_options(port, "thr_c"));
        auto turns = std::make_shared<TurnThreads>();
        // Woken by a message a session delivers, the turn runs on that session's thread.
        ProcessHandle probe = a.spawn([turns](const ProcessHandle& self, Term m) {
            {
                std::lock_guard lock(turns->mutex);
                turns->seen.emplace_back(m[0], std::this_thread::get_id());
            }
            self.send(m[1].to<Pid>().value(), Term("ok"_a));
        });
        REQUIRE(a.register_name("probe"_a, probe.pid()).has_value());
        Mailbox from_b = b.open_mailbox();
        Mailbox from_c = c.open_mailbox();
        // One at a time, so that each turn is woken by exactly one session's delivery.
        for (int i = 0; i < 20; ++i)
            for (Mailbox* from : {&from_b, &from_c}) {
                from->send("probe"_a, a.name(),
                           tuple(from == &from_b ? "b"_a : "c"_a, from->pid()));
                REQUIRE(next_message(*from) == Term("ok"_a));
            }
        const auto b_threads = turns->threads_of([](const Term& t) { return t.is_atom("b"_a); });
        const auto c_threads = turns->threads_of([](const Term& t) { return t.is_atom("c"_a); });
        REQUIRE(b_threads.size() == 1);
        REQUIRE(c_threads.size() == 1);
        CHECK(*b_threads.begin() != *c_threads.begin());
    }

    TEST_CASE("a process that falls behind goes on on another thread than its connection's") {
        const auto port = free_port();
        Node a = start_node(hidden_node_options(port, "behind_a"));  // two threads
        Node b = start_node(hidden_node_options(port, "behind_b"));
        auto turns = std::make_shared<TurnThreads>();
        // Slower than the session that feeds it: a whole budget handled, more is waiting.
        ProcessHandle slow = a.spawn([turns](const ProcessHandle& self, Term m) {
            std::this_thread::sleep_for(50us);
            {
                std::lock_guard lock(turns->mutex);
                turns->seen.emplace_back(m, std::this_thread::get_id());
            }
            if (auto from = m.to<Pid>()) self.send(*from, Term("done"_a));
        });
        REQUIRE(a.register_name("slow"_a, slow.pid()).has_value());
        Mailbox me = b.open_mailbox();
        for (int i = 0; i < 2000; ++i)
            me.send("slow"_a, a.name(), Term(i));
        me.send("slow"_a, a.name(), Term(me.pid()));
        REQUIRE(next_message(me) == Term("done"_a));
        CHECK(turns->threads_of([](const Term&) { return true; }).size() == 2);
    }

    TEST_CASE("a nodedown visits only the processes with a link or monitor over the connection") {
        const auto port = free_port();
        // Hidden: visible nodes' pg and global processes monitor each other across as well.
        Node a = start_node(hidden_node_options(port, "nd_a"));
        Node b = start_node(hidden_node_options(port, "nd_b"));
        Mailbox remote = b.open_mailbox();
        REQUIRE(a.connect(b.name()).has_value());
        // Many idle processes, a few linked or monitoring across, one that monitored and ended.
        std::vector<ProcessHandle> idle;
        for (int i = 0; i < 500; ++i)
            idle.push_back(a.spawn([](const ProcessHandle&, Term) {}));
        std::vector<Mailbox> linked;
        for (int i = 0; i < 3; ++i) {
            linked.push_back(a.open_mailbox());
            linked.back().trap_exit(true);
            linked.back().link(remote.pid());
        }
        Mailbox watching = a.open_mailbox();
        const Reference ref = watching.monitor(remote.pid());
        {
            Mailbox gone = a.open_mailbox();
            (void)gone.monitor(remote.pid());
        }
        eventually([&] { return crossing_of(a, b.name()) == 4; });
        REQUIRE(a.disconnect(b.name()));
        for (auto& m : linked) {
            auto exit = next_message(m);
            CHECK(exit == tuple(atoms::EXIT, remote.pid(), atoms::noconnection));
        }
        CHECK(down_reason(watching, ref) == Term(atoms::noconnection));
    }
}
