// Keeping peers and letting them in: a BEAM whose net_ticktime is much shorter than ours keeps
// an idle connection to our node (its ticks are answered), distribute node --net-ticktime sets
// ours, and a flood of idle sockets from one address keeps no other peer out (handshakes are
// bounded per address). A BEAM drops a frozen distribute node at its tick time. A peer that
// stops reading (a slow consumer) makes a program thread wait and, past the send queue limit,
// loses its connection.
#include <doctest/doctest.h>

#include <signal.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
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

TEST_CASE(
    "tick_timeout: an erl with net_ticktime 4 drops a SIGSTOPped distribute node with "
    "net_tick_timeout, and reaches it again once it runs") {
    Cluster cluster;
    ForegroundNode node(
        {"--sname", unique_name("cli_frozen"), "--cookie", "interop_cookie", "--net-ticktime", "4"},
        {epmd_env(cluster.epmd_port())});
    auto options = cluster.erl_options("erl_watcher");
    options.extra_args = {"-kernel", "net_ticktime", "4"};
    ErlNode erl(options);
    const std::string ours = quoted(node.name());
    CHECK(erl.eval("net_kernel:monitor_nodes(true, [nodedown_reason, {node_type, all}]), "
                   "net_adm:ping(" +
                   ours + ")") == "pong");
    node.process().send_signal(SIGSTOP);
    const std::string down =
        erl.eval("receive {nodedown, " + ours +
                 ", Info} -> proplists:get_value(nodedown_reason, Info) after 40000 -> none end");
    node.process().send_signal(SIGCONT);
    INFO(node.log());
    CHECK(down == "net_tick_timeout");
    eventually([&] { return erl.eval("net_adm:ping(" + ours + ")") == "pong"; });
}

namespace {

// An erl process registered as `sink` that takes {I, Payload} with I = 1, 2, 3... in that order
// (it exits on any other) and answers {count, From} with how many it took.
void start_ordered_sink(ErlNode& erl) {
    CHECK(erl.eval("Sink = spawn(fun() -> (fun Loop(Next) -> receive {Next, _} -> Loop(Next + 1); "
                   "{count, From} -> From ! {count, Next - 1}, Loop(Next) end end)(1) end), "
                   "register(sink, Sink)") == "true");
}

std::string sink_count(ErlNode& erl) {
    return erl.eval("sink ! {count, self()}, receive {count, N} -> N after 5000 -> timeout end");
}

std::size_t queued_for(const Node& node, Atom peer) {
    for (const auto& c : node.stats().connections)
        if (c.node == peer) return c.queued_bytes;
    return 0;
}

std::uint64_t busy_waits_for(const Node& node, Atom peer) {
    for (const auto& c : node.stats().connections)
        if (c.node == peer) return c.busy_waits;
    return 0;
}

}  // namespace

TEST_CASE(
    "slow_consumer: a program thread sending to a stopped erl waits past busy_limit, and when "
    "erl reads again every message arrives once and in order") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    auto options = cluster.node_options("cpp_slow_reader", &log);
    options.hidden = true;  // no global or pg traffic of its own to the stopped node
    Node node = start_node(std::move(options));
    ErlNode erl(cluster.erl_options("erl_slow_reader"));
    const Atom peer = atom(erl.node_name());
    start_ordered_sink(erl);
    CHECK(erl.eval("net_adm:ping(" + quoted(node.name()) + ")") == "pong");
    // 600 x 64 KiB: far more than the socket buffers of loopback and busy_limit (1 MiB) hold.
    constexpr int count = 600;
    const Term payload = binary(std::string(64 * 1024, 'p'));
    std::atomic<int> sent{0};
    Stopped stopped(os_pid(erl));
    Mailbox sender = node.open_mailbox();
    std::thread sending([&] {
        for (int i = 1; i <= count; ++i) {
            sender.send(atom("sink"), peer, tuple(i, payload));
            sent.store(i);
        }
    });
    // Past busy_limit (1 MiB) the thread waits, and goes on only once its lane is down to half
    // of it: while erl reads nothing, more than that stays queued, and it has not sent everything.
    eventually([&] {
        return busy_waits_for(node, peer) > 0 && queued_for(node, peer) > (std::size_t{1} << 19);
    });
    CHECK(sent.load() < count);
    stopped.resume();
    sending.join();
    eventually([&] { return sink_count(erl) == std::to_string(count); }, 60s);
    CHECK(node.stats().send_queue_overflows == 0);
}

TEST_CASE(
    "slow_consumer: past max_send_queue_bytes the connection to an erl that reads nothing is "
    "closed with a warning, other peers go on, and it connects again once it reads") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    auto options = cluster.node_options("cpp_queue_limit", &log);
    options.limits.max_send_queue_bytes = 4 << 20;
    options.limits.busy_limit = 256 << 20;  // so that this test's own thread never waits
    // Hidden: a visible node's global would also drop the bystander, which is still connected
    // to the node that was dropped (prevent_overlapping_partitions, as a BEAM does).
    options.hidden = true;
    Node node = start_node(std::move(options));
    REQUIRE(cli::start_demo_services(node).has_value());
    NodeEvents events(node);
    ErlNode bystander(cluster.erl_options("erl_bystander"));
    CHECK(bystander.eval("net_adm:ping(" + quoted(node.name()) + ")") == "pong");
    ErlNode erl(cluster.erl_options("erl_stopped_reader"));
    const Atom peer = atom(erl.node_name());
    start_ordered_sink(erl);
    CHECK(erl.eval("net_adm:ping(" + quoted(node.name()) + ")") == "pong");
    {
        Stopped stopped(os_pid(erl));
        Mailbox sender = node.open_mailbox();
        const Term payload = binary(std::string(64 * 1024, 'q'));
        for (int i = 1; i <= 600 && events.count(peer, false) == 0; ++i)
            sender.send(atom("sink"), peer, tuple(i, payload));
        eventually([&] { return events.count(peer, false) == 1; });
        CHECK(node.stats().send_queue_overflows == 1);
        CHECK(log.contains("send queue full"));
        CHECK(queued_for(node, peer) == 0);
        CHECK(bystander.eval("{echo, " + quoted(node.name()) +
                             "} ! {self(), still_here}, receive still_here -> ok after 15000 -> "
                             "timeout end") == "ok");
    }
    // Resumed: erl sees the connection gone and comes back (a ping while its net_kernel is still
    // taking the old connection down answers pang, as between two BEAMs).
    eventually([&] { return erl.eval("net_adm:ping(" + quoted(node.name()) + ")") == "pong"; });
    eventually([&] { return events.count(peer, true) == 2; });
}
