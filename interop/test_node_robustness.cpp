// Our node when peers misbehave: wrong cookies, a peer that stops ticking, handshakes that stall,
// malformed frames from a scripted peer, both sides dialling at once, and a node that comes back
// under the same name.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <latch>

#include "cli/demo_services.hpp"
#include "echo_support.hpp"
#include "epmd_support.hpp"
#include "node_support.hpp"
#include "scripted_peer.hpp"
#include "wire/flags.hpp"
#include "wire/framing.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

bool listed_once(const std::vector<Atom>& nodes, Atom node) {
    return std::count(nodes.begin(), nodes.end(), node) == 1;
}

constexpr std::uint64_t pass_through_flags =
    wire::offered & ~(wire::flag::dist_hdr_atom_cache | wire::flag::fragments);

}  // namespace

TEST_CASE(
    "cookie_rejection: a wrong cookie is refused in both directions while a good connection "
    "keeps working") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_cookie", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    NodeEvents events(node);
    ErlNode good(cluster.erl_options("erl_good"));
    auto bad_options = cluster.erl_options("erl_bad");
    bad_options.cookie = "not_the_cookie";
    ErlNode bad(bad_options);
    const Atom bad_peer = atom(bad.node_name());
    const Atom good_peer = atom(good.node_name());

    CHECK(echo_round_trip(good, node, "before") == "ok");
    const auto refused = node.stats().refused_handshakes;

    CHECK(bad.eval("net_adm:ping(" + quoted(node.name()) + ")") == "pang");
    eventually([&] { return node.stats().refused_handshakes > refused; });
    // The node counts a refused handshake and then writes its log line.
    eventually([&] { return log.contains("event=refused"); });
    CHECK_FALSE(node.ping(bad_peer));
    CHECK(events.count(bad_peer, true) == 0);
    CHECK_FALSE(listed_once(node.nodes(), bad_peer));
    CHECK_FALSE(listed_once(node.hidden_nodes(), bad_peer));
    CHECK(bad.eval("nodes(connected)") == "[]");

    CHECK(echo_round_trip(good, node, "after_refusals") == "ok");
    CHECK(node.ping(good_peer));
    CHECK(events.count(good_peer, false) == 0);
}

TEST_CASE(
    "cookie_rejection: 10,000 wrong-cookie handshakes from an erl node leave no descriptor, "
    "connection or "
    "process behind") {
    Cluster cluster;
    Node node = start_node(cluster.node_options("cpp_cookie_storm"));
    auto bad_options = cluster.erl_options("erl_storm");
    bad_options.cookie = "not_the_cookie";
    ErlNode bad(bad_options);
    auto open_descriptors = [] {
        return std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                             std::filesystem::directory_iterator());
    };
    const auto descriptors = open_descriptors();
    const auto before = node.stats();

    const std::string pangs = bad.eval("length([pang || _ <- lists:seq(1, 10000), net_adm:ping(" +
                                           quoted(node.name()) + ") =:= pang])",
                                       std::chrono::minutes(3));
    CHECK(pangs == "10000");
    // Each attempt is one refused handshake: none was throttled away unseen, none counted twice.
    eventually(
        [&] { return node.stats().refused_handshakes == before.refused_handshakes + 10000; });
    eventually([&] { return open_descriptors() == descriptors; });
    const auto after = node.stats();
    CHECK(after.connections.empty());
    CHECK(after.processes == before.processes);
    CHECK(bad.eval("nodes(connected)") == "[]");
}

TEST_CASE("cookie_rejection: Node::set_cookie gives one peer its own cookie, in both directions") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_peer_cookie", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    auto options = cluster.erl_options("erl_own_cookie");
    options.cookie = "its_own_cookie";
    ErlNode erl(options);
    const Atom peer = atom(erl.node_name());
    CHECK_FALSE(node.ping(peer));

    node.set_cookie(peer, "its_own_cookie");
    CHECK(node.ping(peer));
    CHECK(echo_round_trip(erl, node, "own_cookie") == "ok");

    // erl dialling us is checked with the same per-peer cookie.
    CHECK(node.disconnect(peer));
    eventually([&] { return !listed_once(node.nodes(), peer); });
    CHECK(erl.eval("net_adm:ping(" + quoted(node.name()) + ")") == "pong");
    CHECK(echo_round_trip(erl, node, "dialled_us") == "ok");
}

TEST_CASE(
    "tick_timeout: a peer that stops ticking is dropped with net_tick_timeout; a ticking idle one "
    "is not") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    auto options = cluster.node_options("cpp_tick", &log);
    options.net_ticktime = std::chrono::seconds(4);
    Node node = start_node(options);
    NodeEvents events(node);
    auto erl_options = cluster.erl_options("erl_tick");
    erl_options.extra_args = {"-kernel", "net_ticktime", "4"};
    ErlNode erl(erl_options);
    const Atom peer = atom(erl.node_name());

    CHECK(erl.eval("net_adm:ping(" + quoted(node.name()) + ")") == "pong");
    // Idle for well over a tick time: each side's ticks keep the other from giving up.
    std::this_thread::sleep_for(10s);
    CHECK(events.count(peer, false) == 0);
    CHECK(erl.eval("lists:member(" + quoted(node.name()) + ", nodes())") == "true");

    {
        Stopped frozen(os_pid(erl));
        eventually([&] { return events.count(peer, false) == 1; }, 30s);
    }
    const auto down = events.last(peer, false);
    REQUIRE(down.has_value());
    CHECK(down->reason.find("net_tick_timeout") != std::string::npos);
    CHECK_FALSE(listed_once(node.nodes(), peer));
    // erl, running again, can be reached again.
    eventually([&] { return node.ping(peer, 2s); }, 30s);
}

TEST_CASE(
    "setup_timeout: a handshake that stalls is closed after the setup time and counted as "
    "refused") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    auto options = cluster.node_options("cpp_stall", &log);
    options.setup_timeout = std::chrono::milliseconds(1000);
    Node node = start_node(options);

    // Connected, and not a byte sent.
    auto refused = node.stats().refused_handshakes;
    {
        RawSocket silent(node.port());
        CHECK(silent.closed_within(20s));
    }
    eventually([&] { return node.stats().refused_handshakes == refused + 1; });

    // Named, challenged, and then silent.
    refused = node.stats().refused_handshakes;
    ScriptedPeer quitter(node.port(), unique_name("quitter") + "@" + short_host(),
                         std::string(node.name().name()), "interop_cookie");
    REQUIRE(quitter.stall_after_challenge());
    CHECK(quitter.closed_within(20s));
    eventually([&] { return node.stats().refused_handshakes == refused + 1; });
    CHECK(node.hidden_nodes().empty());

    // The node still takes handshakes that finish.
    ScriptedPeer finisher(node.port(), unique_name("finisher") + "@" + short_host(),
                          std::string(node.name().name()), "interop_cookie");
    CHECK(finisher.handshake());
}

TEST_CASE(
    "atom_exhaustion: a BEAM past its connection's budget of new atoms loses that connection only, "
    "and may "
    "connect again with a budget of its own") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    auto options = cluster.node_options("cpp_atom_budget", &log);
    options.limits.max_new_atoms_per_connection = 100;
    // Hidden: a visible node's global would also drop the bystander, which is connected to the
    // node that is dropped (prevent_overlapping_partitions, as a BEAM does).
    options.hidden = true;
    Node node = start_node(std::move(options));
    REQUIRE(cli::start_demo_services(node).has_value());
    ErlNode bystander(cluster.erl_options("erl_bystander"));
    CHECK(echo_round_trip(bystander, node, "first") == "ok");
    ErlNode erl(cluster.erl_options("erl_atoms"));
    const Atom peer = atom(erl.node_name());
    NodeEvents events(node);
    // Each echo sends the atoms and gets them back; the atoms are new to our node, not to erl.
    const std::string stamp = std::to_string(::getpid());
    const auto echo_new_atoms = [&](std::string_view prefix, int count) {
        return erl.eval("Atoms = [list_to_atom(\"" + std::string(prefix) + stamp +
                        "_\" ++ integer_to_list(I)) || I <- lists:seq(1, " + std::to_string(count) +
                        ")], {echo, " + quoted(node.name()) +
                        "} ! {self(), Atoms}, receive Atoms -> ok after 5000 -> timeout end");
    };
    CHECK(echo_new_atoms("fits", 60) == "ok");
    CHECK(echo_new_atoms("fits", 60) == "ok");  // the same atoms again cost nothing
    const auto bad = node.stats().bad_frames;
    CHECK(echo_new_atoms("over", 100) == "timeout");
    eventually([&] { return events.count(peer, false) == 1; });
    CHECK(node.stats().bad_frames == bad + 1);
    CHECK(log.contains("budget of new atoms"));
    CHECK_FALSE(Atom::existing("over" + stamp + "_100").has_value());
    CHECK(echo_round_trip(bystander, node, "still_here") == "ok");
    // A new connection gets a new budget: the atoms that were refused now fit. (A ping while
    // erl's net_kernel still takes the old connection down answers pang, as between BEAMs.)
    eventually([&] { return erl.eval("net_adm:ping(" + quoted(node.name()) + ")") == "pong"; });
    CHECK(echo_new_atoms("over", 100) == "ok");
}

TEST_CASE(
    "malformed_peer: a malformed frame closes only its own connection; the peer can connect "
    "again") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_bad_frames", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    ErlNode erl(cluster.erl_options("erl_bystander"));
    CHECK(echo_round_trip(erl, node, "first") == "ok");
    const std::string scripted = unique_name("scripted") + "@" + short_host();

    // A working scripted peer first, so that what closes it below is the frame, not the peer.
    auto connect = [&] {
        // Pass-through frames, as a C node agrees them (test_wire_layouts.cpp has the garbage
        // of distribution headers and fragments).
        auto peer =
            std::make_unique<ScriptedPeer>(node.port(), scripted, std::string(node.name().name()),
                                           "interop_cookie", 0x5c21, pass_through_flags);
        REQUIRE(peer->handshake());
        const Pid me = peer->pid(1);
        peer->send(wire::RegSend{me, "echo"_a, tuple(me, "scripted_hello"_a), std::nullopt});
        auto answer = peer->next_control();
        REQUIRE(answer.has_value());
        auto* send = std::get_if<wire::SendSender>(&*answer);
        REQUIRE(send != nullptr);
        CHECK(send->to == me);
        CHECK(send->message == Term("scripted_hello"_a));
        return peer;
    };

    struct Garbage {
        const char* what;
        std::vector<std::uint8_t> frame;
    };
    const std::vector<Garbage> cases = {
        {"a pass-through frame with a bad term tag", {0, 0, 0, 3, 112, 131, 255}},
        {"an unknown control op", {0, 0, 0, 6, 112, 131, 104, 1, 97, 99}},
        {"a control that is not a tuple", {0, 0, 0, 4, 112, 131, 97, 1}},
        {"an unknown frame layout", {0, 0, 0, 2, 7, 7}},
        {"a SEND without its message", {0, 0, 0, 0, 0}},  // length filled in below
    };
    for (const auto& garbage : cases) {
        CAPTURE(garbage.what);
        auto frame = garbage.frame;
        if (frame.size() == 5) {
            // {22, From, To} with no message term after it.
            // A LINK frame {1, From, To} re-tagged as SEND_SENDER {22, From, To}: the same
            // shape, but SEND_SENDER needs a message term after it.
            std::vector<std::uint8_t> body;
            wire::FrameEncoder encoder(pass_through_flags);
            const Pid me{atom(scripted), 1, 0, 0x5c21};
            encoder.encode(body, wire::Link{me, me});
            // length:4, 112, 131, SMALL_TUPLE_EXT 104, arity 3, SMALL_INTEGER_EXT 97, op
            REQUIRE(body.size() > 10);
            REQUIRE(body[6] == 104);
            REQUIRE(body[8] == 97);
            REQUIRE(body[9] == 1);
            body[9] = 22;
            frame = body;
        }
        auto peer = connect();
        const auto bad = node.stats().bad_frames;
        peer->send_raw(frame);
        CHECK(peer->closed_within(20s));
        eventually([&] { return node.stats().bad_frames == bad + 1; });
        CHECK(echo_round_trip(erl, node, "bystander") == "ok");
    }
    CHECK(log.contains("bad frame"));
    // After all that, the same peer connects and is served as before.
    auto peer = connect();
    CHECK(listed_once(node.hidden_nodes(), atom(scripted)));
}

TEST_CASE(
    "pending_up_replace: a peer back under the same name while its old connection is open "
    "replaces it: nodedown "
    "first, then nodeup") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_replace", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    NodeEvents events(node);
    const std::string name = unique_name("phoenix") + "@" + short_host();
    const Atom peer = atom(name);
    const std::string ours(node.name().name());

    ScriptedPeer old_life(node.port(), name, ours, "interop_cookie", 1);
    REQUIRE(old_life.handshake());
    expect_echo(old_life, "first_life"_a);
    Mailbox watcher = node.open_mailbox();
    watcher.trap_exit(true);
    const Reference ref = watcher.monitor(old_life.pid(7));
    watcher.link(old_life.pid(8));

    // The old socket stays open; the new incarnation is told `alive` and says to replace it.
    ScriptedPeer new_life(node.port(), name, ours, "interop_cookie", 2);
    REQUIRE(new_life.handshake());
    CHECK(old_life.closed_within(20s));
    // Everything over the old connection fired noconnection; the order of the two is free.
    std::vector<Term> got{next_message(watcher), next_message(watcher)};
    std::sort(got.begin(), got.end());
    std::vector<Term> expected{
        tuple(atoms::DOWN, ref, atoms::process, old_life.pid(7), atoms::noconnection),
        tuple(atoms::EXIT, old_life.pid(8), atoms::noconnection)};
    std::sort(expected.begin(), expected.end());
    CHECK(got == expected);
    expect_echo(new_life, "second_life"_a);
    CHECK(events.sequence(peer) == std::vector<bool>{true, false, true});
    CHECK(listed_once(node.hidden_nodes(), peer));
}

TEST_CASE(
    "pending_up_replace: a restarted erl replaces its stopped old incarnation, whose socket is "
    "still open: noconnection for what crossed the old connection, nodedown first, then nodeup, "
    "and messages reach the new one") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_restart", &log));
    Mailbox inbox = named_mailbox(node, "inbox");
    NodeEvents events(node);

    auto old_options = cluster.erl_options("erl_restart");
    old_options.name = unique_name("erl_restart");
    ErlNode old_life(old_options);
    const Atom peer = atom(old_life.node_name());
    CHECK(old_life.eval("net_adm:ping(" + quoted(node.name()) + ")") == "pong");
    const Pid monitored = erl_pid(old_life, node, inbox, spawn_waiter);
    const Pid linked = erl_pid(old_life, node, inbox, spawn_waiter);
    Mailbox watcher = node.open_mailbox();
    watcher.trap_exit(true);
    const Reference ref = watcher.monitor(monitored);
    watcher.link(linked);
    // Both crossed before the old incarnation stops.
    register_tester(old_life);
    give_erl(old_life, inbox, "linked", Term(linked));
    give_erl(old_life, inbox, "monitored", Term(monitored));
    CHECK(old_life.eval("{{links, L}, {monitored_by, M}} = {process_info(get(linked), links), "
                        "process_info(get(monitored), monitored_by)}, {length(L), length(M)}") ==
          "{1,1}");

    // Half-open where it counts: the old incarnation's socket stays open, and nothing reads it.
    Stopped stopped(os_pid(old_life));
    // The old incarnation holds its name in the cluster's EPMD, so the new one registers with a
    // second EPMD, where our node is registered too (at its real port) for it to dial us.
    EpmdProcess second(free_port());
    Loop loop;
    EpmdClient client(loop.io, client_for(second.port()));
    Registration ours(
        client,
        NodeRegistration{alive_of(node.name().name()), node.port(), NodeType::normal, 6, 6, {}});
    REQUIRE(ours.wait().has_value());
    auto new_options = cluster.erl_options("erl_restart");
    new_options.name = old_options.name;
    new_options.epmd_port = second.port();
    ErlNode new_life(new_options);
    REQUIRE(new_life.node_name() == old_life.node_name());

    // We answer its handshake `alive`; it says the old connection is to go (as net_kernel's
    // is_pending does for a node that never had it).
    CHECK(new_life.eval("net_adm:ping(" + quoted(node.name()) + ")") == "pong");
    std::vector<Term> got{next_message(watcher), next_message(watcher)};
    std::sort(got.begin(), got.end());
    std::vector<Term> expected{
        tuple(atoms::DOWN, ref, atoms::process, monitored, atoms::noconnection),
        tuple(atoms::EXIT, linked, atoms::noconnection)};
    std::sort(expected.begin(), expected.end());
    CHECK(got == expected);
    eventually([&] { return events.sequence(peer).size() == 3; });
    CHECK(events.sequence(peer) == std::vector<bool>{true, false, true});
    CHECK(listed_once(node.nodes(), peer));
    CHECK(log.contains("replaced by a new connection"));

    // The new incarnation, with its own creation, gets what is sent to its node from now on.
    register_tester(new_life);
    inbox.send(atom("tester"), peer, tuple(atom("to_new"), inbox.pid()));
    CHECK(new_life.eval(
              "receive {to_new, P} -> P ! {new_life, self()}, ok after 15000 -> timeout end") ==
          "ok");
    const Term answer = next_message(inbox);
    REQUIRE(answer.is_tuple(2));
    const auto fresh = answer[1].to<Pid>();
    REQUIRE(fresh.has_value());
    // Only the new incarnation can answer (the old one is stopped). Its creation is not compared
    // with the old one's: two EPMDs number creations independently and were seen to give both
    // incarnations the same one.
    CHECK(fresh->node == peer);
}

TEST_CASE(
    "simultaneous_connect: our node and erl dialling each other at the same moment end up with "
    "one connection, "
    "whichever name is greater") {
    Cluster cluster;
    ErlNode erl(cluster.erl_options("erl_sim"));
    register_tester(erl);
    const Atom peer = atom(erl.node_name());
    constexpr int rounds = 10;
    constexpr int count = 50;
    // "a..." sorts before "erl_sim...", "zz..." after it.
    for (const char* prefix : {"a_cpp_low", "zz_cpp_high"}) {
        CAPTURE(prefix);
        LogCapture log;
        INFO(log.text());
        // Hidden: on a visible node, pg or global traffic still queued when a round disconnects
        // may dial the peer again (as a BEAM's would), and the round waits for the two to be apart.
        auto options = cluster.node_options(prefix, &log);
        options.hidden = true;
        Node node = start_node(options);
        Mailbox inbox = named_mailbox(node, "inbox");
        NodeEvents events(node);
        const std::string cpp = quoted(node.name());
        for (int round = 0; round < rounds; ++round) {
            CAPTURE(round);
            // Both sides start sending at nearly the same moment of the wall clock, each
            // spinning up to it. erl dials more slowly than we do: a sweep of offsets makes some
            // rounds overlap the two handshakes.
            const auto at = std::chrono::system_clock::now() + 300ms;
            const auto at_us =
                std::chrono::duration_cast<std::chrono::microseconds>(at.time_since_epoch())
                    .count();
            CHECK(
                erl.eval("Cpp = " + cpp + ", At = " + std::to_string(at_us) +
                         ", spawn(fun() -> Spin = fun S() -> case erlang:system_time(microsecond) "
                         "< At of true -> S(); false -> ok end end, Spin(), [{inbox, Cpp} ! "
                         "{sim, N} || N <- lists:seq(1, " +
                         std::to_string(count) + ")] end), ok") == "ok");
            const auto ours = at + std::chrono::microseconds(500 * (round - rounds / 2 - 2));
            while (std::chrono::system_clock::now() < ours) {
            }
            for (int n = 1; n <= count; ++n)
                inbox.send("tester"_a, peer, tuple("sim"_a, n));
            for (int n = 1; n <= count; ++n)
                REQUIRE(next_message(inbox) == tuple("sim"_a, n));
            CHECK(erl.eval("Loop = fun L(N) when N > " + std::to_string(count) +
                           " -> in_order; L(N) -> receive {sim, N} -> L(N + 1); {sim, M} -> "
                           "{out_of_order, N, M} after 15000 -> {timeout, N} end end, Loop(1)") ==
                  "in_order");
            auto connected = node.nodes();
            for (const Atom& hidden : node.hidden_nodes())
                connected.push_back(hidden);
            CHECK(listed_once(connected, peer));
            CHECK(erl.eval("Cpp = " + cpp + ", length([N || N <- nodes(connected), N =:= Cpp])") ==
                  "1");
            CHECK(events.count(peer, true) == static_cast<std::size_t>(round + 1));
            // Apart, for the next round.
            CHECK(node.disconnect(peer));
            eventually(
                [&] { return events.count(peer, false) == static_cast<std::size_t>(round + 1); });
            eventually(
                [&] { return erl.eval("lists:member(" + cpp + ", nodes(connected))") == "false"; });
        }
    }
}

TEST_CASE(
    "pending_up_replace: a pending handshake from a peer is replaced by a newer one from it when "
    "its name is greater "
    "than ours, and kept when ours is greater") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("m_cpp_pending", &log));
    const std::string ours(node.name().name());
    // "zz..." sorts after our "m_cpp...", "aa..." before it.
    const std::string greater = unique_name("zz_peer") + "@" + short_host();
    const std::string smaller = unique_name("aa_peer") + "@" + short_host();

    ScriptedPeer first_greater(node.port(), greater, ours, "interop_cookie");
    REQUIRE(first_greater.stall_after_challenge());
    ScriptedPeer second_greater(node.port(), greater, ours, "interop_cookie");
    CHECK(second_greater.handshake());  // ok_simultaneous: it takes the pending one's place
    CHECK(first_greater.closed_within(20s));
    eventually([&] { return node.hidden_nodes() == std::vector<Atom>{atom(greater)}; });

    ScriptedPeer first_smaller(node.port(), smaller, ours, "interop_cookie");
    REQUIRE(first_smaller.stall_after_challenge());
    ScriptedPeer second_smaller(node.port(), smaller, ours, "interop_cookie");
    CHECK_FALSE(second_smaller.handshake());  // nok: the pending one is kept
    CHECK(second_smaller.failure().code == wire::HandshakeErrc::lost_race);
}

TEST_CASE(
    "simultaneous_connect: two C++ nodes sending to each other at the same moment end up with "
    "one connection") {
    Cluster cluster;
    constexpr int rounds = 20;
    constexpr int senders = 3;
    constexpr int per_sender = 100;
    for (int round = 0; round < rounds; ++round) {
        CAPTURE(round);
        LogCapture log_a, log_b;
        INFO(log_a.text());
        INFO(log_b.text());
        // Both name orders: the node whose threads start first has the smaller name in even
        // rounds and the greater one in odd rounds.
        const std::string low = unique_name("sim_a"), high = unique_name("sim_b");
        auto options_a = cluster.node_options("x", &log_a);
        auto options_b = cluster.node_options("x", &log_b);
        options_a.name = round % 2 ? high : low;
        options_b.name = round % 2 ? low : high;
        Node a = start_node(options_a);
        Node b = start_node(options_b);
        NodeEvents events_a(a), events_b(b);
        Mailbox rx_a = named_mailbox(a, "rx");
        Mailbox rx_b = named_mailbox(b, "rx");

        std::latch go(2 * senders);
        std::vector<std::jthread> threads;  // joined however the round ends
        auto sender = [&](Node& from, Atom to, int index) {
            Mailbox me = from.open_mailbox();
            go.arrive_and_wait();
            for (int n = 0; n < per_sender; ++n)
                me.send("rx"_a, to, tuple(index, n));
        };
        for (int i = 0; i < senders; ++i) {
            threads.emplace_back(sender, std::ref(a), b.name(), i);
            threads.emplace_back(sender, std::ref(b), a.name(), i);
        }
        // Each receiver wants every message, and each sender's in order.
        auto drain = [&](Mailbox& rx) {
            std::vector<int> next(senders, 0);
            for (int got = 0; got < senders * per_sender; ++got) {
                auto m = rx.receive(30s);
                REQUIRE_MESSAGE(m.has_value(), "message " << got << " of " << senders * per_sender
                                                          << " did not arrive");
                auto pair = m->unpack<std::int64_t, std::int64_t>();
                REQUIRE(pair.has_value());
                auto [index, n] = *pair;
                CHECK(n == next[static_cast<std::size_t>(index)]);
                next[static_cast<std::size_t>(index)] = static_cast<int>(n) + 1;
            }
        };
        drain(rx_a);
        drain(rx_b);
        CHECK(listed_once(a.nodes(), b.name()));
        CHECK(listed_once(b.nodes(), a.name()));
        CHECK(events_a.count(b.name(), true) == 1);
        CHECK(events_b.count(a.name(), true) == 1);
        CHECK(events_a.count(b.name(), false) == 0);
        CHECK(events_b.count(a.name(), false) == 0);
    }
}

TEST_CASE(
    "link_monitor_semantics: a pid from an earlier incarnation of a restarted node is treated as "
    "dead") {
    Cluster cluster;
    LogCapture log, log_old, log_new;
    INFO(log.text());
    INFO(log_old.text());
    INFO(log_new.text());
    auto options = cluster.node_options("cpp_reborn", &log_old);
    const std::string name = options.name;
    ErlNode erl(cluster.erl_options("erl_reborn"));
    register_tester(erl);
    Node other = start_node(cluster.node_options("cpp_witness", &log));
    Mailbox witness = other.open_mailbox();
    witness.trap_exit(true);

    Pid old_pid;
    std::uint32_t old_creation = 0;
    {
        Node first = start_node(options);
        Mailbox inbox = named_mailbox(first, "inbox");
        old_pid = inbox.pid();
        old_creation = first.creation();
        give_erl(erl, inbox, "old", Term(old_pid));
        witness.send("rx"_a, first.name(), Term("hello"_a));  // connects the witness
        CHECK(other.ping(first.name()));
        inbox.close();
    }
    const std::string alive = name;
    eventually([&] { return !epmd_port_please({"127.0.0.1", cluster.epmd_port()}, alive); });

    options.log = log_new.sink();
    Node second = start_node(options);
    CHECK(second.creation() != old_creation);
    Mailbox inbox = named_mailbox(second, "inbox");
    // The same numbers as the old pid, another creation.
    CHECK(inbox.pid().id == old_pid.id);
    CHECK(inbox.pid().serial == old_pid.serial);
    CHECK_FALSE(inbox.pid() == old_pid);

    // From the other C++ node: a message to the old pid is dropped, link and monitor say noproc.
    const auto dropped = second.stats().dropped_messages;
    witness.send(old_pid, Term("to_the_dead"_a));
    witness.send("inbox"_a, second.name(), Term("to_the_living"_a));
    CHECK(next_message(inbox) == Term("to_the_living"_a));
    CHECK(second.stats().dropped_messages == dropped + 1);
    CHECK(inbox.queued() == 0);
    witness.link(old_pid);
    CHECK(next_message(witness) == tuple(atoms::EXIT, old_pid, atoms::noproc));
    const Reference ref = witness.monitor(old_pid);
    CHECK(next_message(witness) == tuple(atoms::DOWN, ref, atoms::process, old_pid, atoms::noproc));

    // From erl: the message does not reach the new process, and a link to the old pid fails.
    CHECK(erl.eval("get(old) ! to_the_dead, {inbox, " + quoted(second.name()) +
                   "} ! to_the_living, ok") == "ok");
    CHECK(next_message(inbox) == Term("to_the_living"_a));
    CHECK(inbox.queued() == 0);
    CHECK(erl.eval("process_flag(trap_exit, true), Old = get(old), link(Old), R = receive "
                   "{'EXIT', Old, Why} -> Why after 15000 -> timeout end, process_flag(trap_exit, "
                   "false), lists:member(R, [noproc, noconnection])") == "true");
}

TEST_CASE(
    "flag_negotiation: a peer of a future release: the connection uses the flags both offer, and "
    "the log names "
    "those we do not understand") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_future", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    constexpr std::uint64_t future = (std::uint64_t{1} << 40) | (std::uint64_t{1} << 55);
    ScriptedPeer peer(node.port(), unique_name("future") + "@" + short_host(),
                      std::string(node.name().name()), "interop_cookie", 0x5c21,
                      wire::offered | future);
    REQUIRE(peer.handshake());
    const Pid me = peer.pid(1);
    peer.send(wire::RegSend{me, "echo"_a, tuple(me, "from_the_future"_a), std::nullopt});
    auto answer = peer.next_control();
    REQUIRE(answer.has_value());
    auto* send = std::get_if<wire::SendSender>(&*answer);
    REQUIRE(send != nullptr);
    CHECK(send->message == Term("from_the_future"_a));
    eventually([&] { return log.contains("does not understand"); });
    CHECK(log.contains("bit 40, bit 55"));
}
