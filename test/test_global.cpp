// global on our own nodes: registration rules, names that go with their process or node, global
// sends and {global, Name} calls, locks, clashes between two of our nodes resolved by each
// method, and the version rule of init_connect. (Against BEAM nodes: interop/test_global*.cpp.)
#include <doctest/doctest.h>

#include <algorithm>

#include "distribute/global.hpp"
#include "distribute/rpc.hpp"
#include "node_support.hpp"
#include "otp/global_atoms.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

Global global_of(Node& node) {
    auto g = global(node);
    REQUIRE_MESSAGE(g.has_value(), (g ? std::string() : g.error().detail));
    return *g;
}

// A process that answers every gen_server call with its own pid and reports other messages.
ProcessHandle answering(Node& node, std::optional<Pid> report_to = std::nullopt) {
    return node.spawn([report_to](const ProcessHandle& self, Term m) {
        if (auto call = parse_gen_call(m))
            self.send(call->caller, tuple(call->tag, self.pid()));
        else if (report_to)
            self.send(*report_to, tuple("got"_a, self.pid(), m));
    });
}

struct TwoNodes {
    std::uint16_t port = free_port();
    Node a = start_node(node_options(port, "global_a", EpmdMode::embedded));
    Node b = start_node(node_options(port, "global_b"));
};

}  // namespace

TEST_SUITE("global") {
    TEST_CASE("init_connect's version: ours for a newer node or a longer tuple, none for junk") {
        using otp::init_connect_version;
        auto v = init_connect_version(tuple(8, 17), 8);
        REQUIRE(v.has_value());
        CHECK((v->speak == 8 && v->his == 8 && v->tag == Term(17)));
        v = init_connect_version(tuple(7, 3), 8);
        REQUIRE(v.has_value());
        CHECK((v->speak == 7 && v->his == 7));
        v = init_connect_version(tuple(9, 3), 8);
        REQUIRE(v.has_value());
        CHECK((v->speak == 8 && v->his == 9));
        v = init_connect_version(tuple(7, 3, "more"_a), 8);
        REQUIRE(v.has_value());
        CHECK(v->speak == 8);
        // An atom sorts above every number: a newer release, as global.erl reads it.
        v = init_connect_version(tuple("next"_a, 3), 8);
        REQUIRE(v.has_value());
        CHECK((v->speak == 8 && v->his == 9));
        CHECK_FALSE(init_connect_version(Term("eight"_a), 8).has_value());
        CHECK_FALSE(init_connect_version(tuple(8), 8).has_value());
        CHECK_FALSE(init_connect_version(tuple(-1.5, 1), 8).has_value());
    }

    TEST_CASE("random_sleep waits up to 1/8 s at first, doubling up to 8 s") {
        for (int i = 0; i < 50; ++i) {
            CHECK(otp::random_sleep(0) <= 125ms);
            CHECK(otp::random_sleep(3) <= 1000ms);
            CHECK(otp::random_sleep(9) <= 8000ms);
            CHECK(otp::random_sleep(0) >= 1ms);
        }
    }

    TEST_CASE("a hidden node takes no part in global") {
        auto o = node_options(free_port(), "hidden", EpmdMode::embedded);
        o.hidden = true;
        Node node = start_node(o);
        auto g = global(node);
        REQUIRE_FALSE(g.has_value());
        CHECK(g.error().code == GlobalErrc::hidden);
        CHECK_FALSE(node.whereis("global_name_server"_a).has_value());
    }

    TEST_CASE("register_name refuses a taken name and a process that has a name already") {
        LocalNode n;
        Global g = global_of(n.node);
        CHECK(n.node.whereis("global_name_server"_a).has_value());
        Mailbox a = n.node.open_mailbox(), b = n.node.open_mailbox();
        REQUIRE(g.register_name(Term("first"_a), a.pid()).has_value());
        CHECK(g.whereis_name(Term("first"_a)) == a.pid());
        auto taken = g.register_name(Term("first"_a), b.pid());
        REQUIRE_FALSE(taken.has_value());
        CHECK(taken.error().code == GlobalErrc::taken);
        auto second = g.register_name(Term("second"_a), a.pid());
        REQUIRE_FALSE(second.has_value());
        CHECK(second.error().code == GlobalErrc::has_a_name);
        // Any term names a process.
        REQUIRE(g.register_name(tuple("service"_a, 7), b.pid()).has_value());
        auto names = g.registered_names();
        std::sort(names.begin(), names.end());
        CHECK(names == std::vector<Term>{Term("first"_a), tuple("service"_a, 7)});
        REQUIRE(g.re_register_name(Term("first"_a), b.pid()).has_value());
        CHECK(g.whereis_name(Term("first"_a)) == b.pid());
        REQUIRE(g.unregister_name(Term("first"_a)).has_value());
        CHECK_FALSE(g.whereis_name(Term("first"_a)).has_value());
        REQUIRE(g.unregister_name(Term("never"_a)).has_value());
    }

    TEST_CASE("a name goes when its process exits") {
        LocalNode n;
        Global g = global_of(n.node);
        auto owner = std::make_unique<Mailbox>(n.node.open_mailbox());
        REQUIRE(g.register_name(Term("short_lived"_a), owner->pid()).has_value());
        owner.reset();
        // At once to whereis (it checks a local process is alive), and from the table soon after.
        CHECK_FALSE(g.whereis_name(Term("short_lived"_a)).has_value());
        eventually([&] { return g.registered_names().empty(); });
    }

    TEST_CASE("global send and {global, Name} calls reach the process; a missing name does not") {
        LocalNode n;
        Global g = global_of(n.node);
        Mailbox me = n.node.open_mailbox();
        ProcessHandle server = answering(n.node, me.pid());
        REQUIRE(g.register_name(Term("server"_a), server.pid()).has_value());
        auto sent = g.send(me, Term("server"_a), Term("ping"_a));
        REQUIRE(sent.has_value());
        CHECK(*sent == server.pid());
        CHECK(next_message(me) == tuple("got"_a, server.pid(), "ping"_a));
        auto answer = call(me, ServerRef::global(Term("server"_a)), Term("who"_a));
        REQUIRE(answer.has_value());
        CHECK(*answer == Term(server.pid()));
        auto parsed = ServerRef::from_term(tuple("global"_a, "server"_a));
        REQUIRE(parsed.has_value());
        CHECK(parsed->registry() == std::optional<Atom>("global"_a));
        REQUIRE(parsed->registered_name() != nullptr);
        CHECK(*parsed->registered_name() == Term("server"_a));

        auto missing = g.send(me, Term("nobody"_a), Term("ping"_a));
        REQUIRE_FALSE(missing.has_value());
        CHECK(missing.error().code == GlobalErrc::not_found);
        auto no_call = call(me, ServerRef::global(Term("nobody"_a)), Term("who"_a));
        REQUIRE_FALSE(no_call.has_value());
        CHECK(no_call.error().code == CallErrc::noproc);
    }

    TEST_CASE("set_lock is granted to one requester at a time and del_lock lets it go") {
        LocalNode n;
        Global g = global_of(n.node);
        const std::vector<Atom> here{n.node.name()};
        CHECK(g.set_lock("res"_a, "me"_a, here));
        CHECK(g.set_lock("res"_a, "me"_a, here));  // the same requester again
        CHECK_FALSE(g.set_lock("res"_a, "someone_else"_a, here, 0));
        g.del_lock("res"_a, "me"_a, here);
        CHECK(g.set_lock("res"_a, "someone_else"_a, here, 0));
        g.del_lock("res"_a, "someone_else"_a, here);
    }

    TEST_CASE(
        "two of our nodes learn each other's names when they connect, and lose them with it") {
        TwoNodes t;
        Global ga = global_of(t.a), gb = global_of(t.b);
        Mailbox on_a = t.a.open_mailbox(), on_b = t.b.open_mailbox();
        REQUIRE(ga.register_name(Term("from_a"_a), on_a.pid()).has_value());
        REQUIRE(gb.register_name(Term("from_b"_a), on_b.pid()).has_value());
        REQUIRE(t.a.connect(t.b.name()).has_value());
        CHECK(ga.sync(20s));
        CHECK(gb.sync(20s));
        eventually([&] { return gb.whereis_name(Term("from_a"_a)) == on_a.pid(); });
        eventually([&] { return ga.whereis_name(Term("from_b"_a)) == on_b.pid(); });
        CHECK(ga.known_nodes() == std::vector<Atom>{t.b.name()});
        // Registered while connected: the lock covers both nodes, and both have it at once.
        Mailbox later = t.b.open_mailbox();
        REQUIRE(gb.register_name(Term("later"_a), later.pid()).has_value());
        CHECK(ga.whereis_name(Term("later"_a)) == later.pid());
        REQUIRE(ga.unregister_name(Term("later"_a)).has_value());
        CHECK_FALSE(gb.whereis_name(Term("later"_a)).has_value());

        t.b.stop();
        eventually([&] { return !ga.whereis_name(Term("from_b"_a)).has_value(); });
        CHECK(ga.whereis_name(Term("from_a"_a)) == on_a.pid());
    }

    TEST_CASE("a clash between two of our nodes is resolved by the registration's C++ resolver") {
        TwoNodes t;
        Global ga = global_of(t.a), gb = global_of(t.b);
        Mailbox on_a = t.a.open_mailbox(), on_b = t.b.open_mailbox();
        const Pid keep = on_a.pid();
        auto prefer_a = [keep](const Term&, const Pid& one,
                               const Pid& other) -> std::optional<Pid> {
            if (one == keep || other == keep) return keep;
            return std::nullopt;
        };
        REQUIRE(ga.register_name(Term("clash"_a), on_a.pid(), prefer_a).has_value());
        REQUIRE(gb.register_name(Term("clash"_a), on_b.pid(), prefer_a).has_value());
        REQUIRE(t.a.connect(t.b.name()).has_value());
        CHECK(ga.sync(20s));
        CHECK(gb.sync(20s));
        eventually([&] { return gb.whereis_name(Term("clash"_a)) == keep; });
        CHECK(ga.whereis_name(Term("clash"_a)) == keep);
    }

    TEST_CASE("a clash resolved by random_exit_name kills the loser, which loses the name") {
        TwoNodes t;
        Global ga = global_of(t.a), gb = global_of(t.b);
        Mailbox on_a = t.a.open_mailbox(), on_b = t.b.open_mailbox();
        REQUIRE(ga.register_name(Term("clash"_a), on_a.pid()).has_value());
        REQUIRE(gb.register_name(Term("clash"_a), on_b.pid()).has_value());
        REQUIRE(t.a.connect(t.b.name()).has_value());
        CHECK(ga.sync(20s));
        // The process on the node whose name sorts first keeps it; the other is killed.
        const bool a_first = t.a.name() < t.b.name();
        Mailbox& loser = a_first ? on_b : on_a;
        const Pid winner = a_first ? on_a.pid() : on_b.pid();
        CHECK(exited_with(loser) == Term(atoms::killed));
        eventually([&] {
            return ga.whereis_name(Term("clash"_a)) == winner &&
                   gb.whereis_name(Term("clash"_a)) == winner;
        });
    }

    TEST_CASE("notify_all_name tells both processes and the name goes") {
        TwoNodes t;
        Global ga = global_of(t.a), gb = global_of(t.b);
        Mailbox on_a = t.a.open_mailbox(), on_b = t.b.open_mailbox();
        REQUIRE(
            ga.register_name(Term("clash"_a), on_a.pid(), Resolve::notify_all_name).has_value());
        REQUIRE(
            gb.register_name(Term("clash"_a), on_b.pid(), Resolve::notify_all_name).has_value());
        REQUIRE(t.a.connect(t.b.name()).has_value());
        CHECK(ga.sync(20s));
        CHECK(next_message(on_a) == tuple("global_name_conflict"_a, "clash"_a, on_b.pid()));
        CHECK(next_message(on_b) == tuple("global_name_conflict"_a, "clash"_a, on_a.pid()));
        eventually(
            [&] { return !ga.whereis_name(Term("clash"_a)) && !gb.whereis_name(Term("clash"_a)); });
    }
}
