// JInterface nodes (Debian's erlang-jinterface, in interop/peers/JPeer.java), both ways: a peer
// that offers neither monitors nor SPAWN, ALIAS, SEND_SENDER or EXIT_PAYLOAD, and that closes the
// connection on any control message it does not know (the JPeer prints "down NODE" then).
#include <doctest/doctest.h>

#include "cli/demo_services.hpp"
#include "distribute/rpc.hpp"
#include "foreign_peers.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// A JInterface node serving on the cluster's EPMD; its name.
struct JavaNode {
    JavaNode(const Cluster& cluster, const TempDir& classes)
        : peer(java_peer_argv(classes, {"serve", unique_name("java_node") + "@" + short_host(),
                                        "interop_cookie"}),
               {epmd_env(cluster.epmd_port())}),
          name(atom(peer.await_line("ready ", 60s).substr(6))) {}
    PeerProcess peer;
    Atom name;
};

// No connection of the Java node went down: it took everything it was sent.
void check_kept_connections(PeerProcess& peer) {
    for (const std::string& line : peer.lines()) {
        CHECK_MESSAGE(line.rfind("down", 0) != 0, line);
        CHECK_MESSAGE(line.rfind("error", 0) != 0, line);
    }
}

}  // namespace

TEST_CASE("a JInterface node pings our node, sends to a registered process and calls rex") {
    Cluster cluster;
    TempDir classes;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_for_java", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    const RunResult result =
        run(java_peer_argv(classes, {"connect", unique_name("java_client") + "@" + short_host(),
                                     "interop_cookie", std::string(node.name().name())}),
            120s, {epmd_env(cluster.epmd_port())});
    INFO(result.out, result.err);
    REQUIRE(result.exit_status == 0);
    const std::vector<std::string> lines = split_lines(result.out);
    CHECK(has_line(lines, "ping pong"));
    CHECK(has_line(lines, "echo {hello_from_java,42}"));
    CHECK(has_line(lines, "rpc " + std::string(node.name().name())));
    CHECK(has_line(lines, "rpc [1,two]"));
    CHECK(node.stats().bad_frames == 0);
}

TEST_CASE(
    "our node pings, sends to, calls and rpcs a JInterface node; a monitor on it stays here and "
    "fires noconnection when it exits") {
    Cluster cluster;
    TempDir classes;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_to_java", &log));
    JavaNode j(cluster, classes);
    INFO(j.peer.output());

    CHECK(node.ping(j.name));
    REQUIRE(node.connect(j.name).has_value());
    Mailbox me = node.open_mailbox();
    const Pid j_pid = check_serves_us(node, me, j.name, "java_node");
    const Reference ref = me.monitor(j_pid);
    me.send("inbox"_a, j.name, Term("after_monitor"_a));
    j.peer.await_line("got inbox after_monitor");
    check_kept_connections(j.peer);

    j.peer.kill();
    CHECK(next_message(me) == tuple(atoms::DOWN, ref, atoms::process, j_pid, atoms::noconnection));
}

TEST_CASE("distribute ping, send, call and rpc work against a JInterface node") {
    Cluster cluster;
    TempDir classes;
    JavaNode j(cluster, classes);
    INFO(j.peer.output());
    check_distribute_commands(cluster.epmd_port(), j.peer, j.name, "java_node",
                              "got inbox {hello,[one,2]}");
}
