// The programs under examples/, run as a user runs them and driven by real erl and elixir nodes:
// the inventory gen_server that replaced an Erlang one (its Erlang caller unchanged), the pricing
// service an Elixir app calls, and the watchdog that reports how Erlang processes ended.
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <optional>

#include "node_support.hpp"
#include "peer_process.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// An example program started as `PROGRAM NAME interop_cookie 127.0.0.1` on the cluster's EPMD,
// once it has printed "NAME@host is up: ...".
class Example {
  public:
    Example(const std::string& program, const Cluster& cluster)
        : process_({std::string(EXAMPLES_BUILD_DIR) + "/" + program, unique_name(program),
                    "interop_cookie", "127.0.0.1"},
                   {epmd_env(cluster.epmd_port())}) {
        const std::string line = process_.await_line("");
        const auto at = line.find(" is up");
        if (at == std::string::npos)
            throw FixtureError(program + " said: " + line + "\n" + process_.output());
        name_ = line.substr(0, at);
    }
    const std::string& name() const { return name_; }
    PeerProcess& process() { return process_; }
    // SIGTERM, as a service manager stops it: its exit status.
    int stop() { return process_.stop_with(SIGTERM); }

  private:
    PeerProcess process_;
    std::string name_;
};

}  // namespace

TEST_CASE(
    "shop.erl gets the same replies from the C++ inventory as from the Erlang one it replaced") {
    Cluster cluster;
    TempDir beams;
    compile_erl(EXAMPLES_SOURCE_DIR "/inventory/inventory.erl", beams.path());
    compile_erl(EXAMPLES_SOURCE_DIR "/inventory/shop.erl", beams.path());
    ErlNodeOptions options = cluster.erl_options("shop");
    options.extra_args = {"-pa", beams.path()};
    ErlNode erl(options);
    const std::string expected =
        "[{ok,10},{ok,4},{ok,7},{error,{short,4}},7,0,{error,{bad_request,{add,apples,-1}}},"
        "{error,{bad_request,what_is_this}},0,{ok,0},0]";

    CHECK(erl.eval("{ok, _} = inventory:start(), ok") == "ok");
    CHECK(erl.eval("shop:day(node())") == expected);

    Example cpp("inventory", cluster);
    CHECK(erl.eval("shop:day('" + cpp.name() + "')") == expected);
    CHECK(cpp.stop() == 0);
}

TEST_CASE("an Elixir app calls the C++ pricing service with GenServer, :erpc and :rpc") {
    REQUIRE_MESSAGE(run({"sh", "-c", "command -v elixir"}, 10s).exit_status == 0,
                    "elixir is not installed");
    Cluster cluster;
    Example cpp("pricing", cluster);
    const RunResult app =
        run({"elixir", "--sname", unique_name("app"), "--cookie", "interop_cookie", "--erl",
             "-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}",
             EXAMPLES_SOURCE_DIR "/pricing/client.exs", cpp.name()},
            90s, {epmd_env(cluster.epmd_port())});
    INFO("stderr: " << app.err);
    CHECK(app.exit_status == 0);
    CHECK(app.out ==
          "visible: true\n"
          "%Quote{item: \"apple\", quantity: 3, cents: 150}\n"
          "%Quote{item: \"pear\", quantity: 2, cents: 120}\n"
          "{:error, :unknown_item}\n"
          "total: 270\n"
          "raised: {:exception, {:bad_quotes, \"[0]: expected a map, got not_a_quote\"}, "
          "[{Pricing, :total, 1, []}]}\n"
          "rpc: {:badrpc, {:EXIT, {:undef, [{Pricing, :discount, "
          "[%Quote{item: \"apple\", quantity: 3, cents: 150}], []}]}}}\n");
    CHECK(cpp.stop() == 0);
}

TEST_CASE("the watchdog reports each watched Erlang process's exit reason, and noconnection") {
    Cluster cluster;
    Example cpp("watchdog", cluster);
    std::optional<ErlNode> erl(std::in_place, cluster.erl_options("watched"));
    CHECK(erl->eval("W = {watchdog, '" + cpp.name() + "'}, put(w, W), ok") == "ok");
    CHECK(erl->eval(R"(
        W = get(w),
        Watch = fun(Label, Target) ->
                    W ! {watch, Label, Target, self()},
                    receive {watching, Label} -> ok after 15000 -> timeout end
                end,
        Wait = fun() -> receive go -> ok end end,
        Calm = spawn(Wait),
        Tired = spawn(fun() -> Wait(), exit({shutdown, tired}) end),
        Victim = spawn(Wait),
        register(keeper, spawn(Wait)),
        Dead = spawn(fun() -> ok end),
        M = monitor(process, Dead),
        receive {'DOWN', M, _, _, _} -> ok end,
        Watched = [Watch(calm, Calm), Watch(tired, Tired), Watch(victim, Victim),
                   Watch(keeper, {keeper, node()}), Watch(dead, Dead)],
        Calm ! go, Tired ! go, exit(Victim, kill),
        Watched)") == "[ok,ok,ok,ok,ok]");
    std::vector<std::string> reports;
    for (int i = 0; i < 4; ++i)
        reports.push_back(cpp.process().await_line("down "));
    std::sort(reports.begin(), reports.end());
    CHECK(reports == std::vector<std::string>{"down calm normal", "down dead noproc",
                                              "down tired {shutdown,tired}", "down victim killed"});
    erl.reset();  // the node goes: what was watched on it is down with noconnection
    CHECK(cpp.process().await_line("down ") == "down keeper noconnection");
    CHECK(cpp.stop() == 0);
}
