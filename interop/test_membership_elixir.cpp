// Elixir's :pg and :global reaching C++ processes: a real `elixir --sname` node joins the
// cluster, finds our members and names, and calls a C++ actor with GenServer.call({:global, name}).
#include <doctest/doctest.h>

#include <future>

#include "distribute/actor.hpp"
#include "membership_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

class Greeter : public Actor {
  public:
    CallResult handle_call(const Term& request, From) override {
        return Reply{tuple("hello"_a, request)};
    }
};

}  // namespace

TEST_CASE("an Elixir node sees our :pg members and :global names and calls {:global, name}") {
    REQUIRE_MESSAGE(run({"sh", "-c", "command -v elixir"}, 10s).exit_status == 0,
                    "elixir is not installed");
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_for_elixir_pg", &log));
    auto actor = spawn_actor(node, std::make_unique<Greeter>());
    REQUIRE(actor.has_value());
    auto g = global(node);
    REQUIRE(g.has_value());
    REQUIRE(g->register_name(Term("cpp_greeter"_a), actor->pid()).has_value());
    auto pg = groups(node);
    REQUIRE(pg.has_value());
    Mailbox member = node.open_mailbox();
    REQUIRE(pg->join("cpp_workers"_a, member.pid()).has_value());
    REQUIRE(node.register_name("inbox"_a, member.pid()).has_value());

    // Each line is printed by Erlang's ~p, so the expected text is Erlang syntax.
    const std::string script = "cpp = :\"" + std::string(node.name().name()) + "\"" + R"EX(
        p = fn x -> :io.format(~c"~p~n", [x]) end
        true = Node.connect(cpp)
        p.(:global.sync())
        p.(Enum.member?(Node.list(), cpp))
        p.(node(:global.whereis_name(:cpp_greeter)) == cpp)
        p.(GenServer.call({:global, :cpp_greeter}, :elixir))
        Process.sleep(200)
        p.(Enum.map(:pg.get_members(:cpp_workers), &node/1) == [cpp])
        me = self()
        worker = spawn(fn -> receive do :stop -> :ok end end)
        :ok = :pg.join(:elixir_workers, worker)
        :yes = :global.register_name(:elixir_name, worker)
        send({:inbox, cpp}, {:ready, me, worker})
        receive do
          :done -> p.(:done)
        after 20_000 -> p.(:timeout)
        end
    )EX";
    auto elixir = std::async(std::launch::async, [&] {
        return run(
            {"elixir", "--sname", unique_name("elixir_pg"), "--cookie", "interop_cookie", "--erl",
             "-start_epmd false -kernel inet_dist_use_interface {127,0,0,1} -kernel "
             "start_pg true",
             "-e", script},
            90s, {"ERL_EPMD_PORT=" + std::to_string(cluster.epmd_port())});
    });
    auto ready = member.receive_if(
        [](const Term& m) { return m.is_tuple(3) && m[0].is_atom("ready"_a); }, 60s);
    REQUIRE_MESSAGE(ready.has_value(), "the Elixir node did not get ready");
    const Pid script_process = *(*ready)[1].to<Pid>();
    const Pid worker = *(*ready)[2].to<Pid>();
    // Known here without asking anybody: pg's join and global's registration came to us.
    eventually([&] { return pg->members("elixir_workers"_a) == std::vector<Pid>{worker}; });
    CHECK(g->whereis_name(Term("elixir_name"_a)) == worker);
    member.send(script_process, Term("done"_a));
    const RunResult result = elixir.get();
    INFO("stderr: " << result.err);
    CHECK(result.exit_status == 0);
    CHECK(result.out == "ok\ntrue\ntrue\n{hello,elixir}\ntrue\ndone\n");
}
