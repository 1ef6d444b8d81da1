// Typed subjects and checked messaging on C++ nodes: subjects of one process that do not mix,
// typed receives that report a bad payload, every class of send error, batches, and requests
// with typed replies, timeouts that drop the late reply, and a server that goes away.
#include <doctest/doctest.h>

#include <cmath>
#include <future>
#include <limits>

#include "distribute/messaging.hpp"
#include "distribute/subject.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

struct Order {
    std::string item;
    std::int64_t quantity = 0;
};

// Answers {double, N} with 2 * N; keeps {later, N} to answer when told `release`.
class Doubler : public Actor {
  public:
    explicit Doubler(Pid observer) : observer_(observer) {}
    CallResult handle_call(const Term& request, From from) override {
        if (auto d = request.tagged<std::int64_t>("double"_a))
            return Reply{Term(2 * std::get<0>(*d))};
        if (request.tagged<std::int64_t>("later"_a)) {
            kept_ = from;
            self().send(observer_, Term("kept"_a));
            return NoReply{};
        }
        if (request.is_atom("crash"_a)) return Stop{Term("crashed"_a), std::nullopt};
        return Reply{binary("not a number")};
    }
    HandleResult handle_info(const Term& message) override {
        if (message.is_atom("release"_a)) {
            kept_.reply(Term(-1));
            self().send(observer_, Term("released"_a));
        }
        return NoReply{};
    }

  private:
    Pid observer_;
    From kept_;
};

}  // namespace

template <>
struct distribute::Codec<Order> {
    static constexpr auto shape =
        record("order", field("item", &Order::item), field("quantity", &Order::quantity));
};

TEST_SUITE("messaging") {
    TEST_CASE("two subjects of one process do not mix: each receive takes only its own") {
        LocalNode t;
        Mailbox owner = t.node.open_mailbox();
        Mailbox sender = t.node.open_mailbox();
        Subject<Order> orders = make_subject<Order>(owner);
        Subject<std::string> notes = make_subject<std::string>(owner);
        CHECK_FALSE(orders.tag() == notes.tag());
        REQUIRE(send(sender, orders, Order{"apple", 3}).has_value());
        REQUIRE(send(sender, notes, std::string("first note")).has_value());
        REQUIRE(send(sender, orders, Order{"pear", 1}).has_value());
        owner.send(owner.pid(), Term("plain"_a));

        auto note = receive(owner, notes, 5s);
        REQUIRE(note.has_value());
        CHECK(*note == "first note");
        auto first = receive(owner, orders, 5s);
        REQUIRE(first.has_value());
        CHECK(first->item == "apple");
        CHECK(first->quantity == 3);
        auto second = receive(owner, orders, 5s);
        REQUIRE(second.has_value());
        CHECK(second->item == "pear");
        auto none = receive(owner, notes, 20ms);
        REQUIRE_FALSE(none.has_value());
        CHECK(none.error().code == SubjectErrc::timeout);
        CHECK(next_message(owner) == Term("plain"_a));  // untouched, still queued
    }

    TEST_CASE("a subject's message that does not decode is reported, not thrown") {
        LocalNode t;
        Mailbox owner = t.node.open_mailbox();
        Subject<Order> orders = make_subject<Order>(owner);
        owner.send(owner.pid(), tuple(orders.tag(), tuple("order"_a, 1, 2)));
        auto got = receive(owner, orders, 5s);
        REQUIRE_FALSE(got.has_value());
        CHECK(got.error().code == SubjectErrc::decode_failed);
        REQUIRE(got.error().codec.has_value());
        CHECK(got.error().codec->path == "order.item");
        CHECK(got.error().message == tuple("order"_a, 1, 2));
    }

    TEST_CASE("a subject travels in a message as {subject, Pid, Ref} and matches in a handler") {
        LocalNode t;
        Mailbox owner = t.node.open_mailbox();
        Subject<std::int64_t> numbers = make_subject<std::int64_t>(owner);
        const Term wire = encode(numbers);
        CHECK(wire == tuple("subject"_a, owner.pid(), numbers.tag()));
        auto back = decode<Subject<std::int64_t>>(wire);
        REQUIRE(back.has_value());
        CHECK(*back == numbers);

        // A handler process answers whoever sent it a subject, through that subject.
        auto replier = t.node.spawn([](const ProcessHandle& self, Term m) {
            if (auto s = decode<Subject<std::int64_t>>(m)) (void)send(self, *s, std::int64_t{7});
        });
        owner.send(replier.pid(), wire);
        auto seven = receive(owner, numbers, 5s);
        REQUIRE(seven.has_value());
        CHECK(*seven == 7);
        CHECK(numbers.match(tuple(numbers.tag(), 5)).value().value() == 5);
        CHECK_FALSE(numbers.match(tuple(owner.make_ref(), 5)).has_value());
    }

    TEST_CASE("send errors: not_alive, no_such_name, network, encode_failed, too_large") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        Mailbox dead = t.node.open_mailbox();
        const Pid dead_pid = dead.pid();
        dead.close();

        auto e1 = send_checked(me, ServerRef(dead_pid), Term(1));
        REQUIRE_FALSE(e1.has_value());
        CHECK(e1.error().code == SendErrc::not_alive);
        Pid old = me.pid();
        old.creation += 1;  // a pid of an earlier incarnation of this node
        auto e1b = send_checked(me, ServerRef(old), Term(1));
        REQUIRE_FALSE(e1b.has_value());
        CHECK(e1b.error().code == SendErrc::not_alive);

        auto e2 = send_checked(me, ServerRef("nobody_here"_a), Term(1));
        REQUIRE_FALSE(e2.has_value());
        CHECK(e2.error().code == SendErrc::no_such_name);
        auto e2b = send_checked(me, ServerRef("nobody_here"_a, t.node.name()), Term(1));
        REQUIRE_FALSE(e2b.has_value());
        CHECK(e2b.error().code == SendErrc::no_such_name);

        const Atom nowhere =
            Atom::make("nosuch_" + std::to_string(free_port()) + "@127.0.0.1").value();
        auto e3 = send_checked(me, ServerRef("x"_a, nowhere), Term(1), {.connect_timeout = 10s});
        REQUIRE_FALSE(e3.has_value());
        CHECK(e3.error().code == SendErrc::network);

        auto e4 = send_typed(me, ServerRef(me.pid()), std::numeric_limits<double>::quiet_NaN());
        REQUIRE_FALSE(e4.has_value());
        CHECK(e4.error().code == SendErrc::encode_failed);

        auto e5 = send_checked(me, ServerRef(me.pid()), binary(std::string(2000, 'x')),
                               {.max_bytes = 1000});
        REQUIRE_FALSE(e5.has_value());
        CHECK(e5.error().code == SendErrc::too_large);
        CHECK(e5.error().detail.find("2006 bytes") != std::string::npos);  // 131, 109, size, data
        CHECK(e5.error().detail.find("1000") != std::string::npos);
        CHECK(make_error_code(SendErrc::too_large).category().name() ==
              std::string("distribute.send"));

        // Nothing of that reached anybody; a good send does.
        REQUIRE(send_checked(me, ServerRef(me.pid()), Term("ok"_a)).has_value());
        CHECK(next_message(me) == Term("ok"_a));
    }

    TEST_CASE("a batch send reports each item and the totals") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        REQUIRE(t.node.register_name("me"_a, me.pid()).has_value());
        std::vector<BatchItem> items{{ServerRef(me.pid()), Term(1)},
                                     {ServerRef("nobody"_a), Term(2)},
                                     {ServerRef("me"_a), Term(3)},
                                     {ServerRef(me.pid()), binary(std::string(100, 'x'))}};
        auto result = send_batch(me, items, {.max_bytes = 50});
        CHECK(result.total == 4);
        CHECK(result.succeeded == 2);
        CHECK(result.failed == 2);
        REQUIRE(result.results.size() == 4);
        CHECK(result.results[0].has_value());
        CHECK(result.results[1].error().code == SendErrc::no_such_name);
        CHECK(result.results[2].has_value());
        CHECK(result.results[3].error().code == SendErrc::too_large);
        CHECK(next_message(me) == Term(1));
        CHECK(next_message(me) == Term(3));

        std::vector<std::pair<ServerRef, std::int64_t>> typed{{ServerRef(me.pid()), 10},
                                                              {ServerRef("nobody"_a), 11}};
        auto typed_result =
            send_batch_typed(me, std::span<const std::pair<ServerRef, std::int64_t>>(typed));
        CHECK(typed_result.succeeded == 1);
        CHECK(typed_result.failed == 1);
        CHECK(next_message(me) == Term(10));
    }

    TEST_CASE("request: a typed reply, a reply that does not decode, a missing server") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto server =
            spawn_actor(t.node, std::make_unique<Doubler>(me.pid()), {.name = "doubler"_a});
        REQUIRE(server.has_value());
        auto twice = request<std::int64_t>(me, ServerRef("doubler"_a), tuple("double"_a, 21), 5s);
        REQUIRE(twice.has_value());
        CHECK(*twice == 42);
        auto by_pid = request<std::int64_t>(me, ServerRef(server->pid()), tuple("double"_a, 2), 5s);
        REQUIRE(by_pid.has_value());
        CHECK(*by_pid == 4);

        auto bad = request<std::int64_t>(me, ServerRef("doubler"_a), Term("what"_a), 5s);
        REQUIRE_FALSE(bad.has_value());
        CHECK(bad.error().code == CallErrc::bad_reply);
        CHECK(bad.error().reason == binary("not a number"));

        auto missing = request<std::int64_t>(me, ServerRef("nobody"_a), Term(1), 5s);
        REQUIRE_FALSE(missing.has_value());
        CHECK(missing.error().code == CallErrc::noproc);

        auto crashed = request<std::int64_t>(me, ServerRef("doubler"_a), Term("crash"_a), 5s);
        REQUIRE_FALSE(crashed.has_value());
        CHECK(crashed.error().code == CallErrc::exited);
        CHECK(crashed.error().reason == Term("crashed"_a));
        CHECK(me.queued() == 0);  // no DOWN or reply left behind
    }

    TEST_CASE("request: a timeout, and the reply that comes after it never reaches the mailbox") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        Mailbox observer = t.node.open_mailbox();
        auto server = spawn_actor(t.node, std::make_unique<Doubler>(observer.pid()));
        REQUIRE(server.has_value());
        auto late = request<std::int64_t>(me, ServerRef(server->pid()), tuple("later"_a, 1), 50ms);
        REQUIRE_FALSE(late.has_value());
        CHECK(late.error().code == CallErrc::timeout);
        CHECK(next_message(observer) == Term("kept"_a));
        observer.send(server->pid(), Term("release"_a));
        CHECK(next_message(observer) == Term("released"_a));
        // The server has replied (to the dead alias); what it sends after that arrives after it.
        auto after = request<std::int64_t>(me, ServerRef(server->pid()), tuple("double"_a, 5), 5s);
        REQUIRE(after.has_value());
        CHECK(*after == 10);
        CHECK(me.queued() == 0);
    }

    TEST_CASE("two C++ nodes: checked sends and requests across, and a remote name that is gone") {
        const auto epmd_port = free_port();
        auto first = node_options(epmd_port, "msg_a");
        first.epmd_mode = EpmdMode::embedded;
        Node a = start_node(std::move(first));
        Node b = start_node(node_options(epmd_port, "msg_b"));
        Mailbox me = a.open_mailbox();
        auto server = spawn_actor(b, std::make_unique<Doubler>(me.pid()), {.name = "doubler"_a});
        REQUIRE(server.has_value());
        auto twice =
            request<std::int64_t>(me, ServerRef("doubler"_a, b.name()), tuple("double"_a, 4), 10s);
        REQUIRE(twice.has_value());
        CHECK(*twice == 8);
        // Remote names are not checked before sending (only the connection is), but the monitor
        // a request sets tells at once that the name is missing.
        CHECK(send_checked(me, ServerRef("nobody"_a, b.name()), Term(1)).has_value());
        auto missing = request<std::int64_t>(me, ServerRef("nobody"_a, b.name()), Term(1), 10s);
        REQUIRE_FALSE(missing.has_value());
        CHECK(missing.error().code == CallErrc::noproc);
    }
}

namespace {

// A clock the test moves by hand.
struct ManualClock {
    std::shared_ptr<PeerBreakers::Clock::time_point> now =
        std::make_shared<PeerBreakers::Clock::time_point>(PeerBreakers::Clock::now());
    std::function<PeerBreakers::Clock::time_point()> source() const {
        return [now = now] { return *now; };
    }
    void advance(std::chrono::milliseconds by) const { *now += by; }
};

}  // namespace

TEST_SUITE("circuit breaker") {
    TEST_CASE(
        "a breaker opens after N failures in a row, half-opens after the delay, and closes "
        "after M successes") {
        ManualClock clock;
        PeerBreakers breakers({.failures_to_open = 3, .open_for = 10s, .successes_to_close = 2},
                              clock.source());
        std::vector<BreakerTransition> seen;
        breakers.subscribe([&](const BreakerTransition& t) { seen.push_back(t); });
        const Atom peer = "peer@host"_a;

        CHECK(breakers.allow(peer));
        breakers.record_failure(peer, "cannot connect");
        breakers.record_failure(peer, "cannot connect");
        breakers.record_success(peer);  // a success in between starts the count again
        breakers.record_failure(peer, "cannot connect");
        breakers.record_failure(peer, "cannot connect");
        CHECK(breakers.state(peer) == BreakerState::closed);
        breakers.record_failure(peer, "no reply in time");
        CHECK(breakers.state(peer) == BreakerState::open);
        REQUIRE(seen.size() == 1);
        CHECK(seen[0].reason == "3 failures in a row: no reply in time");

        CHECK_FALSE(breakers.allow(peer));
        CHECK_FALSE(breakers.allow(peer));
        CHECK(breakers.stats(peer).rejected == 2);
        clock.advance(9999ms);
        CHECK_FALSE(breakers.allow(peer));
        clock.advance(1ms);
        CHECK(breakers.state(peer) == BreakerState::half_open);
        CHECK(breakers.allow(peer));        // the one trial
        CHECK_FALSE(breakers.allow(peer));  // a second waits for the trial's outcome
        breakers.record_success(peer);
        CHECK(breakers.state(peer) == BreakerState::half_open);
        CHECK(breakers.allow(peer));
        breakers.record_success(peer);
        CHECK(breakers.state(peer) == BreakerState::closed);

        REQUIRE(seen.size() == 3);
        CHECK(seen[1].from == BreakerState::open);
        CHECK(seen[1].to == BreakerState::half_open);
        CHECK(seen[2].to == BreakerState::closed);
        CHECK(seen[2].reason == "2 successes");
        CHECK(breakers.stats(peer).opened == 1);
    }

    TEST_CASE("a failed trial in half-open opens the breaker again for another full delay") {
        ManualClock clock;
        PeerBreakers breakers(
            {.failures_to_open = 1, .open_for = 5s, .successes_to_close = 1, .half_open_trials = 2},
            clock.source());
        const Atom peer = "peer@host"_a;
        breakers.record_failure(peer, "down");
        clock.advance(5s);
        CHECK(breakers.allow(peer));
        CHECK(breakers.allow(peer));  // two trials allowed at once
        CHECK_FALSE(breakers.allow(peer));
        breakers.record_failure(peer, "still down");
        CHECK(breakers.state(peer) == BreakerState::open);
        clock.advance(4s);
        CHECK_FALSE(breakers.allow(peer));
        clock.advance(1s);
        CHECK(breakers.allow(peer));
        CHECK(breakers.stats(peer).opened == 2);
        // Breakers are per node: another one is untouched.
        CHECK(breakers.state("other@host"_a) == BreakerState::closed);
    }

    TEST_CASE(
        "checked sends to a node that cannot be reached open its breaker, and then fail at "
        "once with circuit_open") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        ManualClock clock;
        auto breakers = std::make_shared<PeerBreakers>(
            BreakerOptions{.failures_to_open = 2, .open_for = 30s, .successes_to_close = 1},
            clock.source());
        const Atom nowhere =
            Atom::make("nosuch_" + std::to_string(free_port()) + "@127.0.0.1").value();
        SendOptions options{.connect_timeout = 10s, .breakers = breakers};
        for (int i = 0; i < 2; ++i) {
            auto sent = send_checked(me, ServerRef("x"_a, nowhere), Term(1), options);
            REQUIRE_FALSE(sent.has_value());
            CHECK(sent.error().code == SendErrc::network);
        }
        CHECK(breakers->state(nowhere) == BreakerState::open);
        auto refused = send_checked(me, ServerRef("x"_a, nowhere), Term(1), options);
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().code == SendErrc::circuit_open);
        auto request_refused = request_term(me, ServerRef("x"_a, nowhere), Term(1), 5s, options);
        REQUIRE_FALSE(request_refused.has_value());
        CHECK(request_refused.error().code == CallErrc::circuit_open);
        CHECK(breakers->stats(nowhere).rejected == 2);
        // Local targets never consult a breaker.
        REQUIRE(send_checked(me, ServerRef(me.pid()), Term("ok"_a), options).has_value());
        CHECK(next_message(me) == Term("ok"_a));
    }

    TEST_CASE("requests that a node answers close its half-open breaker") {
        const auto epmd_port = free_port();
        Node a = start_node(node_options(epmd_port, "brk_a", EpmdMode::embedded));
        Node b = start_node(node_options(epmd_port, "brk_b"));
        Mailbox me = a.open_mailbox();
        REQUIRE(spawn_actor(b, std::make_unique<Doubler>(me.pid()), {.name = "doubler"_a}));
        ManualClock clock;
        auto breakers = std::make_shared<PeerBreakers>(
            BreakerOptions{.failures_to_open = 1, .open_for = 1s, .successes_to_close = 2},
            clock.source());
        breakers->record_failure(b.name(), "pretend it failed");
        SendOptions options{.breakers = breakers};
        const ServerRef doubler("doubler"_a, b.name());
        auto refused = request<std::int64_t>(me, doubler, tuple("double"_a, 1), 5s, options);
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().code == CallErrc::circuit_open);
        clock.advance(1s);
        for (int i = 1; i <= 2; ++i) {
            auto twice = request<std::int64_t>(me, doubler, tuple("double"_a, i), 10s, options);
            REQUIRE(twice.has_value());
            CHECK(*twice == 2 * i);
        }
        CHECK(breakers->state(b.name()) == BreakerState::closed);
    }
}
