// Distribution headers with the atom cache and fragmented messages against real erl nodes, which
// use both once we offer them: binaries of 32, 100 and 320 MB each way with both nodes' memory
// back to its baseline after them, a small message overtaking a large one each way, fragmented
// messages of three senders at once, a BEAM past our reassembly limit, and hostile headers and
// fragments from a scripted peer.
#include <doctest/doctest.h>
#include <malloc.h>

#include <algorithm>
#include <initializer_list>
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

// Periods in binaries of about 32, 100 and 320 MB (64 KiB fragments: some 490, 1,526, 4,883).
constexpr std::size_t periods_32mb = 127'490;     // 31,999,990 bytes
constexpr std::size_t periods_100mb = 398'406;    // 99,999,906 bytes
constexpr std::size_t periods_320mb = 1'274'900;  // 319,999,900 bytes

// Bytes this process has allocated and not freed, over all of malloc's arenas and its mmapped
// blocks: what our node holds, without what the allocator keeps free for reuse (which RSS
// counts, and which a freed large message leaves behind for a while).
std::size_t heap_in_use() {
    const struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

// What our node and an erl node hold before large messages, to compare with afterwards.
struct MemoryBaseline {
    std::size_t ours = 0;
    std::int64_t erl_binary = 0;
};

// erlang:memory(binary) once every process of `erl` has been garbage collected: the binaries
// it still holds.
std::int64_t erl_binary_memory(ErlNode& erl) {
    return std::stoll(
        erl.eval("[erlang:garbage_collect(P) || P <- processes()], erlang:memory(binary)"));
}

MemoryBaseline memory_baseline(ErlNode& erl) {
    return {heap_in_use(), erl_binary_memory(erl)};
}

// After large messages both ways: nothing queued or in reassembly on the connection to `erl`,
// and both nodes back within 8 MB of their baselines. A message of 32 MB or more kept anywhere
// (a buffer not freed, a binary still referenced) is well past that; 8 MB leaves room for what
// other threads of this process and erl's own processes allocate meanwhile.
void check_memory_back(Node& node, ErlNode& erl, const MemoryBaseline& before) {
    constexpr std::size_t tolerance = std::size_t{8} << 20;
    const Atom beam = atom(erl.node_name());
    eventually([&] {
        for (const auto& c : node.stats().connections)
            if (c.node == beam) return c.queued_bytes == 0 && c.reassembly_bytes == 0;
        return false;
    });
    // Asked again for up to 10 s: a writer thread here, or erl's distribution port, may let go
    // of its last buffer a moment after the message is through.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    auto settled = [&](auto measure, auto limit) {
        auto value = measure();
        while (value > limit && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(100ms);
            value = measure();
        }
        return value;
    };
    const std::size_t ours = settled(heap_in_use, before.ours + tolerance);
    CAPTURE(before.ours);
    CAPTURE(ours);
    CHECK(ours <= before.ours + tolerance);
    const std::int64_t erl_limit = before.erl_binary + static_cast<std::int64_t>(tolerance);
    const std::int64_t erl_binary = settled([&] { return erl_binary_memory(erl); }, erl_limit);
    CAPTURE(before.erl_binary);
    CAPTURE(erl_binary);
    CHECK(erl_binary <= erl_limit);
}

// A binary of `periods` patterns from erl to our inbox and back: we check every byte of what
// arrives, erl compares what comes back with what it sent. erl's evaluating process is
// registered as `tester`; nothing of the binary is kept on either side afterwards.
void cross_both_ways(ErlNode& erl, Node& node, Mailbox& inbox, std::size_t periods) {
    CAPTURE(periods * period);
    CHECK(erl.eval(make_pattern + "put(big, binary:copy(P, " + std::to_string(periods) +
                       ")), {inbox, " + quoted(node.name()) + "} ! {big, get(big)}, ok",
                   120s) == "ok");
    {
        Term got = next_message(inbox, 120s);
        REQUIRE(got.is_tuple(2));
        const auto bytes = got[1].bytes();
        CHECK(bytes.size() == periods * period);
        CHECK(follows_pattern(bytes));
        inbox.send(atom("tester"), atom(erl.node_name()), tuple(atom("back"), got[1]));
    }
    CHECK(erl.eval("receive {back, B} -> B =:= erase(big) after 120000 -> timeout end", 150s) ==
          "true");
}

// Our node and an erl node that agreed distribution headers and fragments: binaries of each of
// `sizes` (in periods) cross both ways, and then both nodes hold no more memory than before.
void cross_and_check_memory(std::initializer_list<std::size_t> sizes) {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_big", &log));
    ErlNode erl(cluster.erl_options("erl_big"));
    Mailbox inbox = named_mailbox(node, "inbox");
    register_tester(erl);
    cross_both_ways(erl, node, inbox, 1);  // connected, and the code all paths use loaded
    const MemoryBaseline before = memory_baseline(erl);

    for (const std::size_t periods : sizes)
        cross_both_ways(erl, node, inbox, periods);
    CHECK(log.contains("distribution headers, fragments"));
    check_memory_back(node, erl, before);
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
    "large_message_fragmentation: a BEAM agrees headers and fragments with us; binaries of 32 MB "
    "and 100 MB cross both ways exactly, and then our node and erl hold no more memory than "
    "before") {
    cross_and_check_memory({periods_32mb, periods_100mb});
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
    "process's small message overtakes it and is answered before it arrives, and its own "
    "sender's next message does not overtake it") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_frag_out", &log));
    ErlNode erl(cluster.erl_options("erl_frag_out"));
    const Atom beam = atom(erl.node_name());
    // sink keeps what arrives in order, the big binary as its size and whether it is whole, and
    // answers the small message (the latency probe: its round trip ends before the big one is in).
    CHECK(erl.eval(make_pattern + "pong = net_adm:ping(" + quoted(node.name()) + R"ERL(),
        Big = binary:copy(P, 398406),
        register(sink, spawn(fun() ->
            Loop = fun Loop(Got) ->
                receive
                    {report, From} -> From ! {got, lists:reverse(Got)}, Loop(Got);
                    {big, B} -> Loop([{big, byte_size(B), B =:= Big} | Got]);
                    {small, From} -> From ! pong, Loop([small | Got]);
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
    small.send(atom("sink"), beam, tuple(atom("small"), small.pid()));
    CHECK(next_message(small, 60s).is_atom(atom("pong")));
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
    "large_message_fragmentation: a small message erl sends while its 100 MB message to us is "
    "arriving overtakes it, and our answer reaches erl") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_probe_in", &log));
    ErlNode erl(cluster.erl_options("erl_probe_in"));
    Mailbox inbox = named_mailbox(node, "inbox");
    const Atom beam = atom(erl.node_name());
    const std::string cpp = quoted(node.name());
    CHECK(erl.eval(make_pattern + "pong = net_adm:ping(" + cpp + "), put(big, binary:copy(P, " +
                   std::to_string(periods_100mb) + ")), ok") == "ok");
    // Another erl process sends the big one; once its first fragments are here, the probe goes.
    CHECK(erl.eval("B = get(big), spawn(fun() -> {inbox, " + cpp + "} ! {big, B} end), ok") ==
          "ok");
    eventually([&] {
        for (const auto& c : node.stats().connections)
            if (c.node == beam && c.reassembly_bytes > 0) return true;
        return false;
    });
    CHECK(erl.eval("{inbox, " + cpp + "} ! {probe, self()}, ok") == "ok");

    // The probe is delivered first: the big one was still in fragments when it came.
    Term probe = next_message(inbox, 60s);
    REQUIRE(probe.is_tuple(2));
    CHECK(probe[0].is_atom(atom("probe")));
    REQUIRE(probe[1].to<Pid>().has_value());
    inbox.send(*probe[1].to<Pid>(), atom("pong"));
    CHECK(erl.eval("receive pong -> ok after 30000 -> timeout end", 40s) == "ok");
    Term big = next_message(inbox, 120s);
    REQUIRE(big.is_tuple(2));
    CHECK(big[0].is_atom(atom("big")));
    CHECK(big[1].bytes().size() == periods_100mb * period);
    CHECK(follows_pattern(big[1].bytes()));
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
    // The node counts the bad frame and then writes the nodedown line that gives the reason.
    eventually([&] { return log.contains("the limit is 1048576"); });
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

// 320 MB each way takes several seconds and some 1.3 GB between the two nodes: it runs once, in
// the `releases` suite (scripts/check), not with each of the three releases the interop suite
// runs against.
TEST_SUITE("releases") {
    TEST_CASE(
        "large_message_fragmentation: a 320 MB binary crosses both ways exactly, and then our "
        "node and erl hold no more memory than before") {
        cross_and_check_memory({periods_320mb});
    }
}
