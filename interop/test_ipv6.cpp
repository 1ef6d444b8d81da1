// IPv6 distribution with real erl nodes started with -proto_dist inet6_tcp and long names on ::1:
// they ping our node and ours pings them, with OTP's epmd and with our embedded one (which an
// inet6_tcp node registers with over ::1).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

ErlNodeOptions inet6_erl(std::uint16_t epmd_port) {
    ErlNodeOptions o;
    o.name_prefix = "six";
    o.long_host = "::1";
    o.interface = "{0,0,0,0,0,0,0,1}";
    o.extra_args = {"-proto_dist", "inet6_tcp"};
    o.epmd_port = epmd_port;
    return o;
}

NodeOptions ours_on_ipv6(std::uint16_t epmd_port, EpmdMode mode, LogCapture& log) {
    NodeOptions o;
    o.name = unique_name("cpp6") + "@::1";
    o.long_names = true;
    o.cookie = "interop_cookie";
    o.epmd_mode = mode;
    o.epmd.endpoint.port = epmd_port;
    o.threads = 2;
    o.log = log.sink();
    return o;
}

// Ours dials erl first (a fresh connection over ::1), then, once that is down, erl dials ours.
void ping_both_ways(Node& node, ErlNode& erl, LogCapture& log) {
    const Atom peer = atom(erl.node_name());
    REQUIRE(node.ping(peer));
    CHECK(log.contains("event=nodeup node=" + erl.node_name() + " address=[::1]:"));
    // Ours is visible (the default): erl lists it in nodes() once its side of the handshake ends.
    eventually(
        [&] { return erl.eval("lists:member(" + quoted(node.name()) + ", nodes())") == "true"; });
    REQUIRE(node.disconnect(peer));
    eventually([&] { return erl.eval("nodes(connected)") == "[]"; });

    CHECK(erl.eval("net_adm:ping(" + quoted(node.name()) + ")") == "pong");
    // A visible erl node: in nodes() on our side, over a second connection, from ::1 again.
    eventually([&] { return node.nodes() == std::vector<Atom>{peer}; });
    const std::string text = log.text();
    const std::string line = "event=nodeup node=" + erl.node_name() + " address=[::1]:";
    CHECK(text.find(line) != text.rfind(line));
}

}  // namespace

TEST_CASE("an inet6_tcp erl node and ours ping each other over ::1 through OTP's epmd") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(ours_on_ipv6(cluster.epmd_port(), EpmdMode::use_running, log));
    ErlNode erl(inet6_erl(cluster.epmd_port()));
    ping_both_ways(node, erl, log);
}

TEST_CASE("an inet6_tcp erl node registers with our embedded EPMD over ::1 and pings ours") {
    LogCapture log;
    INFO(log.text());
    const auto epmd_port = free_port();
    Node node = start_node(ours_on_ipv6(epmd_port, EpmdMode::embedded, log));
    ErlNode erl(inet6_erl(epmd_port));
    ping_both_ways(node, erl, log);
}
