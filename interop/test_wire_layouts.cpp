// Distribution headers with the atom cache and fragmented messages against real erl nodes, which
// use both once we offer them: a 100 MB binary each way, fragmented messages of three senders at
// once, a BEAM past our reassembly limit, and hostile headers and fragments from a scripted peer.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <thread>

#include "cli/demo_services.hpp"
#include "echo_support.hpp"
#include "node_support.hpp"
#include "scripted_peer.hpp"
#include "wire/flags.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// A period of 251 bytes (prime): a fragment reassembled in the wrong place shows.
constexpr std::size_t period = 251;
const std::string make_pattern = "P = list_to_binary(lists:seq(0, 250)),";

bool follows_pattern(std::span<const std::uint8_t> bytes, std::size_t from = 0) {
    for (std::size_t i = 0; i < bytes.size(); ++i)
        if (bytes[i] != (from + i) % period) return false;
    return true;
}

std::vector<std::uint8_t> with_length(std::vector<std::uint8_t> frame) {
    const auto n = static_cast<std::uint32_t>(frame.size());
    frame.insert(frame.begin(),
                 {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                  static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
    return frame;
}

}  // namespace

TEST_CASE(
    "large_message_fragmentation: a BEAM agrees headers and fragments with us, and a 100 MB "
    "binary crosses both ways") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_big", &log));
    ErlNode erl(cluster.erl_options("erl_big"));
    Mailbox inbox = named_mailbox(node, "inbox");
    const Pid tester = erl_pid(erl, node, inbox, "register(tester, self()), self()");

    // 398,406 periods: 99,999,906 bytes, in some 1,526 fragments of 64 KiB.
    CHECK(erl.eval(make_pattern + "put(big, binary:copy(P, 398406)), {inbox, " +
                       quoted(node.name()) + "} ! {big, get(big)}, ok",
                   120s) == "ok");
    Term got = next_message(inbox, 120s);
    REQUIRE(got.is_tuple(2));
    const auto bytes = got[1].bytes();
    CHECK(bytes.size() == 398406 * period);
    CHECK(follows_pattern(bytes));
    CHECK(log.contains("distribution headers, fragments"));

    inbox.send(tester, tuple(atom("back"), got[1]));
    CHECK(erl.eval("receive {back, B} -> B =:= get(big) after 120000 -> timeout end", 150s) ==
          "true");
}

TEST_CASE("fragmented messages of three erl processes at once each arrive whole and in order") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_interleave", &log));
    ErlNode erl(cluster.erl_options("erl_interleave"));
    Mailbox inbox = named_mailbox(node, "inbox");
    // Each sender: 30 messages of 200,800 bytes (four fragments each) as fast as it can, so
    // that the three sequences in progress interleave on the one connection.
    constexpr int senders = 3;
    constexpr int per_sender = 30;
    CHECK(erl.eval(make_pattern + "Cpp = " + quoted(node.name()) + R"ERL(,
        Body = binary:copy(P, 800),
        Parent = self(),
        [spawn(fun() ->
             [{inbox, Cpp} ! {part, I, N, Body} || N <- lists:seq(1, 30)],
             Parent ! {sent, I}
         end) || I <- lists:seq(1, 3)],
        [receive {sent, I} -> ok after 60000 -> timeout end || I <- lists:seq(1, 3)],
        ok)ERL",
                   90s) == "ok");
    std::map<std::int64_t, std::int64_t> last;
    for (int k = 0; k < senders * per_sender; ++k) {
        Term m = next_message(inbox, 60s);
        REQUIRE(m.is_tuple(4));
        const std::int64_t sender = *m[1].to<std::int64_t>();
        const std::int64_t n = *m[2].to<std::int64_t>();
        CHECK(n == last[sender] + 1);  // in the order that sender sent
        last[sender] = n;
        CHECK(m[3].bytes().size() == 800 * period);
        CHECK(follows_pattern(m[3].bytes()));
    }
    for (int i = 1; i <= senders; ++i)
        CHECK(last[i] == per_sender);
}

TEST_CASE(
    "large_message_fragmentation: a 100 MB binary from us reaches erl in fragments; another "
    "process's small message overtakes "
    "it and its own sender's next message does not") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_frag_out", &log));
    ErlNode erl(cluster.erl_options("erl_frag_out"));
    const Atom beam = atom(erl.node_name());
    // sink keeps what arrives in order, the big binary as its size and whether it is whole.
    CHECK(erl.eval(make_pattern + "pong = net_adm:ping(" + quoted(node.name()) + R"ERL(),
        Big = binary:copy(P, 398406),
        register(sink, spawn(fun() ->
            Loop = fun Loop(Got) ->
                receive
                    {report, From} -> From ! {got, lists:reverse(Got)}, Loop(Got);
                    {big, B} -> Loop([{big, byte_size(B), B =:= Big} | Got]);
                    M -> Loop([M | Got])
                end
            end,
            Loop([])
        end)),
        Port = proplists:get_value()ERL" +
                       quoted(node.name()) + R"ERL(, erlang:system_info(dist_ctrl)),
        put(port, Port),
        {ok, [{recv_cnt, N}]} = inet:getstat(Port, [recv_cnt]),
        put(recv_cnt, N),
        ok)ERL",
                   60s) == "ok");

    Mailbox large = node.open_mailbox();
    Mailbox small = node.open_mailbox();
    std::string body;
    body.reserve(398406 * period);
    for (std::size_t i = 0; i < 398406 * period; ++i)
        body.push_back(static_cast<char>(i % period));
    std::thread sender([&] {
        large.send(atom("sink"), beam, tuple(atom("big"), binary(body)));
        large.send(atom("sink"), beam, atom("after_big"));
    });
    // Once megabytes of the big one wait on the connection, another process sends.
    eventually(
        [&] {
            for (const auto& c : node.stats().connections)
                if (c.node == beam && c.queued_bytes > (std::size_t{4} << 20)) return true;
            return false;
        },
        60s);
    small.send(atom("sink"), beam, atom("small"));
    sender.join();
    // Asked until all three are there: the big one may still be arriving.
    CHECK(erl.eval(R"ERL(Ask = fun Ask(0) -> timeout;
                   Ask(K) ->
                       sink ! {report, self()},
                       receive
                           {got, L} when length(L) >= 3 -> L;
                           {got, _} -> timer:sleep(100), Ask(K - 1)
                       end
               end,
        Ask(1200))ERL",
                   150s) == "[small,{big,99999906,true},after_big]");
    // The dist socket took some 1,526 packets for the big one: fragments, not one frame.
    const std::string packets =
        erl.eval("{ok, [{recv_cnt, N}]} = inet:getstat(get(port), [recv_cnt]), N - get(recv_cnt)");
    CAPTURE(packets);
    CHECK(std::stoll(packets) >= 1526);
    CHECK(std::stoll(packets) < 1600);
}

TEST_CASE(
    "large_message_fragmentation: a BEAM message past our reassembly limit closes that "
    "connection only") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    NodeOptions options = cluster.node_options("cpp_limit", &log);
    options.limits.max_reassembly_bytes = 1 << 20;
    // Hidden: a visible node's global would also drop the bystander, which is connected to the
    // node whose connection closes (prevent_overlapping_partitions, as a BEAM does).
    options.hidden = true;
    Node node = start_node(std::move(options));
    REQUIRE(cli::start_demo_services(node).has_value());
    ErlNode bystander(cluster.erl_options("erl_bystander"));
    CHECK(echo_round_trip(bystander, node, "before") == "ok");
    ErlNode erl(cluster.erl_options("erl_over"));
    Mailbox inbox = named_mailbox(node, "inbox");
    CHECK(echo_round_trip(erl, node, "first") == "ok");

    const auto bad = node.stats().bad_frames;
    // 4 MB in fragments: the first reserves the 1 MiB limit, the 17th does not fit.
    CHECK(erl.eval(make_pattern + "{inbox, " + quoted(node.name()) +
                   "} ! {big, binary:copy(P, 16000)}, ok") == "ok");
    eventually([&] { return node.stats().bad_frames == bad + 1; });
    CHECK(log.contains("the limit is 1048576"));
    CHECK(echo_round_trip(bystander, node, "later") == "ok");
    // erl has seen the connection go before it sends again (or it would send on the old one).
    eventually([&] {
        return erl.eval("lists:member(" + quoted(node.name()) + ", nodes(hidden))") == "false";
    });
    // Under the limit, the same BEAM connects again and its fragmented messages arrive.
    CHECK(erl.eval(make_pattern + "{inbox, " + quoted(node.name()) +
                   "} ! {small, binary:copy(P, 1000)}, ok") == "ok");
    Term m = next_message(inbox, 30s);
    REQUIRE(m.is_tuple(2));
    CHECK(m[0].is_atom(atom("small")));
    CHECK(follows_pattern(m[1].bytes()));
}

TEST_CASE(
    "malformed_peer: hostile distribution headers and fragments close only their own "
    "connection") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_hostile", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    ErlNode erl(cluster.erl_options("erl_bystander"));
    CHECK(echo_round_trip(erl, node, "first") == "ok");
    const std::string scripted = unique_name("scripted") + "@" + short_host();

    struct Garbage {
        const char* what;
        std::vector<std::vector<std::uint8_t>> frames;
    };
    const std::vector<std::uint8_t> seq1 = {0, 0, 0, 0, 0, 0, 0, 1};
    auto fragment = [&](std::uint8_t kind, std::uint8_t id, std::vector<std::uint8_t> rest) {
        // Appended byte by byte: GCC 12 sees an out-of-bounds memcpy in inserts into this
        // two-byte vector (a -Warray-bounds false positive).
        std::vector<std::uint8_t> f;
        f.reserve(18 + rest.size());
        f.push_back(131);
        f.push_back(kind);
        for (std::uint8_t b : seq1)
            f.push_back(b);
        for (std::uint8_t b : {0, 0, 0, 0, 0, 0, 0})
            f.push_back(b);
        f.push_back(id);
        for (std::uint8_t b : rest)
            f.push_back(b);
        return f;
    };
    const std::vector<Garbage> cases = {
        {"a reference to a cache entry never set", {{131, 68, 1, 0x00, 5, 104, 1, 97, 1}}},
        {"an ATOM_CACHE_REF past the header's atoms", {{131, 68, 0, 104, 2, 97, 6, 82, 0}}},
        {"a header cut short", {{131, 68, 3, 0x88}}},
        {"a continuation of no sequence", {fragment(70, 1, {1, 2, 3})}},
        {"fragments out of order",
         {fragment(69, 3, {0, 104, 2, 97, 6}), fragment(70, 1, {1, 2, 3})}},
        {"a pass-through frame where headers were agreed", {{112, 131, 104, 1, 97, 1}}},
    };
    for (const auto& garbage : cases) {
        CAPTURE(garbage.what);
        ScriptedPeer peer(node.port(), scripted, std::string(node.name().name()), "interop_cookie");
        REQUIRE(peer.handshake());
        REQUIRE((peer.negotiated() & wire::flag::dist_hdr_atom_cache) != 0);
        const Pid me = peer.pid(1);
        peer.send(wire::RegSend{me, "echo"_a, tuple(me, "hello"_a), std::nullopt});
        REQUIRE(peer.next_control().has_value());  // the connection works until the garbage
        const auto bad = node.stats().bad_frames;
        for (const auto& frame : garbage.frames)
            peer.send_raw(with_length(frame));
        CHECK(peer.closed_within(20s));
        eventually([&] { return node.stats().bad_frames == bad + 1; });
        CHECK(echo_round_trip(erl, node, "bystander") == "ok");
    }
}
