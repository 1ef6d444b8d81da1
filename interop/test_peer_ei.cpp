// erl_interface C nodes (Debian's libei, in interop/peers/ei_peer.cpp) and erl_call, both ways:
// peers that take only what they offered. erl_interface offers DIST_MONITOR but not
// DIST_MONITOR_NAME, neither SPAWN nor ALIAS, and ei_xreceive_msg fails on any control message
// but SEND, REG_SEND, LINK, UNLINK, GROUP_LEADER, EXIT and EXIT2: the C node prints "error ..."
// and closes the connection when it gets one, which these tests would see.
#include <doctest/doctest.h>

#include "cli/demo_services.hpp"
#include "distribute/rpc.hpp"
#include "foreign_peers.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// The C node took everything it was sent and kept every connection.
void check_took_everything(PeerProcess& peer) {
    for (const std::string& line : peer.lines()) {
        CHECK_MESSAGE(line.rfind("error", 0) != 0, line);
        CHECK_MESSAGE(line.rfind("signal", 0) != 0, line);
        CHECK_MESSAGE(line.rfind("closed", 0) != 0, line);
    }
}

// A C node serving on the cluster's EPMD; its name.
struct CNode {
    explicit CNode(const Cluster& cluster)
        : peer(ei_peer_argv({"serve", unique_name("c_node"), short_host(), "interop_cookie"}),
               {epmd_env(cluster.epmd_port())}),
          name(atom(peer.await_line("ready ").substr(6))) {}
    PeerProcess peer;
    Atom name;
};

}  // namespace

TEST_CASE(
    "an erl_interface C node pings our node, sends to a registered process and calls rex, with "
    "a static and a dynamic name") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_for_ei", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    const std::string ours(node.name().name());
    for (const std::string& alive : {unique_name("ei_client"), std::string("-")}) {
        CAPTURE(alive);
        const RunResult result =
            run(ei_peer_argv({"connect", alive, short_host(), "interop_cookie", ours}), 60s,
                {epmd_env(cluster.epmd_port())});
        INFO(result.out, result.err);
        REQUIRE(result.exit_status == 0);
        const std::vector<std::string> lines = split_lines(result.out);
        REQUIRE_FALSE(lines.empty());
        const std::string name = lines[0].substr(5);
        if (alive == "-")  // named by our node: a name on its host
            CHECK(name.substr(name.find('@')) == "@" + short_host());
        else
            CHECK(name == alive + "@" + short_host());
        CHECK(has_line(lines, "ping pong"));
        // As ei_print_term prints them.
        CHECK(has_line(lines, "echo {hello_from_c, 42}"));
        CHECK(has_line(lines, "rpc " + ours));
        CHECK(has_line(lines, "rpc [1, two]"));
    }
    CHECK(node.stats().bad_frames == 0);
}

TEST_CASE(
    "our node pings, sends to, calls and rpcs an erl_interface C node; monitors on it stay here "
    "and fire noconnection when it exits") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_to_ei", &log));
    CNode c(cluster);
    INFO(c.peer.output());

    CHECK(node.ping(c.name));
    c.peer.await_line("pinged by " + std::string(node.name().name()));
    REQUIRE(node.connect(c.name).has_value());
    Mailbox me = node.open_mailbox();
    const Pid c_pid = check_serves_us(node, me, c.name, "c_node");
    const Reference by_pid = me.monitor(c_pid);
    const Reference by_name = me.monitor("echo"_a, c.name);
    // The monitors crossed nothing: the C node is still connected and serving.
    CHECK(node.ping(c.name));
    check_took_everything(c.peer);

    c.peer.kill();
    std::vector<Term> downs{next_message(me), next_message(me)};
    std::sort(downs.begin(), downs.end());
    std::vector<Term> expected{
        tuple(atoms::DOWN, by_pid, atoms::process, c_pid, atoms::noconnection),
        tuple(atoms::DOWN, by_name, atoms::process, tuple("echo"_a, c.name), atoms::noconnection)};
    std::sort(expected.begin(), expected.end());
    CHECK(downs == expected);
}

TEST_CASE("distribute ping, send, call and rpc work against an erl_interface C node") {
    Cluster cluster;
    CNode c(cluster);
    INFO(c.peer.output());
    check_distribute_commands(cluster.epmd_port(), c.peer, c.name, "c_node",
                              "got inbox {hello, [one, 2]}");
}

TEST_CASE(
    "erl_call calls our node's demo module and built-ins as it calls a BEAM, with a dynamic name "
    "too, and a wrong cookie is refused") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_erl_call", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    ErlNode beam(cluster.erl_options("erl_call_anchor"));
    auto erl_call = [&](const std::string& target, std::vector<std::string> args) {
        std::vector<std::string> argv{"erl_call", "-sname", target, "-c", "interop_cookie"};
        argv.insert(argv.end(), args.begin(), args.end());
        return run(argv, 60s, {epmd_env(cluster.epmd_port())});
    };
    const std::string ours(node.name().name());
    for (const char* naming : {"-r", "-R"}) {
        CAPTURE(naming);
        auto name = erl_call(ours, {naming, "-a", "erlang node"});
        CHECK(name.exit_status == 0);
        CHECK(name.out == ours);
        auto echo = erl_call(ours, {naming, "-a", "demo echo [[1, {two, \"3\"}]]"});
        CHECK(echo.exit_status == 0);
        CHECK(echo.out == "[1, {two, \"3\"}]");
    }
    // The built-ins print exactly what they print for a BEAM node.
    for (const char* apply :
         {"erlang is_alive", "erlang whereis [nosuch]", "erlang system_info [nonsense]",
          "erlang nodes []", "erlang whereis [\"x\"]", "nosuch f [1]"}) {
        CAPTURE(apply);
        auto from_beam = erl_call(beam.node_name(), {"-R", "-a", apply});
        auto from_us = erl_call(ours, {"-R", "-a", apply});
        CHECK(from_us.exit_status == 0);
        CHECK(from_us.out == from_beam.out);
    }
    auto self = erl_call(ours, {"-R", "-a", "erlang nodes [this]"});
    CHECK(self.out == "[" + ours + "]");

    const auto refused = node.stats().refused_handshakes;
    auto wrong =
        run({"erl_call", "-sname", ours, "-c", "not_the_cookie", "-r", "-a", "erlang node"}, 60s,
            {epmd_env(cluster.epmd_port())});
    CHECK(wrong.exit_status != 0);
    CHECK(wrong.out.empty());
    eventually([&] { return node.stats().refused_handshakes == refused + 1; });
}
