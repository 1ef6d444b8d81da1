// The connection-level scenarios of the reliability reference that the robustness tests do not
// already cover (docs/reliability.md has the whole table): an EPMD version range not to be
// trusted, a peer missing a compulsory flag, a dial that never gets an answer or a challenge
// that is never followed up, a stale bad frame next to a new connection, and the order of node
// events and messages over many reconnect cycles.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "cli/demo_services.hpp"
#include "echo_support.hpp"
#include "epmd_support.hpp"
#include "node_support.hpp"
#include "scripted_peer.hpp"
#include "wire/flags.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

std::string alive_of(const std::string& node) {
    return node.substr(0, node.find('@'));
}

long open_descriptors() {
    return std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                         std::filesystem::directory_iterator());
}

// A listening socket on 127.0.0.1 with `backlog`; its port through `port`.
int loopback_listener(int backlog, std::uint16_t& port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd, backlog) == 0);
    socklen_t size = sizeof address;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0);
    port = ntohs(address.sin_port);
    return fd;
}

// A loopback listening socket that is never accepted from: once its backlog is full, the
// kernel drops further SYNs, so a dial to it neither connects nor fails.
class DeafListener {
  public:
    DeafListener() : fd_(loopback_listener(0, port_)) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = htons(port_);
        // Fill the accept queue (a backlog of 0 holds one connection; two more for margin).
        for (int i = 0; i < 3; ++i) {
            const int filler = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            REQUIRE(filler >= 0);
            (void)::connect(filler, reinterpret_cast<sockaddr*>(&address), sizeof address);
            fillers_.push_back(filler);
        }
        std::this_thread::sleep_for(200ms);
    }
    ~DeafListener() {
        for (int fd : fillers_)
            ::close(fd);
        ::close(fd_);
    }
    DeafListener(const DeafListener&) = delete;
    DeafListener& operator=(const DeafListener&) = delete;
    std::uint16_t port() const { return port_; }

  private:
    std::uint16_t port_ = 0;
    int fd_ = -1;
    std::vector<int> fillers_;
};

NodeRegistration registration_of(const std::string& name, std::uint16_t port) {
    NodeRegistration r;
    r.name = name;
    r.port = port;
    return r;
}

// A name registered with the cluster's EPMD for `port`, for as long as this lives.
struct GhostName {
    GhostName(const Cluster& cluster, std::uint16_t port)
        : name(unique_name("ghost")),
          client(loop.io, client_for(cluster.epmd_port())),
          registration(client, registration_of(name, port)) {
        REQUIRE(registration.wait().has_value());
    }
    std::string node() const { return name + "@" + short_host(); }

    std::string name;
    Loop loop;
    EpmdClient client;
    Registration registration;
};

}  // namespace

TEST_CASE(
    "handshake_matrix: an erl node whose EPMD entry says 5..5 still speaks 'N', and we reach it "
    "and it reaches us, messages flowing both times") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_matrix", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    auto options = cluster.erl_options("erl_v5");
    // erl_epmd registers the range it reads here; the node's own handshake is 'N' regardless.
    options.extra_env = {"ERL_EPMD_DIST_HIGH=5"};
    ErlNode erl(options);
    const Atom peer = atom(erl.node_name());
    const auto entry =
        epmd_port_please({"127.0.0.1", cluster.epmd_port()}, alive_of(erl.node_name()));
    REQUIRE(entry.has_value());
    CHECK(entry->highest == 5);
    CHECK(entry->lowest == 5);

    // We dial: the range is not trusted, the handshake is tried and succeeds.
    auto dialled = node.connect(peer);
    CHECK_MESSAGE(dialled.has_value(), (dialled.has_value() ? "" : dialled.error().detail));
    CHECK(echo_round_trip(erl, node, "we_dialled") == "ok");
    CHECK(node.disconnect(peer));
    eventually([&] { return erl.eval("nodes(connected)") == "[]"; });

    // erl dials.
    CHECK(erl.eval("net_adm:ping(" + quoted(node.name()) + ")") == "pong");
    CHECK(echo_round_trip(erl, node, "erl_dialled") == "ok");
}

TEST_CASE(
    "flag_negotiation: a peer missing a compulsory flag gets not_allowed, is logged with the flag "
    "named, and nothing else is touched") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_flags", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    ErlNode erl(cluster.erl_options("erl_flags_bystander"));
    CHECK(echo_round_trip(erl, node, "before") == "ok");
    const std::string ours(node.name().name());

    struct Missing {
        const char* name;
        std::uint64_t flag;
    };
    for (const Missing missing :
         {Missing{"BIG_CREATION", wire::flag::big_creation},
          Missing{"UNLINK_ID", wire::flag::unlink_id}, Missing{"V4_NC", wire::flag::v4_nc}}) {
        CAPTURE(missing.name);
        const auto refused = node.stats().refused_handshakes;
        const std::uint64_t offered =
            wire::offered & ~missing.flag & ~wire::flag::mandatory_25_digest;
        ScriptedPeer weak(node.port(), unique_name("weak") + "@" + short_host(), ours,
                          "interop_cookie", 0x5c21, offered);
        CHECK_FALSE(weak.handshake());
        CHECK(weak.failure().code == wire::HandshakeErrc::refused);
        CHECK(weak.failure().detail.find("not_allowed") != std::string::npos);
        eventually([&] { return node.stats().refused_handshakes == refused + 1; });
        eventually([&] { return log.contains(missing.name); });
        CHECK(node.hidden_nodes().empty());
        CHECK(echo_round_trip(erl, node, "bystander") == "ok");
    }
}

TEST_CASE(
    "setup_timeout: a dial to an address that never answers fails after the setup time, and "
    "leaves no descriptor behind") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    auto options = cluster.node_options("cpp_deaf", &log);
    options.setup_timeout = 1000ms;
    Node node = start_node(options);
    DeafListener deaf;
    GhostName ghost(cluster, deaf.port());
    const auto descriptors = open_descriptors();

    // The call's own limit is far above the setup time: what ends the dial is the setup time.
    auto dialled = node.connect(atom(ghost.node()), 60s);
    REQUIRE_FALSE(dialled.has_value());
    CAPTURE(dialled.error().detail);
    CHECK(dialled.error().detail.find("within 1000 ms") != std::string::npos);
    eventually([&] { return open_descriptors() == descriptors; });
    CHECK(node.stats().connections.empty());
}

TEST_CASE(
    "setup_timeout: a peer we dial that abandons the handshake after its challenge is given up "
    "after the setup time, and its socket closed") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    auto options = cluster.node_options("cpp_abandoned", &log);
    options.setup_timeout = 1000ms;
    Node node = start_node(options);

    // A listener that takes our send_name, answers ok and a challenge, and then says nothing.
    std::uint16_t port = 0;
    const int listener = loopback_listener(4, port);
    GhostName ghost(cluster, port);
    const auto descriptors = open_descriptors();

    std::atomic<bool> closed_by_us{false};
    std::jthread abandoner([&] {
        const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        std::uint8_t buffer[512];
        (void)::recv(fd, buffer, sizeof buffer, 0);  // send_name
        std::vector<std::uint8_t> out{0, 3, 's', 'o', 'k'};
        const std::string name = ghost.node();
        std::vector<std::uint8_t> challenge{'N'};
        auto put = [&](std::uint64_t value, int bytes) {
            for (int i = bytes - 1; i >= 0; --i)
                challenge.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
        };
        put(wire::offered | wire::flag::published, 8);
        put(0x12345678, 4);  // the challenge
        put(7, 4);           // creation
        put(name.size(), 2);
        challenge.insert(challenge.end(), name.begin(), name.end());
        out.push_back(static_cast<std::uint8_t>(challenge.size() >> 8));
        out.push_back(static_cast<std::uint8_t>(challenge.size()));
        out.insert(out.end(), challenge.begin(), challenge.end());
        (void)::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
        // Our node's challenge reply comes; then nothing from here until it gives up.
        for (;;) {
            const auto got = ::recv(fd, buffer, sizeof buffer, 0);
            if (got <= 0) break;
        }
        closed_by_us = true;
        ::close(fd);
    });

    auto dialled = node.connect(atom(ghost.node()), 60s);
    REQUIRE_FALSE(dialled.has_value());
    CAPTURE(dialled.error().detail);
    abandoner.join();
    CHECK(closed_by_us);
    ::close(listener);
    eventually([&] { return open_descriptors() == descriptors - 1; });
    CHECK(node.stats().connections.empty());
}

TEST_CASE(
    "malformed_peer: a stale bad frame on a replaced connection does not kill the new one of the "
    "same peer") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_stale", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    NodeEvents events(node);
    const std::string name = unique_name("stale") + "@" + short_host();
    const std::string ours(node.name().name());
    const std::vector<std::uint8_t> garbage{0, 0, 0, 3, 112, 131, 255};

    ScriptedPeer old_life(node.port(), name, ours, "interop_cookie", 1);
    REQUIRE(old_life.handshake());
    expect_echo(old_life, "old"_a);
    ScriptedPeer new_life(node.port(), name, ours, "interop_cookie", 2);
    REQUIRE(new_life.handshake());
    // The old socket, replaced but perhaps not yet read to its end, now says something bad.
    old_life.send_raw(garbage);
    CHECK(old_life.closed_within(20s));
    expect_echo(new_life, "new"_a);
    CHECK(events.sequence(atom(name)) == std::vector<bool>{true, false, true});
    CHECK(node.hidden_nodes() == std::vector<Atom>{atom(name)});
}

TEST_CASE(
    "event_ordering: over 20 reconnect cycles of an erl node that floods us and hangs up, "
    "nodeup comes before its first message, nodedown and every DOWN after its last") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_order", &log));
    Mailbox inbox = named_mailbox(node, "inbox");
    node.monitor_nodes(inbox.pid());
    ErlNode erl(cluster.erl_options("erl_order"));
    const Atom peer = atom(erl.node_name());
    const std::string cpp = quoted(node.name());
    constexpr int cycles = 20;
    constexpr int flood = 300;
    constexpr int monitored = 25;
    int arrived = 0;

    for (int cycle = 0; cycle < cycles; ++cycle) {
        CAPTURE(cycle);
        // An erl process dials, hands over pids to monitor, waits for the ack, floods and hangs
        // up; the waiters end after that, so each DOWN can only say noconnection.
        const std::string c = std::to_string(cycle);
        CHECK(erl.eval("Cpp = " + cpp + ", C = " + c +
                       ", spawn(fun() -> register(flooder, self()), Pids = [spawn(fun() -> "
                       "receive stop -> ok end end) || _ <- lists:seq(1, " +
                       std::to_string(monitored) +
                       ")], {inbox, Cpp} ! {pids, C, Pids}, receive {monitored, C} -> ok after "
                       "15000 -> exit(no_ack) end, [{inbox, Cpp} ! {flood, C, N} || N <- "
                       "lists:seq(1, " +
                       std::to_string(flood) +
                       ")], erlang:disconnect_node(Cpp), [P ! stop || P <- Pids] end), ok") ==
              "ok");
        CHECK(next_message(inbox) == tuple("nodeup"_a, peer));
        auto pids = next_message(inbox).unpack<Atom, std::int64_t, std::vector<Pid>>();
        REQUIRE(pids.has_value());
        CHECK(std::get<1>(*pids) == cycle);
        for (const Pid& target : std::get<2>(*pids))
            (void)inbox.monitor(target);
        inbox.send("flooder"_a, peer, tuple("monitored"_a, cycle));
        // disconnect_node may drop what erl had not yet written: a prefix of the flood arrives,
        // in order; after its last message, every DOWN and the nodedown (their order is free).
        int next = 1;
        Term m = next_message(inbox);
        while (auto message = m.tagged<std::int64_t, std::int64_t>("flood"_a)) {
            CHECK(std::get<0>(*message) == cycle);
            REQUIRE(std::get<1>(*message) == next);
            ++next;
            m = next_message(inbox);
        }
        arrived += next - 1;
        int downs = 0;
        bool down = false;
        for (bool first = true; downs < monitored || !down; first = false) {
            if (!first) m = next_message(inbox);
            if (m == tuple("nodedown"_a, peer)) {
                CHECK_FALSE(down);
                down = true;
                continue;
            }
            auto signal = m.unpack<Atom, Reference, Atom, Pid, Atom>();
            REQUIRE_MESSAGE(signal.has_value(), "neither a DOWN nor the nodedown: " << m);
            CHECK(std::get<4>(*signal) == atoms::noconnection);
            ++downs;
        }
        CHECK(downs == monitored);
        eventually([&] { return erl.eval("nodes(connected)") == "[]"; });
    }
    CHECK(inbox.queued() == 0);
    CHECK(arrived > 0);
}

TEST_CASE(
    "malformed_peer: a control tuple of the wrong size for every op, and a PAYLOAD_EXIT whose "
    "reason is not a term, each close only their own connection") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_every_op", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    ErlNode erl(cluster.erl_options("erl_every_op"));
    CHECK(echo_round_trip(erl, node, "first") == "ok");
    Mailbox bystander = node.open_mailbox();
    const std::string scripted = unique_name("every_op") + "@" + short_host();
    const std::string ours(node.name().name());
    constexpr std::uint64_t pass_through =
        wire::offered & ~(wire::flag::dist_hdr_atom_cache | wire::flag::fragments);

    auto frame_of = [](std::vector<std::uint8_t> body) {
        const auto size = static_cast<std::uint32_t>(body.size());
        std::vector<std::uint8_t> frame{
            static_cast<std::uint8_t>(size >> 24), static_cast<std::uint8_t>(size >> 16),
            static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size)};
        frame.insert(frame.end(), body.begin(), body.end());
        return frame;
    };
    std::vector<std::pair<std::string, std::vector<std::uint8_t>>> cases;
    for (const int op : {1,  2,  3,  4,  5,  6,  7,  8,  12, 13, 16, 18, 19, 20, 21, 22,
                         23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37}) {
        // {Op} alone is short for every op but NODE_LINK, whose whole tuple it is: {5, x}.
        std::vector<std::uint8_t> body{112, 131, 104, 1, 97, static_cast<std::uint8_t>(op)};
        if (op == 5) body = {112, 131, 104, 2, 97, 5, 100, 0, 1, 'x'};
        cases.emplace_back("op " + std::to_string(op), frame_of(body));
    }
    // {24, From, To} in full, followed by a reason that is not a term.
    std::vector<std::uint8_t> payload_exit;
    wire::FrameEncoder encoder(pass_through);
    const Pid from{atom(scripted), 1, 0, 0x5c21};
    encoder.encode(payload_exit, wire::Link{from, bystander.pid()});
    REQUIRE(payload_exit.size() > 10);
    REQUIRE(payload_exit[9] == 1);
    payload_exit[9] = 24;
    payload_exit.insert(payload_exit.end(), {131, 255});
    const auto body_size = static_cast<std::uint32_t>(payload_exit.size() - 4);
    for (int i = 0; i < 4; ++i)
        payload_exit[static_cast<std::size_t>(i)] =
            static_cast<std::uint8_t>(body_size >> (8 * (3 - i)));
    cases.emplace_back("PAYLOAD_EXIT with a bad reason", payload_exit);

    for (const auto& [what, frame] : cases) {
        CAPTURE(what);
        ScriptedPeer peer(node.port(), scripted, ours, "interop_cookie", 0x5c21, pass_through);
        REQUIRE(peer.handshake());
        const auto bad = node.stats().bad_frames;
        peer.send_raw(frame);
        CHECK(peer.closed_within(20s));
        eventually([&] { return node.stats().bad_frames == bad + 1; });
        eventually([&] { return node.hidden_nodes().empty(); });
    }
    // Nothing reached the process the bad exit was addressed to, and the node serves on.
    CHECK(bystander.queued() == 0);
    CHECK(echo_round_trip(erl, node, "last") == "ok");
    ScriptedPeer again(node.port(), scripted, ours, "interop_cookie", 0x5c21, pass_through);
    CHECK(again.handshake());
}
