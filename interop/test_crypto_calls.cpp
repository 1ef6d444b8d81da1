// Calls between our own nodes in require mode, every connection encrypted: call_async and
// coroutine calls (hundreds in flight at once, noproc, nodedown when the server's node goes),
// service pools (a call pool over actor pools on two nodes, one of which goes), sys and
// introspection asked of an actor by another node, and multi_call and abcast across three nodes
// (a node without the server a bad node; a BEAM node refused both ways). test_crypto.cpp has the
// transport itself, test_crypto_services.cpp the services above it.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "crypto_support.hpp"
#include "distribute/actor.hpp"
#include "distribute/call.hpp"
#include "distribute/coroutine.hpp"
#include "distribute/rpc.hpp"
#include "distribute/service_pool.hpp"
#include "sys_request.hpp"

using namespace distribute;
using namespace distribute::testing;

// Named, for the C++ type introspection shows.
namespace crypto_calls {

// What calls made without blocking gave back, gathered from the node's threads.
class Outcomes {
  public:
    void add(Expected<Term, CallError> outcome) {
        std::lock_guard lock(mutex_);
        outcomes_.push_back(std::move(outcome));
    }
    // Every outcome, once `count` are in.
    std::vector<Expected<Term, CallError>> await(std::size_t count) {
        eventually(
            [&] {
                std::lock_guard lock(mutex_);
                return outcomes_.size() >= count;
            },
            30s);
        std::lock_guard lock(mutex_);
        return outcomes_;
    }

  private:
    std::mutex mutex_;
    std::vector<Expected<Term, CallError>> outcomes_;
};

// The replies of `outcomes` (each must be one), sorted.
std::vector<std::int64_t> sorted_replies(const std::vector<Expected<Term, CallError>>& outcomes) {
    std::vector<std::int64_t> replies;
    for (const auto& outcome : outcomes) {
        REQUIRE_MESSAGE(outcome.has_value(), outcome.error().detail);
        replies.push_back(outcome->to<std::int64_t>().value());
    }
    std::sort(replies.begin(), replies.end());
    return replies;
}

std::vector<std::int64_t> one_to(std::int64_t count) {
    std::vector<std::int64_t> numbers;
    for (std::int64_t i = 1; i <= count; ++i)
        numbers.push_back(i);
    return numbers;
}

// Holds every call {echo, X} (counting them in `held`) until `count` are held, then answers
// each with its X: unless `count` calls are in flight at once, none is answered.
class Gate : public Actor {
  public:
    Gate(std::size_t count, std::shared_ptr<std::atomic<std::size_t>> held)
        : count_(count), held_(std::move(held)) {}
    CallResult handle_call(const Term& request, From from) override {
        auto echo = request.tagged<Term>("echo"_a);
        if (!echo) return Reply{tuple(atoms::error, request)};
        waiting_.emplace_back(from, std::get<0>(*echo));
        held_->fetch_add(1);
        if (waiting_.size() == count_) {
            for (const auto& [caller, value] : waiting_)
                caller.reply(value);
            waiting_.clear();
        }
        return NoReply{};
    }

  private:
    std::size_t count_;
    std::shared_ptr<std::atomic<std::size_t>> held_;
    std::vector<std::pair<From, Term>> waiting_;
};

// On the cast {ask, N}: N calls of `server` with call_async in one turn, {echo, 1} to {echo, N},
// each outcome added to `outcomes`.
class AsyncCaller : public Actor {
  public:
    AsyncCaller(ServerRef server, std::shared_ptr<Outcomes> outcomes)
        : server_(std::move(server)), outcomes_(std::move(outcomes)) {}
    HandleResult handle_cast(const Term& message) override {
        auto ask = message.tagged<std::int64_t>("ask"_a);
        if (!ask) return NoReply{};
        for (std::int64_t i = 1; i <= std::get<0>(*ask); ++i)
            call_async(server_, tuple("echo"_a, i), 60s,
                       [outcomes = outcomes_](Expected<Term, CallError> outcome) -> HandleResult {
                           outcomes->add(std::move(outcome));
                           return NoReply{};
                       });
        return NoReply{};
    }

  private:
    ServerRef server_;
    std::shared_ptr<Outcomes> outcomes_;
};

// An AsyncCaller of `server` on `node`, asked for `count` calls.
void call_async_from(Node& node, const ServerRef& server, std::int64_t count,
                     std::shared_ptr<Outcomes> outcomes) {
    auto caller = spawn_actor(node, std::make_unique<AsyncCaller>(server, std::move(outcomes)));
    REQUIRE(caller.has_value());
    cast(node.open_mailbox(), ServerRef(caller->pid()), tuple("ask"_a, count));
}

// `count` coroutine processes on `node`, the i-th awaiting the call {echo, i} of `server`.
void call_from_coroutines(Node& node, const ServerRef& server, std::int64_t count,
                          const std::shared_ptr<Outcomes>& outcomes) {
    for (std::int64_t i = 1; i <= count; ++i)
        spawn_coroutine(node, [server, i, outcomes](CoProcess self) -> Task<> {
            outcomes->add(co_await call(self, server, tuple("echo"_a, i), 60s));
        });
}

// The outcome is nodedown, `node` named in the reason.
void check_nodedown(const Expected<Term, CallError>& outcome, Atom node) {
    REQUIRE_FALSE(outcome.has_value());
    CHECK(outcome.error().code == CallErrc::nodedown);
    CHECK(outcome.error().reason == tuple("nodedown"_a, node));
}

// Answers any call with {its own pid, Request}.
class Echo : public Actor {
  public:
    CallResult handle_call(const Term& request, From) override {
        return Reply{tuple(self().pid(), request)};
    }
};

// Call `get` answers the count, cast `add` adds one; sys sees the count as its state.
class Counter : public Actor {
  public:
    CallResult handle_call(const Term& request, From) override {
        if (request.is_atom("get"_a)) return Reply{Term(count_)};
        return Reply{tuple(atoms::error, request)};
    }
    HandleResult handle_cast(const Term& message) override {
        if (message.is_atom("add"_a)) ++count_;
        return NoReply{};
    }
    std::optional<Term> state() const override { return map({{Term("count"_a), Term(count_)}}); }

  private:
    std::int64_t count_ = 0;
};

// Answers {echo, X} with X and tells `observer` {cast, Message} of every cast.
class Echoer : public Actor {
  public:
    explicit Echoer(Pid observer) : observer_(observer) {}
    CallResult handle_call(const Term& request, From) override {
        if (auto echo = request.tagged<Term>("echo"_a)) return Reply{std::get<0>(*echo)};
        return Reply{tuple(atoms::error, request)};
    }
    HandleResult handle_cast(const Term& message) override {
        self().send(observer_, tuple("cast"_a, message));
        return NoReply{};
    }

  private:
    Pid observer_;
};

std::vector<Atom> sorted(std::vector<Atom> nodes) {
    std::sort(nodes.begin(), nodes.end());
    return nodes;
}

}  // namespace crypto_calls

using namespace crypto_calls;

TEST_SUITE("crypto") {
    TEST_CASE(
        "require mode: call_async and coroutine calls to an actor on another of our nodes, 200 "
        "of each in flight at once; noproc; nodedown, not a hang, when the server's node goes") {
        RequireNodes n({"async_a", "async_b"});
        INFO(n.log_text());
        Node &a = n[0], &b = n[1];
        // A gate for 200 on b: it answers only once 200 calls wait in it together.
        auto passed = std::make_shared<std::atomic<std::size_t>>(0);
        REQUIRE(spawn_actor(b, std::make_unique<Gate>(200, passed), {.name = "gate"_a}));
        const ServerRef gate("gate"_a, b.name());

        auto from_actor = std::make_shared<Outcomes>();
        call_async_from(a, gate, 200, from_actor);
        CHECK(sorted_replies(from_actor->await(200)) == one_to(200));
        n.check_encrypted({0, 1});
        auto from_coroutines = std::make_shared<Outcomes>();
        call_from_coroutines(a, gate, 200, from_coroutines);
        CHECK(sorted_replies(from_coroutines->await(200)) == one_to(200));
        CHECK(*passed == 400);

        // A name nobody has on b: noproc, both ways.
        const ServerRef nosuch("nosuch"_a, b.name());
        auto missing = std::make_shared<Outcomes>();
        call_async_from(a, nosuch, 1, missing);
        call_from_coroutines(a, nosuch, 1, missing);
        for (const auto& outcome : missing->await(2)) {
            REQUIRE_FALSE(outcome.has_value());
            CHECK(outcome.error().code == CallErrc::noproc);
            CHECK(outcome.error().reason == Term(atoms::noproc));
        }

        // A gate that never opens holds one call of each kind; b goes while they wait.
        auto held = std::make_shared<std::atomic<std::size_t>>(0);
        REQUIRE(spawn_actor(b, std::make_unique<Gate>(1000, held), {.name = "holder"_a}));
        const ServerRef holder("holder"_a, b.name());
        auto cut_off = std::make_shared<Outcomes>();
        call_async_from(a, holder, 1, cut_off);
        call_from_coroutines(a, holder, 1, cut_off);
        eventually([&] { return *held == 2; });
        b.stop();
        for (const auto& outcome : cut_off->await(2))
            check_nodedown(outcome, b.name());
        CHECK_FALSE(n.log(0).contains("security=plaintext"));
    }

    TEST_CASE(
        "require mode: a call pool on one of our nodes over actor pools on two others; the "
        "calls spread over both pools' workers, and skip the node that goes") {
        RequireNodes n({"pool_a", "pool_b", "pool_c"});
        INFO(n.log_text());
        Node &a = n[0], &b = n[1], &c = n[2];
        std::vector<ActorPool> pools;
        for (Node* node : {&b, &c}) {
            auto pool = start_actor_pool(*node, {.name = "echo_pool"_a, .size = 4, .make = [] {
                                                     return std::make_unique<Echo>();
                                                 }});
            REQUIRE(pool.has_value());
            eventually([&] { return pool->workers().size() == 4; });
            pools.push_back(std::move(*pool));
        }
        auto breakers = std::make_shared<PeerBreakers>(
            BreakerOptions{.failures_to_open = 1, .open_for = std::chrono::hours(1)});
        CallPool calls(
            a, {.servers = {ServerRef("echo_pool"_a, b.name()), ServerRef("echo_pool"_a, c.name())},
                .pool = {.max_size = 4},
                .call_timeout = 15s,
                .breakers = breakers});

        // Four threads, 25 calls each, at most four in flight.
        std::vector<std::vector<Expected<Term, CallPoolError>>> replies(4);
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < replies.size(); ++t)
            threads.emplace_back([&, t] {
                for (std::int64_t k = 0; k < 25; ++k)
                    replies[t].push_back(calls.call(Term(static_cast<std::int64_t>(t) * 100 + k)));
            });
        for (auto& thread : threads)
            thread.join();
        std::vector<Pid> answered_on_b, answered_on_c;
        for (std::size_t t = 0; t < replies.size(); ++t)
            for (std::int64_t k = 0; k < 25; ++k) {
                const auto& reply = replies[t][static_cast<std::size_t>(k)];
                REQUIRE_MESSAGE(reply.has_value(), reply.error().detail);
                CHECK((*reply)[1] == Term(static_cast<std::int64_t>(t) * 100 + k));
                const Pid worker = (*reply)[0].to<Pid>().value();
                REQUIRE((worker.node == b.name() || worker.node == c.name()));
                (worker.node == b.name() ? answered_on_b : answered_on_c).push_back(worker);
            }
        n.check_encrypted({0, 1});
        n.check_encrypted({0, 2});
        CHECK(answered_on_b.size() + answered_on_c.size() == 100);
        CHECK(pools[0].forwarded() == answered_on_b.size());
        CHECK(pools[1].forwarded() == answered_on_c.size());
        // Each pool's router spread its calls over more than one worker.
        for (auto* answered : {&answered_on_b, &answered_on_c}) {
            std::sort(answered->begin(), answered->end());
            CHECK(std::unique(answered->begin(), answered->end()) - answered->begin() > 1);
        }

        // c goes: at most one call fails (nodedown, which opens c's breaker); the rest go to b.
        c.stop();
        eventually([&] {
            const auto nodes = a.nodes();
            return std::find(nodes.begin(), nodes.end(), c.name()) == nodes.end();
        });
        int failed = 0;
        for (int k = 0; k < 10; ++k) {
            auto reply = calls.call(Term("after"_a));
            if (!reply) {
                ++failed;
                REQUIRE(reply.error().call.has_value());
                CHECK(reply.error().call->code == CallErrc::nodedown);
            } else {
                CHECK((*reply)[0].to<Pid>().value().node == b.name());
            }
        }
        CHECK(failed <= 1);
        CHECK(breakers->state(c.name()) == BreakerState::open);
    }

    TEST_CASE(
        "require mode: sys and introspection of an actor asked by another of our nodes; "
        "get_state in that node's shape, get_status, statistics, suspend holding a call until "
        "resume; process_info, processes, whereis, and undefined once it ended") {
        RequireNodes n({"sys_a", "sys_b"});
        INFO(n.log_text());
        Node &a = n[0], &b = n[1];
        auto counter = spawn_actor(b, std::make_unique<Counter>(), {.name = "counter"_a});
        REQUIRE(counter.has_value());
        const Pid pid = counter->pid();
        Mailbox me = a.open_mailbox();
        // erlang:Function(Args) on b, asked by a through rpc, as a BEAM operator asks.
        auto ask_b = [&](const char* function, std::vector<Term> args) {
            return rpc(a, b.name(), "erlang"_a, atom(function), std::move(args), 15s);
        };
        auto on_b = [&](const char* function, std::vector<Term> args) {
            auto answer = ask_b(function, std::move(args));
            REQUIRE_MESSAGE(answer.has_value(), answer.error().detail);
            return *answer;
        };
        CHECK(on_b("whereis", {Term("counter"_a)}) == Term(pid));
        n.check_encrypted({0, 1});

        // Monitored from a; two casts and a call, which the monitor came before.
        const Reference watch = me.monitor(pid);
        cast(me, ServerRef(pid), "add"_a);
        cast(me, ServerRef(pid), "add"_a);
        auto count = call(me, ServerRef(pid), "get"_a, 15s);
        REQUIRE(count.has_value());
        CHECK(*count == Term(2));
        const Term info =
            on_b("process_info",
                 {Term(pid), list("registered_name"_a, "message_queue_len"_a, "monitored_by"_a,
                                  "current_function"_a, "initial_call"_a)});
        const Atom type = atom("crypto_calls::Counter");
        CHECK(info == list(tuple("registered_name"_a, "counter"_a), tuple("message_queue_len"_a, 0),
                           tuple("monitored_by"_a, list(me.pid())),
                           tuple("current_function"_a, tuple(type, "loop"_a, 0)),
                           tuple("initial_call"_a, tuple("proc_lib"_a, "init_p"_a, 5))));
        const Term processes = on_b("processes", {});
        const auto listed = processes.elements();
        CHECK(std::find(listed.begin(), listed.end(), Term(pid)) != listed.end());
        CHECK(on_b("is_process_alive", {Term(pid)}) == Term(true));
        auto bogus = ask_b("process_info", {Term(pid), Term("bogus"_a)});
        REQUIRE_FALSE(bogus.has_value());
        CHECK(bogus.error().code == RpcErrc::exception);
        CHECK(bogus.error().reason == Term(atoms::badarg));

        // sys from a. get_state: {ok, State}, the shape of a's release (asked of a, or seen in
        // its handshake).
        CHECK(sys_request(me, pid, "get_state"_a) ==
              tuple(atoms::ok, map({{Term("count"_a), Term(2)}})));
        CHECK(sys_request(me, pid, "get_status"_a) ==
              tuple("status"_a, pid, tuple("module"_a, "gen_server"_a),
                    list(list(tuple("$ancestors"_a, Term()),
                              tuple("$initial_call"_a, tuple(type, "init"_a, 1))),
                         "running"_a, pid, Term(),
                         list(tuple("header"_a, *charlist("Status for generic server counter")),
                              tuple("data"_a, list(tuple(*charlist("Status"), "running"_a),
                                                   tuple(*charlist("Parent"), pid),
                                                   tuple(*charlist("Logged events"), Term()))),
                              tuple("data"_a, list(tuple(*charlist("State"),
                                                         map({{Term("count"_a), Term(2)}}))))))));
        CHECK_FALSE(n.log(1).contains("is unknown"));

        // statistics: a cast and a call in, the call's reply out.
        CHECK(sys_request(me, pid, tuple("debug"_a, tuple("statistics"_a, true))) ==
              Term(atoms::ok));
        cast(me, ServerRef(pid), "add"_a);
        count = call(me, ServerRef(pid), "get"_a, 15s);
        REQUIRE(count.has_value());
        CHECK(*count == Term(3));
        const Term stats = sys_request(me, pid, tuple("debug"_a, tuple("statistics"_a, "get"_a)));
        REQUIRE(stats.is_tuple(2));
        CHECK(stats[0] == Term(atoms::ok));
        std::vector<Term> keys;
        for (const Term& item : stats[1].elements())
            keys.push_back(item[0]);
        CHECK(keys == std::vector<Term>{Term("start_time"_a), Term("current_time"_a),
                                        Term("reductions"_a), Term("messages_in"_a),
                                        Term("messages_out"_a)});
        CHECK(stats[1].elements()[3] == tuple("messages_in"_a, 2));
        CHECK(stats[1].elements()[4] == tuple("messages_out"_a, 1));
        CHECK(sys_request(me, pid, tuple("debug"_a, tuple("statistics"_a, false))) ==
              Term(atoms::ok));

        // Suspended: a cast and a call wait while system messages are served; get_status's reply
        // comes after any the call could have had. Resumed: the call is answered, the cast seen.
        CHECK(sys_request(me, pid, "suspend"_a) == Term(atoms::ok));
        cast(me, ServerRef(pid), "add"_a);
        const RequestId waiting = send_request(me, ServerRef(pid), "get"_a);
        const Term status = sys_request(me, pid, "get_status"_a);
        REQUIRE(status.is_tuple(4));
        CHECK(status[3].elements()[1] == Term("suspended"_a));
        auto not_yet = wait_response(me, waiting, 0ms);
        REQUIRE_FALSE(not_yet.has_value());
        CHECK(not_yet.error().code == CallErrc::timeout);
        CHECK(sys_request(me, pid, "resume"_a) == Term(atoms::ok));
        auto answered = receive_response(me, waiting, 15s);
        REQUIRE(answered.has_value());
        CHECK(*answered == Term(4));

        // Killed from a: b answers as a BEAM does for a process that ended.
        me.exit(pid, Term("kill"_a));
        CHECK(down_reason(me, watch) == Term(atoms::killed));
        CHECK(on_b("process_info", {Term(pid), list("registered_name"_a)}) ==
              Term(atoms::undefined));
        CHECK(on_b("is_process_alive", {Term(pid)}) == Term(false));
        CHECK(on_b("whereis", {Term("counter"_a)}) == Term(atoms::undefined));
    }

    TEST_CASE(
        "require mode: multi_call and abcast across three of our nodes, the one without the "
        "server a bad node; a BEAM node is refused both ways and is a bad node too") {
        RequireNodes n({"mc_a", "mc_b", "mc_c"});
        INFO(n.log_text());
        Node &a = n[0], &b = n[1], &c = n[2];
        Mailbox seen_on_a = a.open_mailbox(), seen_on_b = b.open_mailbox();
        REQUIRE(spawn_actor(a, std::make_unique<Echoer>(seen_on_a.pid()), {.name = "mc"_a}));
        REQUIRE(spawn_actor(b, std::make_unique<Echoer>(seen_on_b.pid()), {.name = "mc"_a}));
        const std::vector<Atom> everyone{a.name(), b.name(), c.name()};

        // From a: its own reply and b's; c, which has no mc, is bad.
        auto result = multi_call(a, everyone, "mc"_a, tuple("echo"_a, "hi"_a), 15s);
        REQUIRE(result.has_value());
        std::vector<Atom> replied;
        for (const auto& [node, reply] : result->replies) {
            CHECK(reply == Term("hi"_a));
            replied.push_back(node);
        }
        CHECK(sorted(replied) == sorted({a.name(), b.name()}));
        CHECK(result->bad_nodes == std::vector<Atom>{c.name()});

        // From c to all three: both servers get the cast, and c goes on.
        Mailbox caster = c.open_mailbox();
        abcast(caster, everyone, "mc"_a, tuple("add"_a, 1));
        CHECK(next_message(seen_on_a) == tuple("cast"_a, tuple("add"_a, 1)));
        CHECK(next_message(seen_on_b) == tuple("cast"_a, tuple("add"_a, 1)));
        CHECK(c.ping(b.name()));
        n.check_encrypted({0, 1, 2});

        // A BEAM node's multi_call finds both servers' nodes refusing it...
        ErlNode erl(n.cluster().erl_options("erl_mc_refused"));
        const std::vector<Atom> servers = sorted({a.name(), b.name()});
        // As erl prints them: such node names need no quotes.
        std::string printed(servers[0].name());
        printed.append(1, ',').append(servers[1].name());
        CHECK(erl.eval("{Replies, Bad} = gen_server:multi_call([" + quoted(servers[0]) + ", " +
                       quoted(servers[1]) +
                       "], mc, {echo, hi}, 10000), {Replies, lists:sort(Bad)}") ==
              "{[],[" + printed + "]}");
        eventually([&] { return n.log(0).contains("this node requires encryption"); });
        CHECK(erl.eval("nodes()") == "[]");
        // ...and ours does not dial it: a bad node of a's multi_call.
        const Atom beam = atom(erl.node_name());
        result = multi_call(a, {b.name(), beam}, "mc"_a, tuple("echo"_a, "again"_a), 15s);
        REQUIRE(result.has_value());
        REQUIRE(result->replies.size() == 1);
        CHECK(result->replies[0] == std::pair<Atom, Term>{b.name(), Term("again"_a)});
        CHECK(result->bad_nodes == std::vector<Atom>{beam});
        CHECK_FALSE(n.log(0).contains("security=plaintext"));
    }
}
