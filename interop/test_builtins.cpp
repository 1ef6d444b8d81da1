// The calls every node answers: rpc:call and erpc:call from erl reach the built-in functions on
// our node and get what a hidden BEAM node gives for the same call, error shapes included.
#include <doctest/doctest.h>

#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

TEST_CASE(
    "rpc and erpc calls of the built-ins answer as a hidden BEAM node answers them, badarg and "
    "undef included") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    // Hidden, as the anchor it is compared with (a visible node's nodes() lists more).
    auto options = cluster.node_options("cpp_builtins", &log);
    options.hidden = true;
    Node node = start_node(options);
    auto hidden_options = cluster.erl_options("erl_hidden_anchor");
    hidden_options.hidden = true;
    ErlNode anchor(hidden_options);
    ErlNode erl(cluster.erl_options("erl_asks"));
    const std::string ours = quoted(node.name());
    const std::string theirs = quoted(anchor.node_name());
    // As ~0p prints node names: bare.
    const std::string our_name(node.name().name());
    CHECK(erl.eval("net_adm:ping(" + ours + ")") == "pong");
    CHECK(erl.eval("net_adm:ping(" + theirs + ")") == "pong");

    // Answers that do not name the node asked: the same text from both.
    for (const char* call :
         {"erlang, is_alive, []", "erlang, whereis, [nosuch]", "erlang, nodes, []",
          "erlang, nodes, [visible]", "erlang, system_info, [nonsense]",
          "erlang, system_info, [{wordsize, internal}]", "erlang, whereis, [\"x\"]",
          "erlang, nodes, [bogus]", "erlang, statistics, [bogus]",
          "erlang, process_info, [self(), status]", "erlang, is_process_alive, [self()]"}) {
        CAPTURE(call);
        const std::string rpc_call = std::string("rpc:call(N, ") + call + ")";
        const std::string erpc_call =
            std::string("try erpc:call(N, ") + call + ") catch C:R -> {C, R} end";
        for (const std::string& expression : {rpc_call, erpc_call}) {
            CAPTURE(expression);
            std::string from_beam = erl.eval("N = " + theirs + ", " + expression);
            std::string from_us = erl.eval("N = " + ours + ", " + expression);
            CHECK(from_us == from_beam);
        }
    }
    // Answers about the node asked.
    CHECK(erl.eval("rpc:call(" + ours + ", erlang, node, [])") == our_name);
    CHECK(erl.eval("erpc:call(" + ours + ", erlang, nodes, [hidden])") ==
          "[" + erl.node_name() + "]");
    CHECK(erl.eval("rpc:call(" + ours + ", erlang, nodes, [[this, connected]])") ==
          "[" + erl.node_name() + "," + our_name + "]");
    CHECK(erl.eval("erpc:call(" + ours + ", erlang, whereis, [rex]) =:= rpc:call(" + ours +
                   ", erlang, whereis, [rex])") == "true");
    CHECK(erl.eval("is_pid(erpc:call(" + ours + ", erlang, whereis, [net_kernel]))") == "true");
    CHECK(erl.eval("Names = erpc:call(" + ours +
                   ", erlang, registered, []), "
                   "{lists:member(rex, Names), lists:member(net_kernel, Names)}") == "{true,true}");
    CHECK(erl.eval("rpc:call(" + ours + ", erlang, system_info, [otp_release])") == "\"26\"");
    CHECK(erl.eval("is_list(rpc:call(" + ours + ", erlang, system_info, [version]))") == "true");
    CHECK(erl.eval("{A, B} = rpc:call(" + ours +
                   ", erlang, statistics, [wall_clock]), "
                   "is_integer(A) andalso is_integer(B)") == "true");
    CHECK(erl.eval("rpc:call(" + ours + ", net_adm, ping, [" + theirs + "])") == "pong");
    CHECK(erl.eval("rpc:call(" + ours + ", net_adm, ping, ['nobody@" + short_host() + "'])") ==
          "pang");
    // rpc:multicall over nodes(), as monitoring tools run it, includes us.
    CHECK(erl.eval("{Replies, []} = rpc:multicall([node(), " + ours +
                   "], erlang, system_info, [otp_release]), length(Replies)") == "2");
}
