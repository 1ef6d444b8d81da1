// Every way our processes call, against real erl and Elixir gen_servers: the blocking call,
// send_request/receive_response, check_response in an actor's handle_info, Actor::call_async and
// co_await in a coroutine process, each with the reply and every error (timeout with the late
// reply dropped, noproc, nodedown, a server that exits mid-call, a connection lost mid-call); a
// coroutine cancelled by an exit signal from erl while it awaits; and a C++ proxy actor that
// 1,000 erl processes call at once while it calls an erl gen_server for each of them.
#include <doctest/doctest.h>

#include <functional>
#include <future>
#include <thread>

#include "distribute/actor.hpp"
#include "distribute/call.hpp"
#include "distribute/coroutine.hpp"
#include "rpc_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// A call's outcome as a term, so that each way of calling can hand it back the same way:
// {ok, Reply} or {error, Code, Reason}.
Term outcome_term(const Expected<Term, CallError>& result) {
    if (result) return tuple(atoms::ok, *result);
    return tuple(atoms::error, static_cast<int>(result.error().code), result.error().reason);
}

Expected<Term, CallError> outcome_of(const Term& t) {
    REQUIRE_MESSAGE((t.is_tuple(2) || t.is_tuple(3)), "not an outcome: " << to_string(t));
    if (t[0].is_atom(atoms::ok)) return t[1];
    return unexpected(
        CallError{static_cast<CallErrc>(t[1].to<std::int64_t>().value()), t[2], {}, {}});
}

// {relay, Server, Request, TimeoutMs}: calls Server with call_async and answers the outcome.
class AsyncRelay : public Actor {
    CallResult handle_call(const Term& request, From from) override {
        auto relay = request.tagged<Term, Term, std::int64_t>(atom("relay"));
        if (!relay) return Reply{Term(atom("bad_request"))};
        auto& [server, inner, ms] = *relay;
        call_async(*ServerRef::from_term(server), inner, std::chrono::milliseconds(ms),
                   [from](Expected<Term, CallError> r) -> HandleResult {
                       from.reply(outcome_term(r));
                       return NoReply{};
                   });
        return NoReply{};
    }
};

// The same with send_request, its answer found by check_response in handle_info, and a timer of
// its own for the timeout (gen_server's own pattern).
class CheckingRelay : public Actor {
    struct Pending {
        From from;
        RequestId id;
        Timer timer;
    };
    std::vector<Pending> pending_;

    CallResult handle_call(const Term& request, From from) override {
        auto relay = request.tagged<Term, Term, std::int64_t>(atom("relay"));
        if (!relay) return Reply{Term(atom("bad_request"))};
        auto& [server, inner, ms] = *relay;
        RequestId id = send_request(self(), *ServerRef::from_term(server), inner);
        Timer timer =
            send_after(self(), std::chrono::milliseconds(ms), tuple(atom("too_late"), id.ref()));
        pending_.push_back({from, id, timer});
        return NoReply{};
    }
    HandleResult handle_info(const Term& message) override {
        for (auto it = pending_.begin(); it != pending_.end(); ++it) {
            if (auto answer = check_response(self(), message, it->id)) {
                it->timer.cancel();
                it->from.reply(outcome_term(*answer));
                pending_.erase(it);
                return NoReply{};
            }
            if (message == tuple(atom("too_late"), it->id.ref())) {
                abandon_request(self(), it->id);
                it->from.reply(outcome_term(
                    unexpected(CallError{CallErrc::timeout, Term(atoms::timeout), {}, {}})));
                pending_.erase(it);
                return NoReply{};
            }
        }
        return NoReply{};
    }
};

using Caller =
    std::function<Expected<Term, CallError>(const ServerRef&, Term, std::chrono::milliseconds)>;

struct Way {
    const char* name;
    Caller call;
};

// Our node, an erl node running rpc_peer_server as `counter`, and each way of calling.
struct Fixture : Calling {
    Mailbox me = node.open_mailbox();
    ProcessHandle async_relay = start(std::make_unique<AsyncRelay>());
    ProcessHandle checking_relay = start(std::make_unique<CheckingRelay>());

    ProcessHandle start(std::unique_ptr<Actor> actor) {
        auto started = spawn_actor(node, std::move(actor));
        REQUIRE(started.has_value());
        return *started;
    }

    Expected<Term, CallError> through(const ProcessHandle& relay, const ServerRef& server,
                                      Term request, std::chrono::milliseconds timeout) {
        auto outcome =
            call(me, ServerRef(relay.pid()),
                 tuple(atom("relay"), server.to_term(), std::move(request), timeout.count()),
                 timeout + 30s);
        REQUIRE_MESSAGE(outcome.has_value(),
                        "the relay did not answer: " << outcome.error().detail);
        return outcome_of(*outcome);
    }

    Expected<Term, CallError> from_coroutine(const ServerRef& server, Term request,
                                             std::chrono::milliseconds timeout) {
        const Pid observer = me.pid();
        const Reference tag = me.make_ref();
        spawn_coroutine(node, [=](CoProcess self) -> Task<> {
            auto result = co_await call(self, server, request, timeout);
            self.send(observer, tuple(tag, outcome_term(result)));
        });
        auto got = me.receive_if([&](const Term& m) { return m.is_tuple(2) && m[0] == Term(tag); },
                                 timeout + 30s);
        REQUIRE_MESSAGE(got.has_value(), "the coroutine did not report");
        return outcome_of((*got)[1]);
    }

    std::vector<Way> ways() {
        return {
            {"blocking call", [this](const ServerRef& s, Term r,
                                     std::chrono::milliseconds t) { return call(me, s, r, t); }},
            {"send_request and receive_response",
             [this](const ServerRef& s, Term r, std::chrono::milliseconds t) {
                 return receive_response(me, send_request(me, s, r), t);
             }},
            {"Actor::call_async",
             [this](const ServerRef& s, Term r, std::chrono::milliseconds t) {
                 return through(async_relay, s, r, t);
             }},
            {"check_response in handle_info",
             [this](const ServerRef& s, Term r, std::chrono::milliseconds t) {
                 return through(checking_relay, s, r, t);
             }},
            {"co_await call",
             [this](const ServerRef& s, Term r, std::chrono::milliseconds t) {
                 return from_coroutine(s, r, t);
             }},
        };
    }
};

}  // namespace

TEST_CASE("every way of calling gets an erl gen_server's reply, by {Name, Node} and by pid") {
    Fixture t;
    INFO(t.log.text());
    register_tester(t.erl);
    Mailbox inbox = named_mailbox(t.node, "inbox");
    const Pid counter_pid = erl_pid(t.erl, t.node, inbox, "whereis(counter)");
    for (auto& way : t.ways()) {
        INFO(way.name);
        auto by_name = way.call(ServerRef("counter"_a, t.peer), tuple(atom("echo"), 1), 10s);
        REQUIRE_MESSAGE(by_name.has_value(), by_name.error().detail);
        CHECK(*by_name == Term(1));
        auto by_pid = way.call(ServerRef(counter_pid), tuple(atom("echo"), binary("x")), 10s);
        REQUIRE(by_pid.has_value());
        CHECK(*by_pid == binary("x"));
    }
    CHECK(t.me.queued() == 0);
}

TEST_CASE("every way of calling reports timeout (the late reply dropped), noproc and nodedown") {
    Fixture t;
    INFO(t.log.text());
    const ServerRef counter("counter"_a, t.peer);
    for (auto& way : t.ways()) {
        INFO(way.name);
        const auto dropped_before = t.node.stats().dropped_messages;
        auto late = way.call(counter, tuple(atom("sleep"), 400), 100ms);
        REQUIRE_FALSE(late.has_value());
        CHECK(late.error().code == CallErrc::timeout);
        CHECK(late.error().reason == Term(atoms::timeout));
        // The server answers in order: once this reply is here, the late one came and went.
        auto next = way.call(counter, atom("get"), 10s);
        REQUIRE(next.has_value());
        CHECK(*next == Term(0));
        CHECK(t.node.stats().dropped_messages > dropped_before);

        auto missing = way.call(ServerRef("nosuch"_a, t.peer), atom("get"), 10s);
        REQUIRE_FALSE(missing.has_value());
        CHECK(missing.error().code == CallErrc::noproc);
        CHECK(missing.error().reason == Term(atoms::noproc));

        const Atom nobody = dead_node();
        auto down = way.call(ServerRef("counter"_a, nobody), atom("get"), 10s);
        REQUIRE_FALSE(down.has_value());
        CHECK(down.error().code == CallErrc::nodedown);
        CHECK(down.error().reason == tuple(atom("nodedown"), nobody));
    }
    CHECK(t.me.queued() == 0);
}

TEST_CASE(
    "every way of calling reports a server that exits mid-call, and a connection lost "
    "mid-call") {
    Fixture t;
    INFO(t.log.text());
    const ServerRef counter("counter"_a, t.peer);
    for (auto& way : t.ways()) {
        INFO(way.name);
        auto stopped =
            way.call(counter, tuple(atom("stop"), tuple(atom("shutdown"), atom("asked"))), 10s);
        REQUIRE_FALSE(stopped.has_value());
        CHECK(stopped.error().code == CallErrc::exited);
        CHECK(stopped.error().reason == tuple(atom("shutdown"), atom("asked")));
        REQUIRE(t.erl.eval("is_pid(rpc_peer_server:start(counter))") == "true");

        auto pending = std::async(std::launch::async, [&] {
            return way.call(counter, tuple(atom("sleep"), 30000), 60s);
        });
        eventually([&] { return erl_sleeping(t.erl); });
        CHECK(t.node.disconnect(t.peer));
        auto lost = pending.get();
        REQUIRE_FALSE(lost.has_value());
        CHECK(lost.error().code == CallErrc::nodedown);
        CHECK(lost.error().reason == tuple(atom("nodedown"), t.peer));
        // The server slept on; a fresh one for the next way.
        REQUIRE(t.erl.eval("exit(whereis(counter), kill), timer:sleep(50), "
                           "is_pid(rpc_peer_server:start(counter))") == "true");
    }
    CHECK(t.me.queued() == 0);
}

TEST_CASE("a coroutine awaiting a call to erl is cancelled by an exit signal erl sends it") {
    Fixture t;
    INFO(t.log.text());
    register_tester(t.erl);
    auto destroyed = std::make_shared<std::promise<void>>();
    const Pid observer = t.me.pid();
    const ServerRef counter("counter"_a, t.peer);
    ProcessHandle waiter = spawn_coroutine(t.node, [=](CoProcess self) -> Task<> {
        struct Sentinel {
            std::shared_ptr<std::promise<void>> done;
            ~Sentinel() { done->set_value(); }
        } sentinel{destroyed};
        self.send(observer, atom("calling"));
        auto never = co_await call(self, counter, tuple(atom("sleep"), 30000), infinity_timeout);
        self.send(observer, tuple(atom("resumed"), outcome_term(never)));
    });
    const Reference ref = t.me.monitor(waiter.pid());
    CHECK(next_message(t.me) == Term(atom("calling")));
    eventually([&] { return erl_sleeping(t.erl); });
    give_erl(t.erl, t.me, "waiter", Term(waiter.pid()));
    CHECK(t.erl.eval("exit(get(waiter), cancelled)") == "true");
    auto down =
        t.me.receive_if([&](const Term& m) { return m.is_tuple(5) && m[1] == Term(ref); }, 15s);
    REQUIRE(down.has_value());
    CHECK((*down)[4] == Term(atom("cancelled")));
    CHECK(destroyed->get_future().wait_for(15s) == std::future_status::ready);
    // Its call is gone with it: erl's monitor of the call is no more, nothing resumed.
    CHECK_FALSE(t.me.receive_if([](const Term& m) { return m.is_tuple(2); }, 500ms).has_value());
}

TEST_CASE("every way of calling works against an Elixir GenServer") {
    REQUIRE_MESSAGE(run({"sh", "-c", "command -v elixir"}, 10s).exit_status == 0,
                    "elixir is not installed");
    Fixture t;
    INFO(t.log.text());
    Mailbox inbox = named_mailbox(t.node, "inbox");
    const std::string script = "cpp = :\"" + std::string(t.node.name().name()) + R"EX("
        defmodule Echo do
          use GenServer
          def init(state), do: {:ok, state}
          def handle_call({:echo, x}, _from, s), do: {:reply, x, s}
          def handle_call({:sleep, ms}, _from, s), do: (Process.sleep(ms); {:reply, :slept, s})
          def handle_call({:crash, reason}, _from, s), do: {:stop, reason, s}
        end
        send({:inbox, cpp}, {:ready, self()})
        loop = fn loop ->
          {:ok, _} = GenServer.start(Echo, [], name: :echo)
          receive do
            :restart -> loop.(loop)
            :stop -> :ok
          after
            120_000 -> IO.puts("no stop")
          end
        end
        loop.(loop)
    )EX";
    auto elixir = std::async(std::launch::async, [&] {
        return run(
            {"elixir", "--sname", unique_name("elixir_echo"), "--cookie", "interop_cookie", "--erl",
             "-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}", "-e", script},
            180s, {"ERL_EPMD_PORT=" + std::to_string(t.cluster.epmd_port())});
    });
    Term ready = next_message(inbox, 60s);
    const Pid main = ready[1].to<Pid>().value();
    const ServerRef echo("echo"_a, main.node);
    for (auto& way : t.ways()) {
        INFO(way.name);
        auto reply = way.call(echo, tuple(atom("echo"), binary("ünï")), 20s);
        REQUIRE_MESSAGE(reply.has_value(), reply.error().detail);
        CHECK(*reply == binary("ünï"));
        auto late = way.call(echo, tuple(atom("sleep"), 300), 50ms);
        REQUIRE_FALSE(late.has_value());
        CHECK(late.error().code == CallErrc::timeout);
        auto missing = way.call(ServerRef("nosuch"_a, main.node), atom("x"), 20s);
        REQUIRE_FALSE(missing.has_value());
        CHECK(missing.error().code == CallErrc::noproc);
        auto crashed = way.call(echo, tuple(atom("crash"), atom("asked")), 20s);
        REQUIRE_FALSE(crashed.has_value());
        CHECK(crashed.error().code == CallErrc::exited);
        CHECK(crashed.error().reason == Term(atom("asked")));
        inbox.send(main, atom("restart"));
        eventually([&] { return call(t.node, echo, tuple(atom("echo"), 1), 5s).has_value(); });
    }
    inbox.send(main, atom("stop"));
    const RunResult result = elixir.get();
    INFO("stderr: " << result.err);
    CHECK(result.exit_status == 0);
    CHECK(t.me.queued() == 0);
}

TEST_CASE("a C++ proxy actor serves 1,000 concurrent erl callers by calling an erl gen_server") {
    // {echo, X}: asks the backend {echo, X} and answers {proxied, Reply}.
    class Proxy : public Actor {
      public:
        explicit Proxy(ServerRef backend) : backend_(std::move(backend)) {}
        CallResult handle_call(const Term& request, From from) override {
            call_async(backend_, request, 30s, [from](Expected<Term, CallError> r) -> HandleResult {
                from.reply(r ? tuple(atom("proxied"), *r) : outcome_term(r));
                return NoReply{};
            });
            return NoReply{};
        }

      private:
        ServerRef backend_;
    };
    Fixture t;
    INFO(t.log.text());
    auto proxy = spawn_actor(t.node, std::make_unique<Proxy>(ServerRef("counter"_a, t.peer)),
                             {.name = atom("proxy")});
    REQUIRE(proxy.has_value());
    const std::string cpp = quoted(t.node.name());
    const std::string answer = t.erl.eval(
        "Self = self(), "
        "Pids = [spawn(fun() -> Self ! {self(), I, gen_server:call({proxy, " +
            cpp +
            "}, {echo, I}, 60000)} end) || I <- lists:seq(1, 1000)], "
            "Got = [receive {P, I, R} -> R =:= {proxied, I} after 90000 -> timeout end "
            "|| {P, I} <- lists:zip(Pids, lists:seq(1, 1000))], "
            "{length([ok || true <- Got]), length(Got)}",
        120s);
    CHECK(answer == "{1000,1000}");
}
