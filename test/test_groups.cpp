// pg groups on our own nodes: the membership table's rules, joins and leaves with pg's
// semantics, subscriptions, broadcast, pools, and two of our nodes sharing one view through the
// scope protocol. (Against BEAM nodes: interop/test_pg.cpp.)
#include <doctest/doctest.h>

#include <algorithm>

#include "distribute/groups.hpp"
#include "node_support.hpp"
#include "otp/pg_table.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

Pid pid_n(std::uint32_t id) {
    return Pid{"n@h"_a, id, 0, 1};
}

std::vector<Pid> sorted(std::vector<Pid> pids) {
    std::sort(pids.begin(), pids.end());
    return pids;
}

Groups scope_of(Node& node, Atom scope = "pg"_a) {
    auto g = groups(node, scope);
    REQUIRE_MESSAGE(g.has_value(), (g ? std::string() : g.error().detail));
    return *g;
}

}  // namespace

TEST_SUITE("groups") {
    TEST_CASE("the table lists a process once per join and a leave takes one join away") {
        otp::PgTable table;
        const Pid a = pid_n(1), b = pid_n(2);
        const Pid both[] = {a, a, b};
        table.join("g"_a, both, true);
        REQUIRE(table.find("g"_a) != nullptr);
        CHECK(table.find("g"_a)->all.size() == 3);
        CHECK(table.find("g"_a)->local.size() == 3);
        const Pid one[] = {a};
        CHECK(table.leave("g"_a, one, true) == std::vector<Pid>{a});
        CHECK(sorted(table.find("g"_a)->all) == std::vector<Pid>{a, b});
        const Pid rest[] = {a, b};
        table.leave("g"_a, rest, true);
        CHECK(table.find("g"_a) == nullptr);
        CHECK(table.groups().empty());
    }

    TEST_CASE("a sync replaces what a peer had: the pids it lost leave, the new ones join") {
        otp::PgTable table;
        const Pid a = pid_n(1), b = pid_n(2), c = pid_n(3);
        const Pid before[] = {a, b};
        table.join("g"_a, before, false);
        const Pid after[] = {b, c};
        auto [joined, left] = table.replace("g"_a, before, after);
        CHECK(joined == std::vector<Pid>{c});
        CHECK(left == std::vector<Pid>{a});
        CHECK(sorted(table.find("g"_a)->all) == std::vector<Pid>{b, c});
        CHECK(table.find("g"_a)->local.empty());
        CHECK(table.local_groups().empty());
    }

    TEST_CASE("subtract takes one occurrence of each pid, as Erlang's --") {
        const Pid a = pid_n(1), b = pid_n(2);
        const Pid from[] = {a, b, a};
        const Pid take[] = {a};
        CHECK(otp::subtract(from, take) == std::vector<Pid>{b, a});
    }

    TEST_CASE("every node runs the scope pg; another scope must be started first") {
        LocalNode n;
        CHECK(scope_of(n.node).scope() == "pg"_a);
        auto missing = groups(n.node, "workers"_a);
        REQUIRE_FALSE(missing.has_value());
        CHECK(missing.error().code == GroupsErrc::no_scope);
        auto started = start_scope(n.node, "workers"_a);
        REQUIRE(started.has_value());
        CHECK(n.node.whereis("workers"_a).has_value());
        CHECK(scope_of(n.node, "workers"_a).scope() == "workers"_a);
    }

    TEST_CASE("a scope name registered for another process is refused with name_taken") {
        LocalNode n;
        Mailbox squatter = n.node.open_mailbox();
        REQUIRE(n.node.register_name("busy_scope"_a, squatter.pid()).has_value());
        auto started = start_scope(n.node, "busy_scope"_a);
        REQUIRE_FALSE(started.has_value());
        CHECK(started.error().code == GroupsErrc::name_taken);
    }

    TEST_CASE("join lists local members twice when joined twice, and leave says not_joined") {
        LocalNode n;
        Groups pg = scope_of(n.node);
        Mailbox a = n.node.open_mailbox();
        REQUIRE(pg.join("g"_a, a.pid()).has_value());
        REQUIRE(pg.join("g"_a, a.pid()).has_value());
        CHECK(pg.members("g"_a) == std::vector<Pid>{a.pid(), a.pid()});
        CHECK(pg.local_members("g"_a) == std::vector<Pid>{a.pid(), a.pid()});
        CHECK(pg.which_groups() == std::vector<Term>{Term("g"_a)});
        CHECK(pg.which_local_groups() == std::vector<Term>{Term("g"_a)});
        REQUIRE(pg.leave("g"_a, a.pid()).has_value());
        CHECK(pg.members("g"_a) == std::vector<Pid>{a.pid()});
        REQUIRE(pg.leave("g"_a, a.pid()).has_value());
        CHECK(pg.members("g"_a).empty());
        auto again = pg.leave("g"_a, a.pid());
        REQUIRE_FALSE(again.has_value());
        CHECK(again.error().code == GroupsErrc::not_joined);
    }

    TEST_CASE("a process of another node cannot join here: not_local") {
        LocalNode n;
        auto joined = scope_of(n.node).join("g"_a, Pid{"other@host"_a, 1, 0, 1});
        REQUIRE_FALSE(joined.has_value());
        CHECK(joined.error().code == GroupsErrc::not_local);
    }

    TEST_CASE("a member that exits leaves every group it joined") {
        LocalNode n;
        Groups pg = scope_of(n.node);
        Mailbox keeper = n.node.open_mailbox();
        auto member = std::make_unique<Mailbox>(n.node.open_mailbox());
        const Pid gone = member->pid();
        const Pid both[] = {gone, keeper.pid()};
        REQUIRE(pg.join("a"_a, both).has_value());
        REQUIRE(pg.join("b"_a, gone).has_value());
        member.reset();  // ends with normal
        eventually([&] { return pg.members("b"_a).empty(); });
        CHECK(pg.members("a"_a) == std::vector<Pid>{keeper.pid()});
        CHECK(pg.which_groups() == std::vector<Term>{Term("a"_a)});
    }

    TEST_CASE("monitor_scope and monitor report joins and leaves as pg's messages") {
        LocalNode n;
        Groups pg = scope_of(n.node);
        Mailbox watcher = n.node.open_mailbox();
        Mailbox member = n.node.open_mailbox();
        REQUIRE(pg.join("before"_a, member.pid()).has_value());
        ScopeSnapshot scope = pg.monitor_scope(watcher.pid());
        CHECK(scope.groups == map({{Term("before"_a), list(member.pid())}}));
        GroupSnapshot group = pg.monitor(watcher.pid(), "g"_a);
        CHECK(group.members.empty());

        REQUIRE(pg.join("g"_a, member.pid()).has_value());
        // Both subscriptions see it, each under its own reference.
        for (int i = 0; i < 2; ++i) {
            auto event = parse_group_event(next_message(watcher));
            REQUIRE(event.has_value());
            CHECK((event->ref == scope.ref || event->ref == group.ref));
            CHECK(event->joined);
            CHECK(event->group == Term("g"_a));
            CHECK(event->pids == std::vector<Pid>{member.pid()});
        }
        REQUIRE(pg.leave("before"_a, member.pid()).has_value());
        auto left = parse_group_event(next_message(watcher));
        REQUIRE(left.has_value());
        CHECK(left->ref == scope.ref);  // the group monitor watches g only
        CHECK_FALSE(left->joined);
        CHECK(left->group == Term("before"_a));

        CHECK(pg.demonitor(scope.ref));
        CHECK(pg.demonitor(group.ref));
        CHECK_FALSE(pg.demonitor(group.ref));
        REQUIRE(pg.leave("g"_a, member.pid()).has_value());
        CHECK_FALSE(watcher.receive(200ms).has_value());
    }

    TEST_CASE("broadcast reaches every member and skips a dead one without failing") {
        LocalNode n;
        Groups pg = scope_of(n.node);
        Mailbox a = n.node.open_mailbox(), b = n.node.open_mailbox();
        auto dead = std::make_unique<Mailbox>(n.node.open_mailbox());
        const Pid members[] = {a.pid(), b.pid(), dead->pid()};
        REQUIRE(pg.join("all"_a, members).has_value());
        dead->close(Term("gone"_a));
        CHECK(pg.broadcast(a, "all"_a, Term("hello"_a)) >= 2);
        CHECK(next_message(a) == Term("hello"_a));
        CHECK(next_message(b) == Term("hello"_a));
        CHECK(pg.broadcast(a, "nobody"_a, Term("hello"_a)) == 0);
    }

    TEST_CASE(
        "two of our nodes share one view of a scope, and a node that goes takes its members") {
        const auto port = free_port();
        Node a = start_node(node_options(port, "pg_a", EpmdMode::embedded));
        Node b = start_node(node_options(port, "pg_b"));
        Mailbox on_a = a.open_mailbox();
        Mailbox on_b = b.open_mailbox();
        REQUIRE(scope_of(a).join("shared"_a, on_a.pid()).has_value());
        REQUIRE(a.connect(b.name()).has_value());
        eventually([&] { return scope_of(b).members("shared"_a) == std::vector<Pid>{on_a.pid()}; });
        REQUIRE(scope_of(b).join("shared"_a, on_b.pid()).has_value());
        eventually([&] { return scope_of(a).members("shared"_a).size() == 2; });
        CHECK(scope_of(a).local_members("shared"_a) == std::vector<Pid>{on_a.pid()});
        REQUIRE(scope_of(b).leave("shared"_a, on_b.pid()).has_value());
        eventually([&] { return scope_of(a).members("shared"_a).size() == 1; });
        REQUIRE(scope_of(b).join("shared"_a, on_b.pid()).has_value());
        eventually([&] { return scope_of(a).members("shared"_a).size() == 2; });
        b.stop();
        eventually([&] { return scope_of(a).members("shared"_a) == std::vector<Pid>{on_a.pid()}; });
    }

    TEST_CASE("a pool picks round robin, by key consistently, and fails over from a gone member") {
        LocalNode n;
        Groups pg = scope_of(n.node);
        // Two servers that answer any call with their own pid.
        auto server = [](const ProcessHandle& self, Term m) {
            if (auto call = parse_gen_call(m))
                self.send(call->caller, tuple(call->tag, self.pid()));
        };
        ProcessHandle s1 = n.node.spawn(server), s2 = n.node.spawn(server);
        const Pid both[] = {s1.pid(), s2.pid()};
        REQUIRE(pg.join("servers"_a, both).has_value());

        GroupPool round(pg, Term("servers"_a), Pick::round_robin);
        auto first = round.pick(), second = round.pick(), third = round.pick();
        REQUIRE((first && second && third));
        CHECK(*first != *second);
        CHECK(*first == *third);

        GroupPool hashed(pg, Term("servers"_a), Pick::hash);
        for (int key = 0; key < 20; ++key)
            CHECK(hashed.pick(Term(key)) == hashed.pick(Term(key)));

        GroupPool random(pg, Term("servers"_a), Pick::random);
        for (int i = 0; i < 20; ++i) {
            auto p = random.pick();
            REQUIRE(p.has_value());
            CHECK((*p == s1.pid() || *p == s2.pid()));
        }

        // s1 dies but is still listed for a moment: the call goes to s2 either way.
        Mailbox me = n.node.open_mailbox();
        me.exit(s1.pid(), Term(atoms::kill));
        for (int i = 0; i < 4; ++i) {
            auto answer = round.call(me, Term("who"_a));
            REQUIRE_MESSAGE(answer.has_value(), answer.error().detail);
            CHECK(*answer == Term(s2.pid()));
        }
        me.exit(s2.pid(), Term(atoms::kill));
        eventually([&] { return pg.members("servers"_a).empty(); });
        auto none = round.call(me, Term("who"_a));
        REQUIRE_FALSE(none.has_value());
        CHECK(none.error().code == CallErrc::noproc);
        CHECK_FALSE(round.pick().has_value());
    }
}
