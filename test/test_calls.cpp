// The call engine's front ends between C++ processes: request ids and their collections,
// check_response in a handler, name services through a resolver, calls from coroutine
// processes (and their cancellation), and actors that serve a call by calling another server.
#include <doctest/doctest.h>

#include <memory>

#include "distribute/actor.hpp"
#include "distribute/call.hpp"
#include "distribute/coroutine.hpp"
#include "distribute/rpc.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace std::chrono_literals;

namespace {

using namespace testing;

// {echo, X} answers X; hold is answered only when the cast {release, X} comes (with X); {stop,
// R} ends the server with R before it answers.
class Server : public Actor {
    std::vector<From> held_;
    CallResult handle_call(const Term& request, From from) override {
        if (auto echo = request.tagged<Term>("echo"_a)) return Reply{std::get<0>(*echo)};
        if (request.is_atom("hold"_a)) {
            held_.push_back(from);
            return NoReply{};
        }
        if (auto stop = request.tagged<Term>("stop"_a))
            return Stop{std::get<0>(*stop), std::nullopt};
        return Reply{tuple(atoms::error, request)};
    }
    HandleResult handle_cast(const Term& message) override {
        if (auto release = message.tagged<Term>("release"_a)) {
            for (auto& from : held_)
                from.reply(std::get<0>(*release));
            held_.clear();
        }
        return NoReply{};
    }
};

ProcessHandle start_server(Node& node, std::optional<Atom> name = std::nullopt) {
    auto server = spawn_actor(node, std::make_unique<Server>(), {.name = name});
    REQUIRE(server.has_value());
    return *server;
}

void release(const ProcessHandle& from, const ProcessHandle& server, Term value) {
    cast(from, ServerRef(server.pid()), tuple("release"_a, std::move(value)));
}

// Sets *flag when destroyed: shows a coroutine's frame went.
struct Sentinel {
    std::shared_ptr<std::atomic<bool>> flag;
    ~Sentinel() { flag->store(true); }
};

}  // namespace

TEST_SUITE("calls") {
    TEST_CASE("send_request and receive_response: the reply, noproc, and a server that ends") {
        LocalNode n;
        Mailbox me = n.node.open_mailbox();
        ProcessHandle server = start_server(n.node, "srv"_a);
        const RequestId first = send_request(me, ServerRef("srv"_a), tuple("echo"_a, 1));
        const RequestId second = send_request(me, ServerRef(server.pid()), tuple("echo"_a, 2));
        // Answers are taken by id, whatever their order.
        CHECK(receive_response(me, second, 10s).value() == Term(2));
        CHECK(receive_response(me, first, 10s).value() == Term(1));

        auto missing = receive_response(me, send_request(me, ServerRef("nobody"_a), Term(1)), 10s);
        REQUIRE_FALSE(missing.has_value());
        CHECK(missing.error().code == CallErrc::noproc);

        auto ended = receive_response(
            me, send_request(me, ServerRef(server.pid()), tuple("stop"_a, "boom"_a)), 10s);
        REQUIRE_FALSE(ended.has_value());
        CHECK(ended.error().code == CallErrc::exited);
        CHECK(ended.error().reason == Term("boom"_a));
        CHECK(me.queued() == 0);  // no monitor's 'DOWN' left behind
    }

    TEST_CASE("wait_response keeps a request after a timeout; receive_response drops its reply") {
        LocalNode n;
        Mailbox me = n.node.open_mailbox();
        ProcessHandle server = start_server(n.node);
        const RequestId kept = send_request(me, ServerRef(server.pid()), Term("hold"_a));
        auto early = wait_response(me, kept, 1ms);
        REQUIRE_FALSE(early.has_value());
        CHECK(early.error().code == CallErrc::timeout);
        release(me, server, Term(7));
        CHECK(wait_response(me, kept, 10s).value() == Term(7));

        const auto dropped_before = n.node.stats().dropped_messages;
        const RequestId given_up = send_request(me, ServerRef(server.pid()), Term("hold"_a));
        auto late = receive_response(me, given_up, 1ms);
        REQUIRE_FALSE(late.has_value());
        CHECK(late.error().code == CallErrc::timeout);
        release(me, server, Term(8));
        // The reply comes, to an alias that is no more, and the node drops it.
        eventually([&] { return n.node.stats().dropped_messages > dropped_before; });
        CHECK(me.queued() == 0);
    }

    TEST_CASE(
        "check_response: a handler process sends requests and finds the answers among its "
        "messages") {
        LocalNode n;
        Mailbox me = n.node.open_mailbox();
        ProcessHandle server = start_server(n.node);
        const Pid observer = me.pid();
        const Pid target = server.pid();
        auto pending = std::make_shared<std::optional<RequestId>>();
        ProcessHandle client = n.node.spawn([=](const ProcessHandle& self, Term m) {
            if (m.is_atom("go"_a)) {
                *pending = send_request(self, ServerRef(target), tuple("echo"_a, "hi"_a));
                return;
            }
            if (!*pending) return;
            if (auto answer = check_response(self, m, **pending))
                self.send(observer, tuple("answered"_a, answer->value()));
            else
                self.send(observer, tuple("other"_a, m));
        });
        client.send(client.pid(), Term("unrelated"_a));
        client.send(client.pid(), Term("go"_a));
        me.send(client.pid(), Term("after"_a));
        Term first = next_message(me);
        CHECK((first == tuple("other"_a, "after"_a) || first == tuple("answered"_a, "hi"_a)));
        Term second = next_message(me);
        CHECK((second == tuple("other"_a, "after"_a) || second == tuple("answered"_a, "hi"_a)));
        CHECK(first != second);
    }

    TEST_CASE(
        "request id collections: labels, whichever answer comes first, no_request, and a "
        "timeout that gives them all up") {
        LocalNode n;
        Mailbox me = n.node.open_mailbox();
        ProcessHandle server = start_server(n.node);
        RequestIdCollection requests;
        for (int i = 0; i < 3; ++i)
            CHECK(requests.add(send_request(me, ServerRef(server.pid()), tuple("echo"_a, i * 10)),
                               Term(i)));
        const auto duplicate = requests.to_list().front().first;
        CHECK_FALSE(requests.add(duplicate, Term("again"_a)));
        CHECK(requests.size() == 3);
        std::vector<std::int64_t> seen;
        while (!requests.empty()) {
            auto got = receive_response(me, requests, 10s);
            REQUIRE(got.has_value());
            REQUIRE(got->result.has_value());
            CHECK(*got->result == Term(got->label.to<std::int64_t>().value() * 10));
            seen.push_back(got->label.to<std::int64_t>().value());
        }
        std::sort(seen.begin(), seen.end());
        CHECK(seen == std::vector<std::int64_t>{0, 1, 2});
        auto none = receive_response(me, requests, 10ms);
        REQUIRE_FALSE(none.has_value());
        CHECK(none.error().code == CallErrc::no_request);

        // wait_response with remove = false leaves the answered request in.
        requests.add(send_request(me, ServerRef(server.pid()), tuple("echo"_a, 5)), Term("five"_a));
        auto kept = wait_response(me, requests, 10s, false);
        REQUIRE(kept.has_value());
        CHECK(kept->label == Term("five"_a));
        CHECK(requests.size() == 1);
        requests = RequestIdCollection();

        requests.add(send_request(me, ServerRef(server.pid()), Term("hold"_a)), Term(1));
        requests.add(send_request(me, ServerRef(server.pid()), Term("hold"_a)), Term(2));
        auto timed_out = receive_response(me, requests, 1ms);
        REQUIRE_FALSE(timed_out.has_value());
        CHECK(timed_out.error().code == CallErrc::timeout);
        CHECK(requests.empty());
        const auto dropped_before = n.node.stats().dropped_messages;
        release(me, server, Term("late"_a));
        eventually([&] { return n.node.stats().dropped_messages > dropped_before; });
        CHECK(me.queued() == 0);
    }

    TEST_CASE("a name service's names: {global, Name} through the resolver the node has for it") {
        LocalNode n;
        Mailbox me = n.node.open_mailbox();
        ProcessHandle server = start_server(n.node);
        const Pid pid = server.pid();
        n.node.set_name_resolver("global"_a, [pid](const Term& name) -> std::optional<Pid> {
            if (name == binary("db")) return pid;
            return std::nullopt;
        });
        CHECK(call(me, ServerRef::global(binary("db")), tuple("echo"_a, 1)).value() == Term(1));
        auto missing = call(me, ServerRef::global(binary("nobody")), Term(1));
        REQUIRE_FALSE(missing.has_value());
        CHECK(missing.error().code == CallErrc::noproc);
        // A {via, Module, Name} of a module with no resolver knows no name.
        auto via = call(me, ServerRef::registered("my_registry"_a, binary("db")), Term(1));
        REQUIRE_FALSE(via.has_value());
        CHECK(via.error().code == CallErrc::noproc);
        me.send(ServerRef::global(binary("db")),
                tuple(atoms::gen_call, tuple(me.pid(), "plain_tag"_a), tuple("echo"_a, 3)));
        CHECK(next_message(me) == tuple("plain_tag"_a, 3));
    }

    TEST_CASE("a call to oneself fails with calling_self, by pid and by name") {
        LocalNode n;
        Mailbox me = n.node.open_mailbox();
        REQUIRE(n.node.register_name("me"_a, me.pid()).has_value());
        for (const ServerRef& self : {ServerRef(me.pid()), ServerRef("me"_a)}) {
            auto got = call(me, self, Term(1), 10s);
            REQUIRE_FALSE(got.has_value());
            CHECK(got.error().code == CallErrc::exited);
            CHECK(got.error().reason == Term("calling_self"_a));
        }
        CHECK(me.queued() == 0);
    }

    TEST_CASE("co_await call in a coroutine process: reply, timeout, noproc, a server that ends") {
        LocalNode n;
        Mailbox me = n.node.open_mailbox();
        ProcessHandle server = start_server(n.node, "srv"_a);
        const Pid observer = me.pid();
        const auto dropped_before = n.node.stats().dropped_messages;
        spawn_coroutine(n.node, [observer](CoProcess self) -> Task<> {
            auto report = [&](const Expected<Term, CallError>& r) {
                self.send(observer, r ? tuple(atoms::ok, *r)
                                      : tuple(atoms::error, static_cast<int>(r.error().code),
                                              r.error().reason));
            };
            report(co_await call(self, ServerRef("srv"_a), tuple("echo"_a, 1)));
            report(co_await call(self, ServerRef("srv"_a), Term("hold"_a), 1ms));
            cast(self, ServerRef("srv"_a), tuple("release"_a, 2));
            report(co_await call(self, ServerRef("nobody"_a), Term(3)));
            report(co_await call(self, ServerRef("srv"_a), tuple("stop"_a, "bye"_a)));
            // Waiting for a message that never comes, for a while: the late reply must not be it.
            auto quiet = co_await self.receive(300ms);
            self.send(observer, quiet ? tuple("unexpected"_a, *quiet) : Term("quiet"_a));
        });
        CHECK(next_message(me) == tuple(atoms::ok, 1));
        CHECK(next_message(me) ==
              tuple(atoms::error, static_cast<int>(CallErrc::timeout), Term(atoms::timeout)));
        CHECK(next_message(me) ==
              tuple(atoms::error, static_cast<int>(CallErrc::noproc), Term(atoms::noproc)));
        CHECK(next_message(me) == tuple(atoms::error, static_cast<int>(CallErrc::exited), "bye"_a));
        CHECK(next_message(me) == Term("quiet"_a));
        CHECK(n.node.stats().dropped_messages > dropped_before);
        (void)server;
    }

    TEST_CASE("a coroutine killed while it awaits a call: its frame is destroyed, it exits") {
        LocalNode n;
        Mailbox me = n.node.open_mailbox();
        ProcessHandle server = start_server(n.node);
        auto destroyed = std::make_shared<std::atomic<bool>>(false);
        const Pid target = server.pid();
        const Pid observer = me.pid();
        ProcessHandle waiter = spawn_coroutine(n.node, [=](CoProcess self) -> Task<> {
            Sentinel sentinel{destroyed};
            self.send(observer, Term("calling"_a));
            auto never = co_await call(self, ServerRef(target), Term("hold"_a), infinity_timeout);
            self.send(observer, tuple("resumed"_a, never.has_value()));
        });
        const Reference ref = me.monitor(waiter.pid());
        CHECK(next_message(me) == Term("calling"_a));
        me.exit(waiter.pid(), Term("cancelled"_a));
        CHECK(down_reason(me, ref) == Term("cancelled"_a));
        eventually([&] { return destroyed->load(); });
        CHECK(none_queued(me, [](const Term& m) { return m.is_tuple(2); }));

        // A trapping coroutine gets the signal as a message instead, and goes on.
        ProcessHandle trapper = spawn_coroutine(
            n.node,
            [observer](CoProcess self) -> Task<> {
                auto m = co_await self.receive();
                self.send(observer, tuple("got"_a, *m));
            },
            true);
        me.exit(trapper.pid(), Term("stop"_a));
        CHECK(next_message(me) == tuple("got"_a, tuple(atoms::EXIT, me.pid(), "stop"_a)));
    }

    TEST_CASE("a coroutine sleeps with its messages left queued, and receives with a timeout") {
        LocalNode n;
        Mailbox me = n.node.open_mailbox();
        const Pid observer = me.pid();
        ProcessHandle sleeper = spawn_coroutine(n.node, [observer](CoProcess self) -> Task<> {
            co_await self.sleep(50ms);
            auto first = co_await self.receive(0ms);
            auto none = co_await self.receive(20ms);
            self.send(observer,
                      tuple(first ? *first : Term("none"_a), none ? *none : Term("timeout"_a)));
        });
        sleeper.send(sleeper.pid(), Term("early"_a));
        CHECK(next_message(me) == tuple("early"_a, "timeout"_a));
    }

    TEST_CASE("an actor serves a call by calling another server: NoReply, call_async, From") {
        // {get, X}: asks the backend {echo, X} and answers {proxied, Reply}; slow: a backend
        // request that never answers, given up after 50 ms.
        class Proxy : public Actor {
          public:
            explicit Proxy(Pid backend) : backend_(backend) {}
            CallResult handle_call(const Term& request, From from) override {
                if (auto get = request.tagged<Term>("get"_a)) {
                    call_async(ServerRef(backend_), tuple("echo"_a, std::get<0>(*get)), 5s,
                               [from](Expected<Term, CallError> r) -> HandleResult {
                                   from.reply(tuple("proxied"_a, r.value()));
                                   return NoReply{};
                               });
                    return NoReply{};
                }
                call_async(ServerRef(backend_), Term("hold"_a), 50ms,
                           [from](Expected<Term, CallError> r) -> HandleResult {
                               from.reply(tuple(atoms::error, static_cast<int>(r.error().code)));
                               return Stop{Term("gave_up"_a), std::nullopt};
                           });
                return NoReply{};
            }

          private:
            Pid backend_;
        };
        LocalNode n;
        Mailbox me = n.node.open_mailbox();
        ProcessHandle backend = start_server(n.node);
        auto proxy = spawn_actor(n.node, std::make_unique<Proxy>(backend.pid()));
        REQUIRE(proxy.has_value());
        RequestIdCollection many;
        for (int i = 0; i < 50; ++i)
            many.add(send_request(me, ServerRef(proxy->pid()), tuple("get"_a, i)), Term(i));
        while (!many.empty()) {
            auto got = receive_response(me, many, 10s);
            REQUIRE(got.has_value());
            CHECK(got->result.value() == tuple("proxied"_a, got->label));
        }
        const Reference ref = me.monitor(proxy->pid());
        CHECK(call(me, ServerRef(proxy->pid()), Term("slow"_a), 10s).value() ==
              tuple(atoms::error, static_cast<int>(CallErrc::timeout)));
        CHECK(down_reason(me, ref) == Term("gave_up"_a));
    }

    TEST_CASE("co_await rpc from a coroutine runs a function on another C++ node") {
        const auto port = free_port();
        Node a = start_node(node_options(port, "co_rpc_a"));
        Node b = start_node(node_options(port, "co_rpc_b"));
        rpc_registry(b).add("math"_a, "double"_a, 1, [](std::span<const Term> args) -> RpcResult {
            return Term(args[0].to<std::int64_t>().value() * 2);
        });
        Mailbox me = a.open_mailbox();
        const Pid observer = me.pid();
        const Atom other = b.name();
        spawn_coroutine(a, [observer, other](CoProcess self) -> Task<> {
            std::vector<Term> args{Term(21)};
            auto twice = co_await rpc(self, other, "math"_a, "double"_a, std::move(args));
            auto missing = co_await rpc(self, other, "math"_a, "nothing"_a, std::vector<Term>());
            self.send(observer, tuple(twice.value(), static_cast<int>(missing.error().code)));
        });
        CHECK(next_message(me) == tuple(42, static_cast<int>(RpcErrc::undef)));
    }
}
