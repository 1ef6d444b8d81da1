// The traffic scenarios of the reliability reference that other tests do not already cover
// (docs/reliability.md has the whole table): a peer frozen while a huge send to it is in flight,
// exit signals behind a busy send queue, terms at the edges of the format, and atoms that fight
// over the atom cache's slots.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cli/demo_services.hpp"
#include "distribute/etf.hpp"
#include "echo_support.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

std::string erl_binary(const std::vector<std::uint8_t>& bytes) {
    std::string text = "<<";
    for (std::size_t i = 0; i < bytes.size(); ++i)
        text += (i ? "," : "") + std::to_string(bytes[i]);
    return text + ">>";
}

// erl's evaluating process, registered as `tester`, gets `value` from our `from`; `check` (an
// Erlang fun of one argument, returning what it finds) runs on it.
std::string erl_check(ErlNode& erl, const Mailbox& from, const Term& value,
                      const std::string& check) {
    from.send("tester"_a, atom(erl.node_name()), tuple("check"_a, value));
    return erl.eval(
        "Check = " + check + ", receive {check, V} -> Check(V) after 60000 -> timeout end",
        std::chrono::seconds(90));
}

}  // namespace

TEST_CASE(
    "tick_timeout: a peer SIGSTOPped while a 200 MB send to it is in flight is dropped with "
    "net_tick_timeout, and reached again once it runs") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    auto options = cluster.node_options("cpp_tick_big", &log);
    options.net_ticktime = std::chrono::seconds(4);
    Node node = start_node(options);
    NodeEvents events(node);
    auto erl_options = cluster.erl_options("erl_tick_big");
    erl_options.extra_args = {"-kernel", "net_ticktime", "4"};
    ErlNode erl(erl_options);
    const Atom peer = atom(erl.node_name());
    CHECK(erl.eval("register(sink, spawn(fun S() -> receive _ -> S() end end)), ok") == "ok");
    CHECK(node.ping(peer));

    Mailbox sender = node.open_mailbox();
    const std::vector<std::uint8_t> bytes(100u << 20, 0x5a);
    const Term big = binary(bytes);
    {
        Stopped frozen(os_pid(erl));
        sender.send("sink"_a, peer, big);
        sender.send("sink"_a, peer, big);
        eventually([&] { return events.count(peer, false) == 1; }, 40s);
    }
    const auto down = events.last(peer, false);
    REQUIRE(down.has_value());
    CHECK(down->reason.find("net_tick_timeout") != std::string::npos);
    eventually([&] { return node.ping(peer, 2s); }, 40s);
    CHECK(erl.eval("lists:member(" + quoted(node.name()) + ", nodes())") == "true");
}

TEST_CASE(
    "tick_timeout: ticks keep an idle erl connected to a node busy sending it 20 messages of "
    "32 MB one after another") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    auto options = cluster.node_options("cpp_tick_busy", &log);
    options.net_ticktime = std::chrono::seconds(4);
    Node node = start_node(options);
    NodeEvents events(node);
    auto erl_options = cluster.erl_options("erl_tick_busy");
    erl_options.extra_args = {"-kernel", "net_ticktime", "4"};
    ErlNode erl(erl_options);
    const Atom peer = atom(erl.node_name());
    Mailbox inbox = named_mailbox(node, "inbox");
    CHECK(erl.eval("Cpp = " + quoted(node.name()) +
                   ", register(sink, spawn(fun S() -> receive {N, B} -> {inbox, Cpp} ! {got, N, "
                   "byte_size(B)}, S() end end)), ok") == "ok");
    const std::vector<std::uint8_t> bytes(32u << 20, 0xa5);
    const Term big = binary(bytes);
    for (int n = 1; n <= 20; ++n) {
        inbox.send("sink"_a, peer, tuple(n, big));
        CHECK(next_message(inbox, 30s) == tuple("got"_a, n, 32 << 20));
    }
    CHECK(events.count(peer, false) == 0);
    CHECK(erl.eval("nodes(connected) =:= [" + quoted(node.name()) + "]") == "true");
}

TEST_CASE(
    "link_monitor_semantics: no EXIT or DOWN is lost, either way, while the send queue is busy "
    "with large messages") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_busy_signals", &log));
    ErlNode erl(cluster.erl_options("erl_busy_signals"));
    register_tester(erl);
    const Atom peer = atom(erl.node_name());
    const std::string cpp = quoted(node.name());
    Mailbox inbox = named_mailbox(node, "inbox");
    constexpr int count = 100;
    const std::vector<std::uint8_t> bytes(8u << 20, 1);
    const Term big = binary(bytes);

    // Ours end behind a queue of large messages to erl: erl links to and monitors each.
    std::vector<Mailbox> ours;
    std::vector<Term> pids;
    for (int i = 0; i < count; ++i) {
        ours.push_back(node.open_mailbox());
        pids.emplace_back(ours.back().pid());
    }
    CHECK(erl.eval("Cpp = " + cpp +
                   ", register(sink, spawn(fun S() -> receive _ -> S() end end)), "
                   "register(watcher, spawn(fun() -> process_flag(trap_exit, true), receive "
                   "{watch, Pids} -> [begin link(P), monitor(process, P) end || P <- Pids], "
                   "{inbox, Cpp} ! watching, W = fun L(0, 0) -> ok; L(E, D) -> receive {'EXIT', "
                   "_, {bye, _}} -> L(E - 1, D); {'DOWN', _, process, _, {bye, _}} -> L(E, D - 1) "
                   "after 60000 -> exit({lost, E, D}) end end, W(length(Pids), length(Pids)), "
                   "tester ! all_signals end end)), ok") == "ok");
    inbox.send("watcher"_a, peer, tuple("watch"_a, list_from(pids)));
    CHECK(next_message(inbox) == Term("watching"_a));
    for (int i = 0; i < 8; ++i)
        inbox.send("sink"_a, peer, big);
    for (int i = 0; i < count; ++i)
        ours[static_cast<std::size_t>(i)].close(tuple("bye"_a, i));
    CHECK(erl.eval("receive all_signals -> ok after 90000 -> timeout end", 100s) == "ok");

    // erl's end behind a queue of large messages to us: we link to and monitor each.
    inbox.trap_exit(true);
    auto theirs = erl_value(erl, node, inbox,
                            "[spawn(fun() -> receive {stop, R} -> exit(R) end end) || _ <- "
                            "lists:seq(1, " +
                                std::to_string(count) + ")]");
    auto targets = theirs.to<std::vector<Pid>>();
    REQUIRE(targets.has_value());
    for (const Pid& p : *targets) {
        inbox.link(p);
        (void)inbox.monitor(p);
    }
    REQUIRE(node.ping(peer));  // the links and monitors are there before erl goes on
    give_erl(erl, inbox, "targets", theirs);
    CHECK(erl.eval("Cpp = " + cpp +
                   ", B = binary:copy(<<1>>, 8 bsl 20), [{inbox, Cpp} ! {big, "
                   "B} || _ <- lists:seq(1, 8)], [P ! {stop, {bye, I}} || {I, P} <- "
                   "lists:enumerate(get(targets))], ok") == "ok");
    int exits = 0, downs = 0, bigs = 0;
    while (exits < count || downs < count || bigs < 8) {
        const Term m = next_message(inbox, 60s);
        if (m.tagged<Term>("big"_a)) {
            ++bigs;
        } else if (auto exit = m.tagged<Pid, Term>(atoms::EXIT)) {
            CHECK(std::get<1>(*exit).tagged<std::int64_t>("bye"_a).has_value());
            ++exits;
        } else if (auto down = m.tagged<Reference, Atom, Pid, Term>(atoms::DOWN)) {
            CHECK(std::get<3>(*down).tagged<std::int64_t>("bye"_a).has_value());
            ++downs;
        } else {
            FAIL("an unexpected message: " << m);
        }
    }
    CHECK(inbox.queued() == 0);
}

TEST_CASE(
    "term_conformance: 1,000,000-deep lists and tuples cross both ways, and non-canonical forms "
    "decode to the terms erl makes of them") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_terms", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    ErlNode erl(cluster.erl_options("erl_terms"));
    register_tester(erl);
    Mailbox inbox = node.open_mailbox();
    const std::string cpp = quoted(node.name());

    // erl's deep terms through our echo, back =:=.
    CHECK(erl.eval("L = lists:foldl(fun(_, A) -> [A] end, [], lists:seq(1, 1000000)), T = "
                   "lists:foldl(fun(_, A) -> {A} end, {}, lists:seq(1, 1000000)), {echo, " +
                       cpp +
                       "} ! {self(), {L, T}}, receive {L2, T2} -> {L2 =:= L, T2 =:= T} after "
                       "60000 -> timeout end",
                   90s) == "{true,true}");

    // Ours, built in C++, measured by erl.
    Term deep_list = list();
    Term deep_tuple = tuple();
    for (int i = 0; i < 1000000; ++i) {
        deep_list = list(std::move(deep_list));
        deep_tuple = tuple(std::move(deep_tuple));
    }
    CHECK(erl_check(erl, inbox, tuple(deep_list, deep_tuple),
                    "fun({L, T}) -> DL = fun F([X], N) -> F(X, N + 1); F([], N) -> N end, DT = "
                    "fun G({X}, N) -> G(X, N + 1); G({}, N) -> N end, {DL(L, 0), DT(T, 0)} end") ==
          "{1000000,1000000}");

    // Forms erl never writes but reads: decoded by us, sent in ours, compared with its reading.
    // (An empty BIT_BINARY_EXT, <<131,77,0,0,0,0,0>>, is read by OTP 25 and refused by OTP 27.)
    const std::vector<std::vector<std::uint8_t>> forms = {
        {131, 107, 0, 0},                                           // empty STRING_EXT
        {131, 108, 0, 0, 0, 0, 100, 0, 1, 97},                      // LIST_EXT of 0, tail 'a'
        {131, 108, 0, 0, 0, 0, 106},                                // LIST_EXT of 0, tail []
        {131, 108, 0, 0, 0, 1, 97, 1, 107, 0, 2, 3, 4},             // [1 | "\3\4"]
        {131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 0, 97, 5},      // [1 | LIST_EXT of 0, tail 5]
        {131, 110, 1, 0, 5},                                        // 5 as SMALL_BIG_EXT
        {131, 110, 0, 1},                                           // -0 as SMALL_BIG_EXT
        {131, 111, 0, 0, 0, 2, 1, 5, 0},                            // -5 as LARGE_BIG_EXT
        {131, 98, 0, 0, 0, 7},                                      // 7 as INTEGER_EXT
        {131, 100, 0, 4, 't', 'r', 'u', 'e'},                       // true as ATOM_EXT
        {131, 115, 2, 'o', 'k'},                                    // SMALL_ATOM_EXT
        {131, 118, 0, 2, 0xc3, 0xa4},                               // 'ä' as ATOM_UTF8_EXT
        {131, 77, 0, 0, 0, 1, 3, 255},                              // bitstring, unused bits set
        {131, 113, 100, 0, 1, 109, 100, 0, 1, 102, 98, 0, 0, 0, 2}  // fun m:f/2, INTEGER_EXT
    };
    std::vector<Term> decoded;
    std::string literal = "[";
    for (std::size_t i = 0; i < forms.size(); ++i) {
        auto term = etf::decode(forms[i]);
        REQUIRE_MESSAGE(term.has_value(), "form " << i);
        decoded.push_back(*term);
        literal += (i ? "," : "") + erl_binary(forms[i]);
    }
    CHECK(erl_check(erl, inbox, list_from(decoded),
                    "fun(Ours) -> [I || {I, O, B} <- lists:zip3(lists:seq(0, length(Ours) - 1), "
                    "Ours, " +
                        literal + "]), O =/= binary_to_term(B)] end") == "[]");

    // The edges of OTP's term sets, erl's through our echo: =:= on the way back.
    CHECK(erl.eval("Big = 1 bsl 11111, Pid = binary_to_term(<<131, 88, 100, 0, 13, "
                   "\"nonode@nohost\", 16#FFFFFFFF:32, 16#FFFFFFFF:32, 16#FFFFFFFF:32>>), Port = "
                   "binary_to_term(<<131, 120, 100, 0, 13, \"nonode@nohost\", "
                   "16#FFFFFFFFFFFFFFFF:64, 16#FFFFFFFF:32>>), Ref = binary_to_term(<<131, 90, 0, "
                   "5, 100, 0, 13, \"nonode@nohost\", 16#FFFFFFFF:32, 16#FFFFFFFF:32, "
                   "16#FFFFFFFF:32, 16#FFFFFFFF:32, 16#FFFFFFFF:32, 16#FFFFFFFF:32>>), Ts = [Big, "
                   "-Big, Big - 1, Pid, Port, Ref, #{[] => <<>>, {} => #{}}], {echo, " +
                   cpp +
                   "} ! {self(), Ts}, receive Back -> Back =:= Ts after 15000 -> timeout "
                   "end") == "true");
}

TEST_CASE(
    "atom_cache_contention: 10 erl senders x 2,000 messages whose atoms collide on cache slots, "
    "and 255-code-point unicode atoms, also as node names in pids, come back from our echo "
    "exactly") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_atom_cache", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    ErlNode erl(cluster.erl_options("erl_atom_cache"));
    const std::string cpp = quoted(node.name());

    // 20,000 distinct atoms over 2048 slots, ten connections' worth of senders at once; each
    // message also repeats atoms recent messages used, so entries are reused and replaced.
    CHECK(
        erl.eval("Cpp = " + cpp +
                     ", Me = self(), Senders = [spawn_link(fun() -> Atoms = [list_to_atom(\"ac_\" "
                     "++ integer_to_list(S) ++ \"_\" ++ integer_to_list(N)) || N <- "
                     "lists:seq(1, 2000)], [{echo, Cpp} ! {self(), {S, N, A, hd(Atoms), "
                     "lists:sublist(Atoms, max(1, N - 5), 5)}} || {N, A} <- "
                     "lists:enumerate(Atoms)], Ok = lists:all(fun({N, A}) -> receive {S, N, A, "
                     "_, Recent} -> Recent =:= lists:sublist(Atoms, max(1, N - 5), 5) after "
                     "30000 -> false end end, lists:enumerate(Atoms)), Me ! {S, Ok} end) || S <- "
                     "lists:seq(1, 10)], [receive {S, R} -> R after 60000 -> timeout end || S <- "
                     "lists:seq(1, 10)]",
                 90s) == "[true,true,true,true,true,true,true,true,true,true]");

    // 255 code points of two, three and four UTF-8 bytes; node names of that length in pids.
    CHECK(erl.eval("Atoms = [list_to_atom(lists:duplicate(255, C)) || C <- [16#E4, 16#4E2D, "
                   "16#1F600]], Pid = fun(Name) -> B = unicode:characters_to_binary(Name), "
                   "binary_to_term(<<131, 88, 118, (byte_size(B)):16, B/binary, 1:32, 0:32, "
                   "7:32>>) end, Pids = [Pid(lists:duplicate(127, C) ++ \"@\" ++ "
                   "lists:duplicate(127, C)) || C <- [16#E4, 16#4E2D, 16#1F600]], Ts = {Atoms, "
                   "Pids, [node(P) || P <- Pids]}, {echo, " +
                   cpp +
                   "} ! {self(), Ts}, receive Back -> Back =:= Ts after 15000 -> timeout "
                   "end") == "true");
    CHECK(echo_round_trip(erl, node, "still_served") == "ok");
}
