// The services above the distribution protocol between our own nodes in require mode, every
// connection encrypted: pg (joins, leaves, subscriptions, a node's members gone with it), global
// (names, a clash when partitions meet, locks, a node's names gone with it, meshing new nodes),
// the registry (await, typed lookups, a standby taking over), cluster membership (a seed, one
// leader, a member that leaves), a supervisor driven from another node, and what a dying encrypted
// connection gives links, monitors, an rpc under way and node events. A BEAM node is refused and
// sees none of it. (test_crypto.cpp has the transport itself, test_crypto_calls.cpp the calls
// between the nodes.)
#include <doctest/doctest.h>

#include <algorithm>
#include <future>

#include "crypto_support.hpp"
#include "distribute/cluster.hpp"
#include "distribute/registry.hpp"
#include "distribute/supervisor.hpp"
#include "membership_support.hpp"
#include "rpc_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

bool connected(const Node& node, Atom peer) {
    const auto nodes = node.nodes();
    return std::find(nodes.begin(), nodes.end(), peer) != nodes.end();
}

// Connects a to b and b to c; global's connection protocol has a and c connect to each other.
void connect_three(RequireNodes& n) {
    REQUIRE(n[0].connect(n[1].name()).has_value());
    REQUIRE(n[1].connect(n[2].name()).has_value());
    eventually([&] { return connected(n[0], n[2].name()) && connected(n[2], n[0].name()); });
    n.check_encrypted({0, 1, 2});
}

Groups pg_of(Node& node) {
    auto g = groups(node);
    REQUIRE(g.has_value());
    return *g;
}

Global global_of(Node& node) {
    auto g = global(node);
    REQUIRE(g.has_value());
    return *g;
}

// The next update a pg subscriber gets.
GroupEvent next_group_event(Mailbox& subscriber) {
    const Term message = next_message(subscriber);
    auto event = parse_group_event(message);
    REQUIRE_MESSAGE(event.has_value(), "not a pg update: " << to_string(message));
    return *event;
}

// Answers the call `ping` with pong.
class Pinged : public Actor {
  public:
    CallResult handle_call(const Term& request, From) override {
        if (request.is_atom("ping"_a)) return Reply{Term("pong"_a)};
        return Reply{tuple(atoms::error, request)};
    }
};

}  // namespace

TEST_SUITE("crypto") {
    TEST_CASE(
        "require mode: pg between three of our nodes, joins and leaves seen everywhere, a "
        "subscriber told, a node's members gone with it") {
        RequireNodes n({"pg_a", "pg_b", "pg_c"});
        INFO(n.log_text());
        connect_three(n);
        Groups on_a = pg_of(n[0]), on_b = pg_of(n[1]), on_c = pg_of(n[2]);
        Mailbox subscriber = n[2].open_mailbox();
        const GroupSnapshot watch = on_c.monitor(subscriber.pid(), Term("workers"_a));
        CHECK(watch.members.empty());

        Mailbox a1 = n[0].open_mailbox(), a2 = n[0].open_mailbox(), b1 = n[1].open_mailbox();
        const Pid from_a[] = {a1.pid(), a2.pid()};
        REQUIRE(on_a.join("workers"_a, from_a).has_value());
        REQUIRE(on_b.join("workers"_a, b1.pid()).has_value());
        const auto all = sorted({a1.pid(), a2.pid(), b1.pid()});
        for (const Groups* g : {&on_a, &on_b, &on_c})
            eventually([&] { return sorted(g->members("workers"_a)) == all; });
        CHECK(on_b.local_members("workers"_a) == std::vector<Pid>{b1.pid()});
        // The subscriber on c got the joins as pg's messages, a's and b's in whichever order.
        std::vector<Pid> joined;
        while (joined.size() < all.size()) {
            const GroupEvent e = next_group_event(subscriber);
            CHECK(e.ref == watch.ref);
            CHECK(e.joined);
            CHECK(e.group == Term("workers"_a));
            joined.insert(joined.end(), e.pids.begin(), e.pids.end());
        }
        CHECK(sorted(joined) == all);

        // A leave on a, and a member of b that exits.
        REQUIRE(on_a.leave("workers"_a, a2.pid()).has_value());
        const GroupEvent left = next_group_event(subscriber);
        CHECK_FALSE(left.joined);
        CHECK(left.pids == std::vector<Pid>{a2.pid()});
        b1.close(Term("normal"_a));
        for (const Groups* g : {&on_a, &on_b, &on_c})
            eventually([&] { return g->members("workers"_a) == std::vector<Pid>{a1.pid()}; });
        CHECK(next_group_event(subscriber).pids == std::vector<Pid>{b1.pid()});

        // Node a goes: its member drops out of the others' views, and the subscriber is told.
        n[0].stop();
        for (const Groups* g : {&on_b, &on_c})
            eventually([&] { return g->members("workers"_a).empty(); });
        const GroupEvent gone = next_group_event(subscriber);
        CHECK_FALSE(gone.joined);
        CHECK(gone.pids == std::vector<Pid>{a1.pid()});
        CHECK(on_c.which_groups().empty());
    }

    TEST_CASE(
        "require mode: global between three of our nodes, names everywhere, a clash resolved "
        "when partitions meet, locks, a node's names gone with it; a BEAM is refused and sees "
        "none") {
        RequireNodes n({"global_a", "global_b", "global_c"});
        INFO(n.log_text());
        Node &a = n[0], &b = n[1], &c = n[2];
        // Two partitions: a and b together, c alone, each registering `clash` for its own
        // process (global's default method, random_exit_name).
        REQUIRE(a.connect(b.name()).has_value());
        Global ga = global_of(a), gb = global_of(b), gc = global_of(c);
        // In step first: a registration covers the nodes global knows.
        CHECK(ga.sync(20s));
        CHECK(gb.sync(20s));
        Mailbox clash_a = a.open_mailbox(), clash_c = c.open_mailbox();
        Mailbox named_a = a.open_mailbox(), named_c = c.open_mailbox();
        REQUIRE(ga.register_name(Term("clash"_a), clash_a.pid()).has_value());
        REQUIRE(gc.register_name(Term("clash"_a), clash_c.pid()).has_value());
        REQUIRE(ga.register_name(Term("from_a"_a), named_a.pid()).has_value());
        REQUIRE(gc.register_name(tuple("from_c"_a, 3), named_c.pid()).has_value());
        // Registered while connected: b has it when register_name returns.
        CHECK(gb.whereis_name(Term("from_a"_a)) == named_a.pid());
        CHECK_FALSE(gb.whereis_name(tuple("from_c"_a, 3)).has_value());

        // The partitions meet over one encrypted connection; global meshes a and c.
        REQUIRE(c.connect(b.name()).has_value());
        eventually([&] { return connected(a, c.name()) && connected(c, a.name()); });
        n.check_encrypted({0, 1, 2});
        for (const Global* g : {&ga, &gb, &gc})
            CHECK(g->sync(20s));
        // The process on the node whose name sorts first keeps the name; the other is killed.
        const bool a_first = a.name() < c.name();
        Mailbox& loser = a_first ? clash_c : clash_a;
        const Pid winner = a_first ? clash_a.pid() : clash_c.pid();
        CHECK(exited_with(loser) == Term(atoms::killed));
        for (const Global* g : {&ga, &gb, &gc}) {
            eventually([&] { return g->whereis_name(Term("clash"_a)) == winner; });
            eventually([&] { return g->whereis_name(tuple("from_c"_a, 3)) == named_c.pid(); });
            CHECK(g->whereis_name(Term("from_a"_a)) == named_a.pid());
        }
        // A global send from b reaches c's process; unregistered from b, the name goes
        // everywhere.
        Mailbox sender = b.open_mailbox();
        auto sent = gb.send(sender, tuple("from_c"_a, 3), Term("hello"_a));
        REQUIRE(sent.has_value());
        CHECK(*sent == named_c.pid());
        CHECK(next_message(named_c) == Term("hello"_a));
        REQUIRE(gb.unregister_name(Term("from_a"_a)).has_value());
        for (const Global* g : {&ga, &gc})
            eventually([&] { return !g->whereis_name(Term("from_a"_a)).has_value(); });

        // A lock over the three nodes is held by one requester at a time.
        const std::vector<Atom> everyone{a.name(), b.name(), c.name()};
        CHECK(ga.set_lock(Term("res"_a), Term("from_a"_a), everyone));
        CHECK_FALSE(gc.set_lock(Term("res"_a), Term("from_c"_a), everyone, 0));
        ga.del_lock(Term("res"_a), Term("from_a"_a), everyone);
        CHECK(gc.set_lock(Term("res"_a), Term("from_c"_a), everyone, 3));
        gc.del_lock(Term("res"_a), Term("from_c"_a), everyone);

        // A BEAM node is refused by a node that requires encryption, and learns no name.
        ErlNode erl(pg_erl_options(n.cluster(), "erl_refused"));
        CHECK(erl.eval("net_adm:ping(" + quoted(b.name()) + ")") == "pang");
        eventually([&] { return n.log(1).contains("this node requires encryption"); });
        CHECK(erl.eval("{nodes(), global:registered_names()}") == "{[],[]}");

        // c goes: its name goes from the others, and so does c from their global.
        c.stop();
        for (const Global* g : {&ga, &gb}) {
            eventually([&] { return !g->whereis_name(tuple("from_c"_a, 3)).has_value(); });
            eventually([&] { return g->known_nodes().size() == 1; });
        }
        CHECK(ga.known_nodes() == std::vector<Atom>{b.name()});
    }

    TEST_CASE(
        "require mode: the registry between three of our nodes, a name awaited and looked up "
        "typed on other nodes, a standby taking over when the owner's node goes") {
        RequireNodes n({"registry_a", "registry_b", "registry_c"});
        INFO(n.log_text());
        connect_three(n);
        Registry on_a(n[0]), on_b(n[1]), on_c(n[2]);

        // Awaited on c before a registers it: c is told, it does not poll.
        auto waiting = std::async(std::launch::async,
                                  [&] { return on_c.await(NameScope::global, "ledger", 30s); });
        Mailbox owner = n[0].open_mailbox();
        const Subject<std::int64_t> ledger = named_subject<std::int64_t>(owner, "ledger");
        REQUIRE(on_a.register_name(NameScope::global, "ledger", owner.pid()).has_value());
        auto awaited = waiting.get();
        REQUIRE(awaited.has_value());
        CHECK(*awaited == owner.pid());
        // A typed lookup on b gives the owner's subject; what b sends through it arrives typed.
        auto found = on_b.lookup<std::int64_t>(NameScope::global, "ledger");
        REQUIRE(found.has_value());
        CHECK(*found == ledger);
        Mailbox sender = n[1].open_mailbox();
        REQUIRE(send(sender, *found, std::int64_t{41}).has_value());
        auto got = receive(owner, ledger, 15s);
        REQUIRE(got.has_value());
        CHECK(*got == 41);
        // Taken is final, from any node.
        auto taken = on_c.register_name(NameScope::global, "ledger", sender.pid());
        REQUIRE_FALSE(taken.has_value());
        CHECK(taken.error().code == RegistryErrc::taken);

        // A standby on b for a name whose owner is on c: c goes, b takes the name.
        Mailbox leader = n[2].open_mailbox();
        REQUIRE(on_c.register_name(NameScope::global, "leader", leader.pid()).has_value());
        Mailbox standby = n[1].open_mailbox();
        auto took = std::make_shared<std::promise<Pid>>();
        auto watch = Standby::start(n[1], "leader", standby.pid(),
                                    [took](const Pid& previous) { took->set_value(previous); });
        REQUIRE(watch.has_value());
        n[2].stop();
        auto previous = took->get_future();
        REQUIRE(previous.wait_for(30s) == std::future_status::ready);
        CHECK(previous.get() == leader.pid());
        eventually([&] { return on_a.whereis(NameScope::global, "leader") == standby.pid(); });
        Mailbox caller = n[0].open_mailbox();
        REQUIRE(global_of(n[0]).send(caller, Term("leader"_a), Term("hello"_a)).has_value());
        CHECK(next_message(standby) == Term("hello"_a));
    }

    TEST_CASE(
        "require mode: cluster membership of three of our nodes, joined through a seed, agrees on "
        "the leader; a member that leaves is seen as left, its groups and names gone") {
        RequireNodes n({"member_a", "member_b", "member_c"});
        INFO(n.log_text());
        const std::string seed(n[0].name().name());
        ClusterOptions through_a;
        through_a.seeds = {seed};
        distribute::Cluster on_a(n[0]);
        distribute::Cluster on_b(n[1], through_a);
        distribute::Cluster on_c(n[2], through_a);
        REQUIRE(on_b.join(15s).has_value());
        REQUIRE(on_c.join(15s).has_value());
        auto all_alive = [](const distribute::Cluster& c) {
            const auto members = c.members();
            return members.size() == 3 && std::all_of(members.begin(), members.end(), [](auto& m) {
                       return m.state == MemberState::alive;
                   });
        };
        for (const distribute::Cluster* c : {&on_a, &on_b, &on_c})
            eventually([&] { return all_alive(*c); });
        n.check_encrypted({0, 1, 2});
        const auto leader = on_a.leader();
        REQUIRE(leader.has_value());
        CHECK(on_b.leader() == leader);
        CHECK(on_c.leader() == leader);

        // c leaves: the others see it as left (it told them), and its members and names go.
        Mailbox member = n[2].open_mailbox();
        REQUIRE(pg_of(n[2]).join("workers"_a, member.pid()).has_value());
        REQUIRE(global_of(n[2]).register_name(Term("from_c"_a), member.pid()).has_value());
        eventually([&] { return pg_of(n[0]).members("workers"_a).size() == 1; });
        NodeEvents events_a(n[0]);
        on_c.leave();
        for (const distribute::Cluster* c : {&on_a, &on_b})
            eventually([&] {
                const auto m = c->member(n[2].name());
                return m.has_value() && m->state == MemberState::left;
            });
        // c's connections closed on purpose: a and b do not take it for a partition and split
        // (global's prevent_overlapping_partitions), and nobody dials c again.
        eventually([&] { return !connected(n[0], n[2].name()) && !connected(n[1], n[2].name()); });
        CHECK(n[1].ping(n[0].name()));
        CHECK(events_a.count(n[1].name(), false) == 0);
        CHECK(events_a.count(n[2].name(), true) == 0);
        // b's pg scope is a process of its own: it takes c's leave (or, failing that, the DOWN of
        // c's scope) in its turn, not necessarily before b's cluster process took c's notice.
        eventually([&] { return pg_of(n[1]).members("workers"_a).empty(); });
        CHECK_FALSE(global_of(n[1]).whereis_name(Term("from_c"_a)).has_value());
        CHECK(on_a.leader() == on_b.leader());
    }

    TEST_CASE(
        "require mode: a supervisor on one of our nodes driven from another; its child started "
        "by factory, killed from afar and restarted, terminated and deleted") {
        RequireNodes n({"sup_a", "sup_b"});
        INFO(n.log_text());
        Node &a = n[0], &b = n[1];
        auto factories = std::make_shared<ChildFactories>();
        factories->add("pinged"_a, actor_factory([](std::span<const Term>) {
                           return std::make_unique<Pinged>();
                       }));
        SupervisorOptions options;
        options.name = "remote_sup"_a;
        options.intensity = 3;
        options.factories = factories;
        REQUIRE(start_supervisor(b, std::move(options)).has_value());
        const ServerRef sup("remote_sup"_a, b.name());

        auto started = start_child(
            a, sup, ChildSpec{.id = "worker", .factory = FactoryStart{"pinged"_a, {}}}, 15s);
        REQUIRE(started.has_value());
        REQUIRE(started->has_value());
        const Pid child = **started;
        CHECK(child.node == b.name());
        n.check_encrypted({0, 1});
        auto pong = call(a, ServerRef(child), Term("ping"_a));
        REQUIRE(pong.has_value());
        CHECK(*pong == Term("pong"_a));

        // Killed by a process of a: the monitor from a says so, and b's supervisor restarts it.
        Mailbox killer = a.open_mailbox();
        const Reference ref = killer.monitor(child);
        killer.exit(child, Term("kill"_a));
        CHECK(down_reason(killer, ref) == Term(atoms::killed));
        std::optional<Pid> restarted;
        eventually([&] {
            auto children = which_children(a, sup);
            REQUIRE(children.has_value());
            REQUIRE(children->size() == 1);
            restarted = children->front().pid;
            return restarted.has_value() && *restarted != child;
        });
        pong = call(a, ServerRef(*restarted), Term("ping"_a));
        REQUIRE(pong.has_value());
        CHECK(*pong == Term("pong"_a));

        REQUIRE(terminate_child(a, sup, "worker", 15s).has_value());
        auto children = which_children(a, sup);
        REQUIRE(children.has_value());
        REQUIRE(children->size() == 1);
        CHECK_FALSE(children->front().pid.has_value());
        REQUIRE(delete_child(a, sup, "worker", 15s).has_value());
        children = which_children(a, sup);
        REQUIRE(children.has_value());
        CHECK(children->empty());
    }

    TEST_CASE(
        "require mode: when an encrypted connection goes, links and monitors give noconnection, "
        "an rpc under way nodedown, node events and monitor_node say so; it comes back "
        "encrypted") {
        RequireNodes n({"down_a", "down_b"});
        INFO(n.log_text());
        Node &a = n[0], &b = n[1];
        NodeEvents events(a);
        Mailbox node_watcher = a.open_mailbox();
        a.monitor_nodes(node_watcher.pid());
        REQUIRE(a.connect(b.name()).has_value());
        CHECK(next_message(node_watcher) == tuple("nodeup"_a, b.name()));
        a.monitor_node(node_watcher.pid(), b.name());

        Mailbox remote = b.open_mailbox();
        Mailbox watcher = a.open_mailbox();
        watcher.trap_exit(true);
        const Reference ref = watcher.monitor(remote.pid());
        watcher.link(remote.pid());
        Probe probe(b, remote.pid());
        auto pending = std::async(std::launch::async,
                                  [&] { return rpc(a, b.name(), "probe"_a, "hang"_a, {}, 30s); });
        probe.wait_started(1);
        // Through the same connection after the link and the monitor: b has both.
        CHECK(a.ping(b.name()));
        n.check_encrypted({0, 1});

        // b drops the connection.
        CHECK(b.disconnect(a.name()));
        CHECK(down_reason(watcher, ref) == Term("noconnection"_a));
        CHECK(next_message(watcher) == tuple("EXIT"_a, remote.pid(), "noconnection"_a));
        auto failed = pending.get();
        REQUIRE_FALSE(failed.has_value());
        CHECK(failed.error().code == RpcErrc::nodedown);
        // monitor_node's and monitor_nodes' messages, one each.
        CHECK(next_message(node_watcher) == tuple("nodedown"_a, b.name()));
        CHECK(next_message(node_watcher) == tuple("nodedown"_a, b.name()));
        eventually([&] { return events.sequence(b.name()) == std::vector<bool>{true, false}; });

        // Connected again, encrypted again: a new handshake, a new nodeup.
        CHECK(a.ping(b.name()));
        CHECK(next_message(node_watcher) == tuple("nodeup"_a, b.name()));
        eventually([&] {
            return events.sequence(b.name()) == std::vector<bool>{true, false, true};
        });
        CHECK_FALSE(n.log(0).contains("security=plaintext"));
        CHECK(a.stats().bad_frames == 0);
        CHECK(b.stats().bad_frames == 0);
    }
}
