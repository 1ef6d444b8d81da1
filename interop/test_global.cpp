// global between our node and three real erl nodes: global:sync() on every node, names both
// ways, names going with their process or node, global:set_lock and trans from erl including our
// node, {global, Name} calls and global sends both ways, and bad input to global_name_server.
#include <doctest/doctest.h>

#include "distribute/actor.hpp"
#include "membership_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// An actor that answers any call with {Node, Request}.
class Echoer : public Actor {
  public:
    CallResult handle_call(const Term& request, From) override {
        return Reply{tuple(self().node_name(), request)};
    }
};

}  // namespace

TEST_CASE("global:sync() returns on every erl node while ours is connected, again and again") {
    Membership m(3);
    INFO(m.log.text());
    for (auto& erl : m.erls) {
        CHECK(erl->eval("lists:member(" + m.cpp() + ", nodes())") == "true");
        CHECK(erl->eval("global:sync()") == "ok");
    }
    CHECK(m.names().sync(20s));
    auto known = m.names().known_nodes();
    CHECK(known.size() == 3);
    // A node joins later: everybody syncs with it too, ours included.
    ErlNode late(pg_erl_options(m.cluster, "erl_late"));
    // net_kernel:monitor_nodes fires for our node, a visible one.
    CHECK(late.eval("net_kernel:monitor_nodes(true)") == "ok");
    CHECK(late.eval("net_adm:ping(" + m.cpp() + ")") == "pong");
    CHECK(late.eval("receive {nodeup, " + m.cpp() + "} -> ok after 5000 -> timeout end") == "ok");
    CHECK(late.eval("global:sync()") == "ok");
    for (auto& erl : m.erls)
        CHECK(erl->eval(erl_wait("length(nodes()) =:= 4")) == "ok");
    CHECK(m.names().sync(20s));
    eventually([&] { return m.names().known_nodes().size() == 4; });
}

TEST_CASE("names registered in C++ show on every erl node, and erl's names are known to ours") {
    Membership m(3);
    INFO(m.log.text());
    Global g = m.names();
    Mailbox ours = m.node->open_mailbox();
    REQUIRE(g.register_name(Term("cpp_name"_a), ours.pid()).has_value());
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(m.value(i, "global:whereis_name(cpp_name)") == Term(ours.pid()));
    // Any term is a name.
    Mailbox other = m.node->open_mailbox();
    REQUIRE(g.register_name(tuple("job"_a, 42), other.pid()).has_value());
    CHECK(m.value(2, "global:whereis_name({job, 42})") == Term(other.pid()));

    const Pid theirs = m.pid(1, "begin P = " + std::string(erl_forwarder) +
                                    ", yes = global:register_name(erl_name, P), P end");
    // Known here at once: registration takes the lock on our node and tells us before it
    // returns.
    CHECK(g.whereis_name(Term("erl_name"_a)) == theirs);
    auto names = g.registered_names();
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<Term>{Term("cpp_name"_a), Term("erl_name"_a), tuple("job"_a, 42)});
    CHECK(m.erls[0]->eval("lists:sort(global:registered_names())") ==
          "[cpp_name,erl_name,{job,42}]");
    // Taken, whichever side asks.
    Mailbox third = m.node->open_mailbox();
    auto taken = g.register_name(Term("erl_name"_a), third.pid());
    REQUIRE_FALSE(taken.has_value());
    CHECK(taken.error().code == GlobalErrc::taken);
    CHECK(m.erls[2]->eval("global:register_name(cpp_name, self())") == "no");
    REQUIRE(g.unregister_name(Term("cpp_name"_a)).has_value());
    for (auto& erl : m.erls)
        CHECK(erl->eval("global:whereis_name(cpp_name)") == "undefined");
}

TEST_CASE("a name whose process exits or whose node goes down disappears everywhere") {
    Membership m(3);
    INFO(m.log.text());
    Global g = m.names();
    auto ours = std::make_unique<Mailbox>(m.node->open_mailbox());
    REQUIRE(g.register_name(Term("ours"_a), ours->pid()).has_value());
    const Pid e1 = m.pid(1, "begin P = " + std::string(erl_forwarder) +
                                ", yes = global:register_name(e1_name, P), P end");
    const Pid e2 = m.pid(2, "begin P = " + std::string(erl_forwarder) +
                                ", yes = global:register_name(e2_name, P), P end");
    CHECK(g.whereis_name(Term("e2_name"_a)) == e2);

    ours.reset();
    for (auto& erl : m.erls)
        CHECK(erl->eval(erl_wait("global:whereis_name(ours) =:= undefined")) == "ok");
    give_erl(*m.erls[1], *m.inbox, "p", Term(e1));
    CHECK(m.erls[1]->eval("get(p) ! stop, ok") == "ok");
    eventually([&] { return !g.whereis_name(Term("e1_name"_a)).has_value(); });
    // erl 2 goes down: its name goes from ours and from the other erl nodes.
    m.erls[2].reset();
    m.erls.pop_back();
    eventually([&] { return !g.whereis_name(Term("e2_name"_a)).has_value(); });
    CHECK(m.erls[0]->eval(erl_wait("global:whereis_name(e2_name) =:= undefined")) == "ok");
    CHECK(g.registered_names().empty());
}

TEST_CASE("global:set_lock and global:trans from an erl node complete with our node included") {
    Membership m(3);
    INFO(m.log.text());
    Global g = m.names();
    CHECK(m.erls[0]->eval("global:trans({resource, self()}, fun() -> inside end)") == "inside");
    CHECK(m.erls[0]->eval("global:set_lock({held, me}, [node() | nodes()])") == "true");
    // Held on our node too: another requester is refused here.
    CHECK_FALSE(g.set_lock("held"_a, "someone_else"_a, {m.node->name()}, 0));
    CHECK(m.erls[1]->eval("global:set_lock({held, other}, [node() | nodes()], 0)") == "false");
    CHECK(m.erls[0]->eval("global:del_lock({held, me}, [node() | nodes()])") == "true");
    CHECK(g.set_lock("held"_a, "someone_else"_a, {m.node->name()}, 0));
    g.del_lock("held"_a, "someone_else"_a, {m.node->name()});
    // Ours, on every node: the erl nodes see it held.
    std::vector<Atom> everyone{m.node->name()};
    for (std::size_t i = 0; i < 3; ++i)
        everyone.push_back(m.erl_atom(i));
    CHECK(g.set_lock("cpp_res"_a, "cpp"_a, everyone, 0));
    CHECK(m.erls[2]->eval("global:set_lock({cpp_res, erl}, [node()], 0)") == "false");
    g.del_lock("cpp_res"_a, "cpp"_a, everyone);
    CHECK(m.erls[2]->eval("global:set_lock({cpp_res, erl}, [node()], 0)") == "true");
}

TEST_CASE("{global, Name} calls and global sends go both ways") {
    Membership m(2);
    INFO(m.log.text());
    Global g = m.names();
    auto actor = spawn_actor(*m.node, std::make_unique<Echoer>());
    REQUIRE(actor.has_value());
    REQUIRE(g.register_name(Term("cpp_server"_a), actor->pid()).has_value());
    CHECK(m.erls[1]->eval("gen_server:call({global, cpp_server}, hello)") ==
          "{" + std::string(m.node->name().name()) + ",hello}");
    CHECK(m.erls[1]->eval("begin global:send(cpp_server, {'$gen_call', {self(), t}, x}), "
                          "receive {t, R} -> R after 5000 -> timeout end end") ==
          "{" + std::string(m.node->name().name()) + ",x}");

    // A process on erl that speaks gen_server's call and cast, registered globally.
    CHECK(m.erls[0]->eval(
              "begin P = spawn(fun F() -> receive {'$gen_call', {C, T}, R} -> "
              "gen:reply({C, T}, {node(), R}), F(); {'$gen_cast', {tell, To}} -> "
              "To ! {told, node()}, F() end end), global:register_name(erl_server, P) end") ==
          "yes");
    Mailbox me = m.node->open_mailbox();
    auto answer = call(me, ServerRef::global(Term("erl_server"_a)), Term("ping"_a));
    REQUIRE_MESSAGE(answer.has_value(), answer.error().detail);
    CHECK(*answer == tuple(m.erl_atom(0), "ping"_a));
    auto sent = g.send(me, Term("erl_server"_a), tuple(atoms::gen_cast, tuple("tell"_a, me.pid())));
    REQUIRE(sent.has_value());
    CHECK(next_message(me) == tuple("told"_a, m.erl_atom(0)));
}

TEST_CASE("malformed global messages and an illegal protocol version are logged and dropped") {
    Membership m(1);
    INFO(m.log.text());
    CHECK(m.erls[0]->eval("begin S = {global_name_server, " + m.cpp() +
                          "}, S ! garbage, S ! {'$gen_cast', {init_connect, eight, node(), x}}, "
                          "S ! {'$gen_cast', {init_connect, {8}, node(), x}}, "
                          "S ! {'$gen_cast', {exchange, not_a_node, [], [], 1}}, "
                          "S ! {'$gen_cast', no_such_cast}, S ! {whereis, x, not_a_from}, "
                          "S ! {lost_connection, 1, 2, 3}, ok end") == "ok");
    eventually([&] {
        return m.log.contains("Illegal global protocol version") &&
               m.log.contains("unexpected message") && m.log.contains("unexpected cast");
    });
    // A call it does not know goes unanswered, as global leaves it.
    CHECK(m.erls[0]->eval("catch gen_server:call({global_name_server, " + m.cpp() +
                          "}, no_such_call, 500)") != "ok");
    // Still serving.
    Mailbox ours = m.node->open_mailbox();
    REQUIRE(m.names().register_name(Term("still_works"_a), ours.pid()).has_value());
    CHECK(m.value(0, "global:whereis_name(still_works)") == Term(ours.pid()));
    CHECK(m.erls[0]->eval("global:sync()") == "ok");
}
