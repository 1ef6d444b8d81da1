// Elixir against our node: a real `elixir --sname` node calling our demo module with :rpc.call
// and :erpc.call, and our node calling an Elixir GenServer.
#include <doctest/doctest.h>

#include <future>

#include "cli/demo_services.hpp"
#include "rpc_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// `elixir -e script` as a node named `name` on the cluster's EPMD, run to completion.
RunResult run_elixir(const Cluster& cluster, const std::string& name, const std::string& script) {
    return run({"elixir", "--sname", name, "--cookie", "interop_cookie", "--erl",
                "-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}", "-e", script},
               90s, {"ERL_EPMD_PORT=" + std::to_string(cluster.epmd_port())});
}

// An Elixir atom literal for a node name.
std::string elixir_atom(Atom name) {
    return ":\"" + std::string(name.name()) + "\"";
}

}  // namespace

TEST_CASE("an Elixir node calls our demo module with :rpc.call and :erpc.call") {
    REQUIRE_MESSAGE(run({"sh", "-c", "command -v elixir"}, 10s).exit_status == 0,
                    "elixir is not installed");
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_for_elixir", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    // Each line is printed by Erlang's ~p, so the expected text is Erlang syntax.
    const std::string script = "cpp = " + elixir_atom(node.name()) + R"EX(
        p = fn x -> :io.format(~c"~p~n", [x]) end
        p.(:rpc.call(cpp, :demo, :add, [1, 2]))
        p.(:rpc.call(cpp, :demo, :add, [Integer.pow(2, 100), 1]))
        m = %{list: [1, 2], text: "ünï", tuple: {:a, 1.5}, pid: self(), ref: make_ref()}
        p.(:erpc.call(cpp, :demo, :echo, [m]) === m)
        p.(:erpc.call(cpp, :demo, :node, []) == cpp)
        p.(try do
             :erpc.call(cpp, :demo, :fail, [:boom])
           catch
             kind, reason -> {kind, reason}
           end)
        p.(try do
             :erpc.call(cpp, :demo, :raise, [:throw, :ball])
           catch
             kind, reason -> {kind, reason}
           end)
        p.(:rpc.call(cpp, :demo, :nosuch, [1]))
        p.(:rpc.call(cpp, Enum, :sum, [[1, 2]]))
        p.(GenServer.call({:rex, cpp}, {:call, :demo, :echo, [:via_rex], :user}))
        p.(:rpc.multicall([cpp, node()], :demo, :echo, [:x]))
    )EX";
    const RunResult result = run_elixir(cluster, unique_name("elixir_caller"), script);
    INFO("stderr: " << result.err);
    CHECK(result.exit_status == 0);
    const std::string expected =
        "3\n"
        "1267650600228229401496703205377\n"
        "true\n"
        "true\n"
        "{error,{exception,boom,[{demo,fail,1,[]}]}}\n"
        "{throw,ball}\n"
        "{badrpc,{'EXIT',{undef,[{demo,nosuch,[1],[]}]}}}\n"
        "{badrpc,{'EXIT',{undef,[{'Elixir.Enum',sum,[[1,2]],[]}]}}}\n"
        "via_rex\n"
        "{[x,{badrpc,{'EXIT',{undef,[{demo,echo,[x],[]}]}}}],[]}\n";
    CHECK(result.out == expected);
}

TEST_CASE("our node calls and casts to an Elixir GenServer by name and by pid") {
    REQUIRE_MESSAGE(run({"sh", "-c", "command -v elixir"}, 10s).exit_status == 0,
                    "elixir is not installed");
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_to_elixir", &log));
    Mailbox inbox = named_mailbox(node, "inbox");
    // The script tells us it is ready, serves until we say stop, and prints what it saw.
    const std::string script = "cpp = " + elixir_atom(node.name()) + R"EX(
        defmodule Stack do
          use GenServer
          def init(items), do: {:ok, items}
          def handle_call(:pop, _from, [top | rest]), do: {:reply, top, rest}
          def handle_call(:pop, _from, []), do: {:reply, :empty, []}
          def handle_call({:crash, reason}, _from, items), do: {:stop, reason, items}
          def handle_cast({:push, item}, items), do: {:noreply, [item | items]}
        end
        {:ok, server} = GenServer.start(Stack, [:bottom], name: :stack)
        send({:inbox, cpp}, {:ready, self(), server})
        receive do
          :stop -> :io.format(~c"stopped ~p~n", [Process.alive?(server)])
        after
          60_000 -> IO.puts("no stop")
        end
    )EX";
    const std::string name = unique_name("elixir_server");
    auto elixir = std::async(std::launch::async, [&] { return run_elixir(cluster, name, script); });
    Term ready = next_message(inbox, 60s);
    REQUIRE(ready.is_tuple(3));
    const auto main = ready[1].to<Pid>();
    const auto server = ready[2].to<Pid>();
    REQUIRE(main.has_value());
    REQUIRE(server.has_value());
    const Atom elixir_node = main->node;

    const ServerRef stack("stack"_a, elixir_node);
    cast(inbox, stack, tuple(atom("push"), binary("from C++")));
    auto top = call(inbox, stack, atom("pop"));
    REQUIRE_MESSAGE(top.has_value(), top.error().detail);
    CHECK(*top == binary("from C++"));
    auto next = call(node, ServerRef(*server), atom("pop"));
    REQUIRE(next.has_value());
    CHECK(*next == Term(atom("bottom")));
    auto empty = call(inbox, stack, atom("pop"));
    REQUIRE(empty.has_value());
    CHECK(*empty == Term(atom("empty")));
    auto missing = call(inbox, ServerRef("nosuch"_a, elixir_node), atom("pop"));
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().code == CallErrc::noproc);
    auto crashed = call(inbox, stack, tuple(atom("crash"), tuple(atoms::shutdown, atom("asked"))));
    REQUIRE_FALSE(crashed.has_value());
    CHECK(crashed.error().code == CallErrc::exited);
    CHECK(crashed.error().reason == tuple(atoms::shutdown, atom("asked")));
    CHECK(inbox.queued() == 0);

    inbox.send(*main, atom("stop"));
    const RunResult result = elixir.get();
    INFO("stderr: " << result.err);
    CHECK(result.exit_status == 0);
    CHECK(result.out == "stopped false\n");
}
