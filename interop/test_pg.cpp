// pg between our node and three real erl nodes (-kernel start_pg true): members seen both ways,
// joins and leaves, cleanup when a member exits or a node goes, a netsplit healing back to one
// view, a restarted scope, named scopes, subscriptions, broadcast, pools, and bad input (joins
// from outside the overlay, forged syncs).
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "membership_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// Members of `group` in scope `scope` on erl i, as a sorted list of pids.
std::vector<Pid> erl_members(Membership& m, std::size_t i, std::string_view group,
                             std::string_view scope = "pg") {
    return pids_of(m.value(
        i, "lists:sort(pg:get_members(" + std::string(scope) + ", " + std::string(group) + "))"));
}

// Every erl node and ours list exactly `expected` in `group`.
void converge(Membership& m, std::string_view group, const std::vector<Pid>& expected,
              std::string_view scope = "pg") {
    const Atom scope_atom = atom(scope);
    eventually([&] { return sorted(m.pg(scope_atom).members(atom(group))) == sorted(expected); });
    for (std::size_t i = 0; i < m.erls.size(); ++i)
        CHECK(m.erls[i]->eval(erl_wait("length(pg:get_members(" + std::string(scope) + ", " +
                                       std::string(group) +
                                       ")) =:= " + std::to_string(expected.size()))) == "ok");
    for (std::size_t i = 0; i < m.erls.size(); ++i)
        CHECK(erl_members(m, i, group, scope) == sorted(expected));
}

// A process on erl i that joins `group` and lives until it is told stop.
Pid erl_member(Membership& m, std::size_t i, std::string_view group) {
    return m.pid(i, "begin P = " + std::string(erl_forwarder) + ", ok = pg:join(" +
                        std::string(group) + ", P), P end");
}

}  // namespace

TEST_CASE("erl nodes and ours see the same members of a group, joined on either side") {
    Membership m(3);
    INFO(m.log.text());
    Mailbox ours = m.node->open_mailbox();
    REQUIRE(m.pg().join("grp"_a, ours.pid()).has_value());
    std::vector<Pid> all{ours.pid()};
    for (std::size_t i = 0; i < 3; ++i)
        all.push_back(erl_member(m, i, "grp"));
    converge(m, "grp", all);
    CHECK(m.pg().local_members("grp"_a) == std::vector<Pid>{ours.pid()});
    CHECK(m.erls[0]->eval("lists:member(grp, pg:which_groups())") == "true");
    // Joined twice: listed twice everywhere.
    REQUIRE(m.pg().join("grp"_a, ours.pid()).has_value());
    all.push_back(ours.pid());
    converge(m, "grp", all);
}

TEST_CASE("leaves and exits on either side drop members everywhere") {
    Membership m(3);
    INFO(m.log.text());
    Mailbox stays = m.node->open_mailbox();
    auto exits = std::make_unique<Mailbox>(m.node->open_mailbox());
    const Pid ours[] = {stays.pid(), exits->pid()};
    REQUIRE(m.pg().join("grp"_a, ours).has_value());
    const Pid e0 = erl_member(m, 0, "grp");
    const Pid e1 = erl_member(m, 1, "grp");
    converge(m, "grp", {stays.pid(), exits->pid(), e0, e1});

    REQUIRE(m.pg().leave("grp"_a, stays.pid()).has_value());
    converge(m, "grp", {exits->pid(), e0, e1});
    exits.reset();  // our member exits
    converge(m, "grp", {e0, e1});
    give_erl(*m.erls[0], *m.inbox, "p", Term(e0));
    CHECK(m.erls[0]->eval("pg:leave(grp, get(p))") == "ok");
    converge(m, "grp", {e1});
    give_erl(*m.erls[1], *m.inbox, "p", Term(e1));
    CHECK(m.erls[1]->eval("get(p) ! stop, ok") == "ok");  // the erl member exits
    converge(m, "grp", {});
    CHECK(m.pg().which_groups().empty());
}

TEST_CASE("an erl node that goes down takes its members with it, and a netsplit heals") {
    Membership m(3);
    INFO(m.log.text());
    Mailbox ours = m.node->open_mailbox();
    REQUIRE(m.pg().join("grp"_a, ours.pid()).has_value());
    const Pid e0 = erl_member(m, 0, "grp");
    const Pid e1 = erl_member(m, 1, "grp");
    const Pid e2 = erl_member(m, 2, "grp");
    converge(m, "grp", {ours.pid(), e0, e1, e2});

    // A netsplit: erl 0 drops us. Then each global asks the nodes it still sees to drop the node
    // it lost (prevent_overlapping_partitions): erl 0's asks erl 1 and 2 to drop us, ours asks
    // them to drop erl 0. Which request an erl node takes first decides its side, as between BEAM
    // nodes (one that took both is left alone), so the test waits for a split without overlap and
    // expects the members of our side.
    CHECK(m.erls[0]->eval("erlang:disconnect_node(" + m.cpp() + ")") == "true");
    CHECK(m.erls[0]->eval(erl_wait("not lists:member(" + m.cpp() + ", nodes())")) == "ok");
    const std::string erl0 = quoted(m.erl_atom(0));
    std::vector<Pid> our_side;
    // What each side saw at the last look, for the failure message (seen once under load).
    std::string views;
    INFO("views at the last look: " << views);
    eventually([&] {
        our_side = {ours.pid()};
        const auto ours_sees = m.node->nodes();
        views.clear();
        for (std::size_t i = 1; i < m.erls.size(); ++i) {
            const bool with_us =
                m.erls[i]->eval("lists:member(" + m.cpp() + ", nodes())") == "true";
            const bool with_erl0 = m.erls[i]->eval("lists:member(" + erl0 + ", nodes())") == "true";
            const bool we_see =
                std::find(ours_sees.begin(), ours_sees.end(), m.erl_atom(i)) != ours_sees.end();
            views += "erl " + std::to_string(i) + (with_us ? " sees us," : " not us,") +
                     (with_erl0 ? " sees erl 0," : " not erl 0,") +
                     (we_see ? " we see it; " : " we do not; ");
            if ((with_us && with_erl0) || with_us != we_see) return false;
            if (with_us) our_side.push_back(i == 1 ? e1 : e2);
        }
        return std::find(ours_sees.begin(), ours_sees.end(), m.erl_atom(0)) == ours_sees.end();
    });
    std::size_t our_members = 0;
    INFO("members in our view at the last look: " << our_members << " of " << our_side.size());
    eventually([&] {
        const auto members = m.pg().members("grp"_a);
        our_members = members.size();
        return sorted(members) == sorted(our_side);
    });
    // Healed by one connection from each partition to ours: global meshes the rest.
    for (auto& erl : m.erls)
        CHECK(erl->eval("net_adm:ping(" + m.cpp() + ")") == "pong");
    for (auto& erl : m.erls)
        CHECK(erl->eval(erl_wait("global:sync() =:= ok andalso length(nodes()) =:= 3", 60s)) ==
              "ok");
    converge(m, "grp", {ours.pid(), e0, e1, e2});

    // erl 2 goes down: its member goes from every view.
    m.erls[2].reset();
    m.erls.pop_back();
    converge(m, "grp", {ours.pid(), e0, e1});
}

TEST_CASE("a scope process that restarts on an erl node is discovered again") {
    Membership m(1);
    INFO(m.log.text());
    Mailbox ours = m.node->open_mailbox();
    REQUIRE(m.pg().join("grp"_a, ours.pid()).has_value());
    const Pid before = erl_member(m, 0, "grp");
    converge(m, "grp", {ours.pid(), before});
    // kernel's supervisor restarts pg; the new scope has no members and asks us for ours.
    CHECK(m.erls[0]->eval("begin Old = whereis(pg), exit(Old, kill), " +
                          erl_wait("is_pid(whereis(pg)) andalso whereis(pg) =/= Old") + " end") ==
          "ok");
    const Pid after = erl_member(m, 0, "grp");
    converge(m, "grp", {ours.pid(), after});
}

TEST_CASE("a scope started with pg:start_link on erl nodes meets ours of the same name") {
    Membership m(2);
    INFO(m.log.text());
    REQUIRE(start_scope(*m.node, "svc"_a).has_value());
    for (auto& erl : m.erls)
        CHECK(erl->eval("element(1, pg:start_link(svc))") == "ok");
    Mailbox ours = m.node->open_mailbox();
    REQUIRE(m.pg("svc"_a).join(Term("workers"_a), ours.pid()).has_value());
    const Pid theirs = m.pid(
        1, "begin P = " + std::string(erl_forwarder) + ", ok = pg:join(svc, workers, P), P end");
    converge(m, "workers", {ours.pid(), theirs}, "svc");
    // The default scope knows nothing of it.
    CHECK(m.pg().members("workers"_a).empty());
    CHECK(m.erls[0]->eval("pg:get_members(workers)") == "[]");
}

TEST_CASE("our subscribers see erl joins and leaves; an erl process monitors our scope by call") {
    Membership m(1);
    INFO(m.log.text());
    Mailbox watcher = m.node->open_mailbox();
    ScopeSnapshot snapshot = m.pg().monitor_scope(watcher.pid());
    const Pid theirs = erl_member(m, 0, "watched");
    auto joined = parse_group_event(next_message(watcher));
    REQUIRE(joined.has_value());
    CHECK(joined->ref == snapshot.ref);
    CHECK(joined->joined);
    CHECK(joined->pids == std::vector<Pid>{theirs});
    give_erl(*m.erls[0], *m.inbox, "p", Term(theirs));
    // Gone before the calls: a call already queued when it stopped would end with its exit
    // (normal), as gen_server:call does, and is not retried elsewhere.
    CHECK(m.erls[0]->eval("P = get(p), R = monitor(process, P), P ! stop, "
                          "receive {'DOWN', R, _, _, _} -> ok after 10000 -> timeout end") == "ok");
    auto left = parse_group_event(next_message(watcher));
    REQUIRE(left.has_value());
    CHECK_FALSE(left->joined);
    CHECK(left->group == Term("watched"_a));

    // pg's own call protocol, from an erl process to our scope.
    CHECK(m.erls[0]->eval("begin {Ref, Map} = gen_server:call({pg, " + m.cpp() +
                          "}, monitor), put(ref, Ref), is_map(Map) end") == "true");
    Mailbox ours = m.node->open_mailbox();
    REQUIRE(m.pg().join("seen"_a, ours.pid()).has_value());
    CHECK(m.erls[0]->eval("begin R = get(ref), receive {R, join, seen, [P]} when node(P) =:= " +
                          m.cpp() + " -> ok after 10000 -> timeout end end") == "ok");
}

TEST_CASE("broadcast reaches members here and on erl nodes, past a dead one") {
    Membership m(2);
    INFO(m.log.text());
    Mailbox ours = m.node->open_mailbox();
    auto dead = std::make_unique<Mailbox>(m.node->open_mailbox());
    const Pid members[] = {ours.pid(), dead->pid()};
    REQUIRE(m.pg().join("all"_a, members).has_value());
    const Pid e0 = erl_member(m, 0, "all");
    const Pid e1 = erl_member(m, 1, "all");
    converge(m, "all", {ours.pid(), dead->pid(), e0, e1});
    dead->close(Term("gone"_a));
    CHECK(m.pg().broadcast(ours, "all"_a, Term("news"_a)) >= 3);
    CHECK(next_message(ours) == Term("news"_a));
    CHECK(m.erls[0]->eval("receive {got, _, news} -> ok after 10000 -> timeout end") == "ok");
    CHECK(m.erls[1]->eval("receive {got, _, news} -> ok after 10000 -> timeout end") == "ok");
}

TEST_CASE("a pool of erl gen_servers in a group fails over when the picked one is gone") {
    Membership m(2);
    INFO(m.log.text());
    // A gen_server-speaking process on each erl node that answers with its node.
    const std::string server =
        "begin P = spawn(fun F() -> receive {'$gen_call', {C, T}, _} -> C ! {T, node()}, F(); "
        "stop -> ok end end), ok = pg:join(pool, P), P end";
    const Pid s0 = m.pid(0, server);
    const Pid s1 = m.pid(1, server);
    converge(m, "pool", {s0, s1});
    GroupPool pool(m.pg(), Term("pool"_a), Pick::round_robin);
    Mailbox me = m.node->open_mailbox();
    std::set<Term> answered;
    for (int i = 0; i < 4; ++i) {
        auto answer = pool.call(me, Term("which"_a));
        REQUIRE_MESSAGE(answer.has_value(), answer.error().detail);
        answered.insert(*answer);
    }
    CHECK(answered.size() == 2);
    // s0 stops; until its leave arrives the pool still lists it, and calls fail over.
    give_erl(*m.erls[0], *m.inbox, "p", Term(s0));
    // Gone before the calls: a call already queued when it stopped would end with its exit
    // (normal), as gen_server:call does, and is not retried elsewhere.
    CHECK(m.erls[0]->eval("P = get(p), R = monitor(process, P), P ! stop, "
                          "receive {'DOWN', R, _, _, _} -> ok after 10000 -> timeout end") == "ok");
    for (int i = 0; i < 4; ++i) {
        auto answer = pool.call(me, Term("which"_a));
        REQUIRE_MESSAGE(answer.has_value(), answer.error().detail);
        CHECK(*answer == Term(m.erl_atom(1)));
    }
}

TEST_CASE("malformed pg messages are logged and dropped; the scope keeps serving") {
    Membership m(1);
    INFO(m.log.text());
    CHECK(m.erls[0]->eval("begin S = {pg, " + m.cpp() +
                          "}, S ! garbage, S ! {join, self(), g, not_a_pid}, "
                          "S ! {leave, self(), [self()], not_a_list}, "
                          "S ! {'$gen_cast', {sync, self(), [{g, [not_a_pid]}]}}, "
                          "S ! {'$gen_cast', {sync, self(), not_a_list}}, "
                          "S ! {discover, not_a_pid}, ok end") == "ok");
    eventually([&] { return m.log.contains("malformed sync"); });
    CHECK(m.log.contains("does not understand"));
    Mailbox ours = m.node->open_mailbox();
    REQUIRE(m.pg().join("later"_a, ours.pid()).has_value());
    converge(m, "later", {ours.pid()});
}

TEST_CASE("a peer that floods joins is held to the scope's limit") {
    Membership m(1);
    INFO(m.log.text());
    ScopeOptions options;
    options.max_members_per_peer = 100;
    REQUIRE(start_scope(*m.node, "flood"_a, options).has_value());
    CHECK(m.erls[0]->eval("element(1, pg:start_link(flood))") == "ok");
    CHECK(m.erls[0]->eval("begin [pg:join(flood, {g, I rem 10}, [spawn(fun() -> receive stop -> "
                          "ok end end) || _ <- lists:seq(1, 10)]) || I <- lists:seq(1, 100)], "
                          "length(pg:which_groups(flood)) end") == "10");
    eventually([&] { return m.log.contains("max_members_per_peer"); });
    std::size_t kept = 0;
    for (const Term& group : m.pg("flood"_a).which_groups())
        kept += m.pg("flood"_a).members(group).size();
    CHECK(kept <= 100);
    CHECK(kept > 0);
}

TEST_CASE(
    "pg_global_convergence: a join from a process outside the overlay is ignored, and 2,000 "
    "forged syncs do not keep a real join from converging") {
    Membership m(1);
    INFO(m.log.text());
    // The evaluating process is no scope's peer: its join names itself as the peer.
    CHECK(m.erls[0]->eval("{pg, " + m.cpp() + "} ! {join, self(), outsider, [self()]}, ok") ==
          "ok");
    // 2,000 processes, each claiming to be a scope with a group of its own.
    CHECK(m.erls[0]->eval("Cpp = " + m.cpp() +
                          ", [spawn(fun() -> gen_server:cast({pg, Cpp}, {sync, self(), [{{forged, "
                          "I}, [self()]}]}), receive stop -> ok end end) || I <- lists:seq(1, "
                          "2000)], ok") == "ok");
    const Pid real = erl_member(m, 0, "real");
    converge(m, "real", {real});
    CHECK(m.pg().members("outsider"_a).empty());
}
