// Our side of the atom cache against real erl nodes: the messages we send refer to their atoms
// through erl's cache for our connection (distribution headers with atom cache references), and
// erl reads them right over thousands of distinct atoms, atoms that take each other's cache
// slots, and long atoms; repeated atoms cost a reference, not their text, on the wire; with
// NodeOptions::atom_cache off every atom goes as text.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "node_support.hpp"
#include "term/etf_outgoing_atoms.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// erl process `check` takes {N, Text, Atom, Collider, ColliderText} from us and keeps count of the
// messages whose atoms match their texts; {count, From} answers with {counted, Good, Total}.
void start_checker(ErlNode& erl) {
    CHECK(erl.eval(R"ERL(register(check, spawn(fun() ->
            Loop = fun Loop(Good, Total) ->
                receive
                    {count, From} -> From ! {counted, Good, Total}, Loop(Good, Total);
                    {_N, Text, A, C, CText} ->
                        Ok = atom_to_binary(A) =:= Text andalso atom_to_binary(C) =:= CText,
                        Loop(Good + (case Ok of true -> 1; false -> 0 end), Total + 1)
                end
            end,
            Loop(0, 0)
        end)), ok)ERL") == "ok");
}

// An atom for every cache slot (names tried in turn: atoms made one after another take slots
// one after another): the one of a's slot evicts a's entry, and a evicts it.
std::vector<Atom> one_atom_per_slot() {
    std::vector<Atom> by_slot(etf::OutgoingAtomCache::used_slots);
    std::size_t filled = 0;
    for (int i = 0; filled < by_slot.size(); ++i) {
        const Atom c = atom("collide_" + std::to_string(i));
        Atom& slot = by_slot[etf::OutgoingAtomCache::slot_of(c)];
        if (slot == Atom()) {
            slot = c;
            ++filled;
        }
    }
    return by_slot;
}

ConnectionStats stats_of(const Node& node, Atom peer) {
    for (const auto& c : node.stats().connections)
        if (c.node == peer) return c;
    return {};
}

// Bytes on the wire per message for `count` messages of ten 40-character atoms, sent after one
// such message went before (so erl's cache holds them, when we use it). A new connection carries
// other traffic of its own for a while (global and pg answering erl's nodeup, at a time of the
// peer's choosing), so a window in which anything else went out is measured again.
double bytes_per_repeated_message(const Node& node, Mailbox& from, Atom peer, int count) {
    std::vector<Term> atoms;
    for (int i = 0; i < 10; ++i)
        atoms.emplace_back(atom("repeated_atom_" + std::to_string(i) + std::string(25, 'r')));
    const Term message = list_from(atoms);
    from.send(atom("sink"), peer, message);
    eventually([&] { return stats_of(node, peer).messages_out > 0; });
    constexpr int windows = 5;
    for (int window = 0; window < windows; ++window) {
        const ConnectionStats before = stats_of(node, peer);
        for (int i = 0; i < count; ++i)
            from.send(atom("sink"), peer, message);
        ConnectionStats after;
        eventually([&] {
            after = stats_of(node, peer);
            return after.messages_out >= before.messages_out + static_cast<std::uint64_t>(count);
        });
        if (after.messages_out != before.messages_out + static_cast<std::uint64_t>(count)) {
            MESSAGE("window " << window << " also carried "
                              << after.messages_out - before.messages_out -
                                     static_cast<std::uint64_t>(count)
                              << " other messages; measuring again");
            continue;
        }
        const std::uint64_t ticks = (after.ticks_out - before.ticks_out) * 4;
        return static_cast<double>(after.bytes_out - before.bytes_out - ticks) / count;
    }
    FAIL("every one of " << windows << " windows carried messages other than the measured ones");
    return 0;
}

}  // namespace

TEST_CASE(
    "atom cache (ours to erl): 3,000 messages of distinct atoms, each with an atom that takes its "
    "cache slot, and long unicode atoms reach erl as we named them") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_cache_out", &log));
    ErlNode erl(cluster.erl_options("erl_cache_out"));
    const Atom beam = atom(erl.node_name());
    start_checker(erl);
    Mailbox out = node.open_mailbox();
    constexpr int messages = 3000;
    const std::vector<Atom> colliders = one_atom_per_slot();
    for (int n = 0; n < messages; ++n) {
        // Every 16th atom is long: 199 two-byte code points and the number, over 255 bytes.
        std::string name = "cache_out_";
        if (n % 16 == 0) {
            name.clear();
            for (int i = 0; i < 199; ++i)
                name += "\xc3\xa4";
        }
        const Atom a = atom(name + std::to_string(n));
        const Atom c = colliders[etf::OutgoingAtomCache::slot_of(a)];
        out.send(atom("check"), beam, tuple(n, binary(a.name()), a, c, binary(c.name())));
    }
    // Asked by the same sender, so after the messages.
    out.send(atom("check"), beam, tuple(atom("count"), out.pid()));
    const Term counted = next_message(out, 60s);
    REQUIRE(counted.is_tuple(3));
    CHECK(counted[2] == Term(messages));
    CHECK(counted[1] == Term(messages));
}

TEST_CASE(
    "atom cache (ours to erl): a repeated atom costs a reference on the wire, not its text; with "
    "atom_cache off it goes as text") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    for (bool cached : {true, false}) {
        CAPTURE(cached);
        NodeOptions options = cluster.node_options(cached ? "cpp_cache_on" : "cpp_cache_off", &log);
        options.atom_cache = cached;
        Node node = start_node(options);
        ErlNode erl(cluster.erl_options(cached ? "erl_cache_on" : "erl_cache_off"));
        CHECK(erl.eval("register(sink, spawn(fun S() -> receive _ -> S() end end)), ok") == "ok");
        Mailbox out = node.open_mailbox();
        const double per_message =
            bytes_per_repeated_message(node, out, atom(erl.node_name()), 200);
        CAPTURE(per_message);
        // Ten atoms of 40 characters are 420 bytes as text; as references, 2 each and a header
        // of a slot byte each.
        if (cached)
            CHECK(per_message < 150);
        else
            CHECK(per_message > 420);
    }
}
