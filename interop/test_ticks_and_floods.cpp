// Keeping peers and letting them in: a BEAM whose net_ticktime is much shorter than ours keeps
// an idle connection to our node (its ticks are answered), distribute node --net-ticktime sets
// ours, and a flood of idle sockets from one address keeps no other peer out (handshakes are
// bounded per address).
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "cli/demo_services.hpp"
#include "cli_support.hpp"
#include "node_support.hpp"
#include "scripted_peer.hpp"

using namespace distribute;
using namespace distribute::testing;

TEST_CASE("a BEAM with net_ticktime 4 stays connected to an idle node of ours for 30 s") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    // Ours ticks every 15 s: left to its own ticks, a BEAM with net_ticktime 4 would drop it
    // after about 5 s of silence.
    Node node = start_node(cluster.node_options("cpp_slow_ticks", &log));
    NodeEvents events(node);
    auto options = cluster.erl_options("erl_fast_ticks");
    options.extra_args = {"-kernel", "net_ticktime", "4"};
    ErlNode erl(options);
    const std::string ours = quoted(node.name());
    CHECK(erl.eval("net_kernel:monitor_nodes(true, [{node_type, all}]), net_adm:ping(" + ours +
                   ")") == "pong");
    std::this_thread::sleep_for(30s);
    CHECK(erl.eval("receive {nodedown, N, _} -> {nodedown, N} after 0 -> none end") == "none");
    CHECK(erl.eval("lists:member(" + ours + ", nodes())") == "true");
    CHECK(events.count(atom(erl.node_name()), false) == 0);
}

TEST_CASE("a peer's tick is answered with one tick when nothing else went to it") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_tick_answer", &log));
    ScriptedPeer peer(node.port(), unique_name("ticker") + "@" + short_host(),
                      std::string(node.name().name()), "interop_cookie");
    REQUIRE(peer.handshake());
    for (std::size_t round = 1; round <= 3; ++round) {
        CAPTURE(round);
        peer.send_raw(wire::tick_frame);
        CHECK_FALSE(peer.next_control(1s).has_value());
        CHECK(peer.ticks_received() == round);
    }
}

TEST_CASE("a flood of idle sockets from one address keeps no other peer out") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    auto options = cluster.node_options("cpp_flooded", &log);
    options.setup_timeout = 4s;
    Node node = start_node(options);
    REQUIRE(cli::start_demo_services(node).has_value());
    const auto refused_before = node.stats().refused_handshakes;

    // 300 connections from 127.0.0.3 that never say a word: more than the 64 handshakes one
    // address may have in progress.
    std::vector<std::unique_ptr<RawSocket>> flood;
    for (int i = 0; i < 300; ++i)
        flood.push_back(std::make_unique<RawSocket>(node.port(), "127.0.0.3"));
    eventually([&] { return node.stats().refused_handshakes >= refused_before + 300 - 64; });

    // Meanwhile a BEAM node (from 127.0.0.1) connects and is served.
    ErlNode erl(cluster.erl_options("erl_past_flood"));
    CHECK(erl.eval("{echo, " + quoted(node.name()) + "} ! {self(), through}, receive through -> " +
                   "ok after 15000 -> timeout end") == "ok");
    CHECK(node.ping(atom(erl.node_name())));

    // Every idle socket is closed: the refused at once, the admitted at the setup timeout.
    for (auto& socket : flood)
        CHECK(socket->closed_within(20s));
    eventually([&] { return node.stats().refused_handshakes == refused_before + 300; });
    // The address is welcome again once its handshakes have ended.
    ScriptedPeer later(node.port(), unique_name("after_flood") + "@" + short_host(),
                       std::string(node.name().name()), "interop_cookie", 0x5c21, wire::offered,
                       "127.0.0.3");
    CHECK(later.handshake());
}

TEST_CASE("distribute node --net-ticktime 4 drops a silent peer within seconds, not a minute") {
    Cluster cluster;
    ForegroundNode node(
        {"--sname", unique_name("cli_ticks"), "--cookie", "interop_cookie", "--net-ticktime", "4"},
        {epmd_env(cluster.epmd_port())});
    ScriptedPeer silent(node.port(), unique_name("silent") + "@" + short_host(), node.name(),
                        "interop_cookie");
    REQUIRE(silent.handshake());
    // It reads our ticks and says nothing: gone after 4 s of silence (60 s by default).
    const bool dropped = silent.closed_within(20s);
    INFO(node.log());
    CHECK(dropped);
}
