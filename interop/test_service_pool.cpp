// Pools of processes against real erl nodes: Erlang processes calling a C++ actor pool by name
// with gen_server:call, and a C++ call pool calling an Erlang gen_server on two erl nodes, one of
// which goes away (its breaker opens, the calls go to the other).
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "distribute/service_pool.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// Answers any call with {Pid, Request}.
class Echo : public Actor {
  public:
    CallResult handle_call(const Term& request, From) override {
        return Reply{tuple(self().pid(), request)};
    }
};

// An Erlang gen_server registered as `svc` answering every call with {node(), Request}, started
// unlinked from the evaluating process.
constexpr std::string_view start_svc = R"(
    Loop = fun Loop() ->
        receive
            {'$gen_call', From, Req} -> gen:reply(From, {node(), Req}), Loop()
        end
    end,
    register(svc, spawn(fun() -> Loop() end)), ok)";

}  // namespace

TEST_CASE("200 Erlang processes calling a C++ actor pool by name are answered by its workers") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_actor_pool", &log));
    auto pool = start_actor_pool(node, {.name = atom("echo_pool"), .size = 4, .make = [] {
                                            return std::make_unique<Echo>();
                                        }});
    REQUIRE(pool.has_value());
    eventually([&] { return pool->workers().size() == 4; });
    ErlNode erl(cluster.erl_options("erl_pool_caller"));
    const std::string result = erl.eval(
        "Self = self(), Target = {echo_pool, " + quoted(node.name()) +
            "},"
            "[spawn(fun() -> {Pid, N} = gen_server:call(Target, N, 10000), Self ! {done, N, Pid} "
            "end) || N <- lists:seq(1, 200)],"
            "Got = [receive {done, N, P} -> P after 20000 -> timeout end || N <- lists:seq(1, "
            "200)],"
            "{length([P || P <- Got, is_pid(P)]), length(lists:usort(Got))}",
        60s);
    // Every call answered, with its own request, by more than one worker.
    CHECK(result.substr(0, 5) == "{200,");
    CHECK(std::stoi(result.substr(5)) > 1);
    CHECK(pool->forwarded() == 200);
}

TEST_CASE("a C++ call pool calls an Erlang gen_server on two nodes and skips the one that went") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_call_pool", &log));
    ErlNode first(cluster.erl_options("erl_svc1"));
    auto second = std::make_unique<ErlNode>(cluster.erl_options("erl_svc2"));
    CHECK(first.eval(start_svc) == "ok");
    CHECK(second->eval(start_svc) == "ok");
    const Atom first_node = atom(first.node_name());
    const Atom second_node = atom(second->node_name());
    auto breakers = std::make_shared<PeerBreakers>(
        BreakerOptions{.failures_to_open = 1, .open_for = std::chrono::hours(1)});
    CallPool calls(
        node, {.servers = {ServerRef(atom("svc"), first_node), ServerRef(atom("svc"), second_node)},
               .pool = {.max_size = 4},
               .call_timeout = 5s,
               .breakers = breakers});
    std::atomic<int> from_first{0}, from_second{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&, i] {
            for (int k = 0; k < 25; ++k) {
                auto reply = calls.call(Term(static_cast<std::int64_t>(i * 100 + k)));
                REQUIRE(reply.has_value());
                REQUIRE((*reply)[1] == Term(static_cast<std::int64_t>(i * 100 + k)));
                ((*reply)[0].to<Atom>() == first_node ? from_first : from_second).fetch_add(1);
            }
        });
    for (auto& t : threads)
        t.join();
    CHECK(from_first + from_second == 100);
    CHECK(from_first > 0);
    CHECK(from_second > 0);

    second.reset();  // killed
    eventually([&] { return node.nodes().size() == 1; });
    int failed = 0;
    for (int k = 0; k < 10; ++k) {
        auto reply = calls.call(Term("after"_a));
        if (!reply) {
            ++failed;
            CHECK(reply.error().call->code == CallErrc::nodedown);
        } else {
            CHECK((*reply)[0] == Term(first_node));
        }
    }
    CHECK(failed <= 1);
    CHECK(breakers->state(second_node) == BreakerState::open);
}
