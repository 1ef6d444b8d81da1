// The demo node's contract for pg and global (other tools rely on these names and shapes): group
// demo in scope pg, global name demo_global, and demo:pg_join/pg_leave/pg_members,
// global_register/global_unregister/global_whereis/global_names, stop_process, called from erl.
#include <doctest/doctest.h>

#include "cli/demo_services.hpp"
#include "membership_support.hpp"

using namespace distribute;
using namespace distribute::testing;

TEST_CASE("the demo node's pg and global functions answer erl as the contract says") {
    Membership m(1);
    INFO(m.log.text());
    REQUIRE(cli::start_demo_services(*m.node).has_value());
    ErlNode& erl = *m.erls[0];
    const std::string cpp = m.cpp();
    auto call = [&](const std::string& f, const std::string& args) {
        return "rpc:call(" + cpp + ", demo, " + f + ", [" + args + "])";
    };
    // An echo in group demo, another registered as demo_global: both answer {Pid, Msg} with Msg.
    CHECK(erl.eval(erl_wait("length(pg:get_members(demo)) =:= 1")) == "ok");
    CHECK(erl.eval("begin [P] = pg:get_members(demo), P ! {self(), via_pg}, receive via_pg -> ok "
                   "after 5000 -> timeout end end") == "ok");
    // global has synced with our node once global:sync() returns (OTP 27 takes longer than pg).
    CHECK(erl.eval("global:sync()") == "ok");
    CHECK(erl.eval("begin global:send(demo_global, {self(), via_global}), receive via_global -> "
                   "ok after 5000 -> timeout end end") == "ok");

    CHECK(erl.eval("begin P = " + call("pg_join", "workers") +
                   ", put(p, P), is_pid(P) andalso node(P) =:= " + cpp + " end") == "true");
    CHECK(erl.eval(erl_wait("pg:get_members(workers) =:= [get(p)]")) == "ok");
    CHECK(erl.eval(call("pg_members", "workers") + " =:= [get(p)]") == "true");
    CHECK(erl.eval("begin Q = " + call("pg_join", "workers") + ", put(q, Q), " +
                   call("pg_members", "workers") + " =:= lists:sort([get(p), Q]) end") == "true");
    CHECK(erl.eval(call("pg_leave", "workers, get(p)")) == "ok");
    CHECK(erl.eval(call("pg_members", "workers") + " =:= [get(q)]") == "true");

    CHECK(erl.eval("begin {ok, P} = " + call("global_register", "contract_name") +
                   ", put(g, P), node(P) =:= " + cpp + " end") == "true");
    CHECK(erl.eval("global:whereis_name(contract_name) =:= get(g)") == "true");
    CHECK(erl.eval(call("global_register", "contract_name")) == "{error,taken}");
    CHECK(erl.eval("global:register_name(erl_contract, self())") == "yes");
    CHECK(erl.eval(call("global_whereis", "erl_contract") + " =:= self()") == "true");
    CHECK(erl.eval(call("global_whereis", "nobody")) == "undefined");
    CHECK(erl.eval(call("global_names", "")) == "[contract_name,demo_global,erl_contract]");
    CHECK(erl.eval(call("global_unregister", "contract_name")) == "ok");
    CHECK(erl.eval("global:whereis_name(contract_name)") == "undefined");

    // stop_process: the process exits with reason normal (a monitor says so), and leaves its
    // groups everywhere.
    CHECK(erl.eval("begin Q = get(q), R = erlang:monitor(process, Q), ok = " +
                   call("stop_process", "Q") +
                   ", receive {'DOWN', R, process, Q, Why} -> Why after 5000 -> timeout end end") ==
          "normal");
    CHECK(erl.eval(erl_wait("pg:get_members(workers) =:= []")) == "ok");
}
