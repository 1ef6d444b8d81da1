// Dynamic node names both ways, against real BEAMs: erl started as -sname undefined is named by
// our node, and our node started as "undefined" is named by erl (DFLAG_NAME_ME and the named:
// status of dist_util.erl). erl_call -R is in test_peer_ei.cpp.
#include <doctest/doctest.h>

#include <future>

#include "cli/demo_services.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

TEST_CASE("erl started with -sname undefined connects to our node and takes the name it gives") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_namer", &log));
    Mailbox inbox = named_mailbox(node, "inbox");
    NodeEvents events(node);
    const std::string ours = quoted(node.name());
    // erl reports the name it got, its creation and a pid, and waits for our answer, so that the
    // connection is still up while we look at it. (net_adm:ping, which sends node() in its
    // request, says pang from a node that has no name yet, even to a BEAM.)
    auto erl = std::async(std::launch::async, [&] {
        return run_erl_eval(
            "true = net_kernel:connect_node(" + ours + "), {inbox, " + ours +
                "} ! {named, node(), erlang:system_info(creation), self()}, "
                "receive {checked, N} -> io:format(\"~s\", [N]) after 30000 -> exit(no_answer) "
                "end",
            60s,
            // -epmd_port reaches the node's EPMD client only: without -start_epmd false, erl
            // also starts an `epmd -daemon` on the default port, which outlives the test.
            {"-sname", "undefined", "-setcookie", "interop_cookie", "-epmd_port",
             std::to_string(cluster.epmd_port()), "-start_epmd", "false"});
    });
    const Term named = next_message(inbox, 30s);
    REQUIRE(named.is_tuple(4));
    const Atom given = named[1].to<Atom>().value();
    const std::string text(given.name());
    CHECK(text.substr(text.find('@')) == "@" + short_host());
    const Pid erl_pid = named[3].to<Pid>().value();
    CHECK(erl_pid.node == given);
    CHECK(erl_pid.creation == static_cast<std::uint32_t>(named[2].to<std::int64_t>().value()));
    CHECK(node.hidden_nodes() == std::vector<Atom>{given});
    CHECK(events.count(given, true) == 1);
    inbox.send(erl_pid, tuple("checked"_a, given));
    CHECK(erl.get() == text);
    eventually([&] { return events.count(given, false) == 1; });
}

TEST_CASE("our node started as undefined takes its name from erl and works under it") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    ErlNode erl(cluster.erl_options("erl_namer"));
    register_tester(erl);
    auto options = cluster.node_options("unused", &log);
    options.name = "undefined";
    options.named_by = erl.node_name();
    Node node = start_node(options);
    const std::string given(node.name().name());
    CHECK(given.substr(given.find('@')) == "@" + short_host());
    CHECK(node.port() == 0);
    REQUIRE(cli::start_demo_services(node).has_value());

    // erl sees the name it gave, and reaches our processes under it.
    // Our side is up when the challenge ack arrives; erl marks us up just after sending it.
    eventually(
        [&] { return erl.eval("lists:member(" + quoted(given) + ", nodes(hidden))") == "true"; });
    CHECK(erl.eval("{echo, " + quoted(given) +
                   "} ! {self(), named_echo}, receive named_echo -> "
                   "ok after 15000 -> timeout end") == "ok");
    Mailbox me = node.open_mailbox();
    me.send("tester"_a, atom(erl.node_name()), tuple("from"_a, me.pid()));
    CHECK(erl.eval("receive {from, P} -> {node(P) =:= " + quoted(given) +
                   ", P ! pid_ok} after 15000 -> timeout end") == "{true,pid_ok}");
    CHECK(next_message(me) == Term("pid_ok"_a));
    CHECK(node.ping(atom(erl.node_name())));
}
