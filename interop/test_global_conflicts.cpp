// Name clashes when partitions meet, against real erl nodes: our node with one erl node on one
// side, another erl node on the other, each side with the same name for a process of its own.
// When the sides connect, the node whose name sorts first resolves the clash with the method the
// name was registered with, on the node of its own registrant: sometimes ours (our node resolves,
// or a BEAM node asks ours by rpc global:resolve_it/4), sometimes a BEAM node's. Node names are
// chosen so that each way happens.
#include <doctest/doctest.h>

#include "membership_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// Our node and erl node `joined` on one side, erl node `apart` alone on the other.
struct Split {
    Split(std::string_view cpp_prefix, std::string_view joined_prefix,
          std::string_view apart_prefix) {
        node = std::make_unique<Node>(start_node(cluster.node_options(cpp_prefix, &log)));
        inbox = std::make_unique<Mailbox>(named_mailbox(*node, "inbox"));
        joined = std::make_unique<ErlNode>(pg_erl_options(cluster, joined_prefix));
        apart = std::make_unique<ErlNode>(pg_erl_options(cluster, apart_prefix));
        register_tester(*joined);
        register_tester(*apart);
        REQUIRE(node->connect(atom(joined->node_name())).has_value());
        CHECK(joined->eval("global:sync()") == "ok");
        CHECK(apart->eval("nodes()") == "[]");
    }
    // The lone node is still alone: each side registered its name apart from the other.
    void still_apart() { CHECK(apart->eval("nodes()") == "[]"); }

    Global names() const {
        auto g = global(*node);
        REQUIRE(g.has_value());
        return *g;
    }
    // A process on `erl` that forwards what it gets to tester, registered as `clash` with
    // `method` (an Erlang fun expression).
    // (Read back without a message to our node, which would connect `apart` too early.)
    Pid erl_registrant(ErlNode& erl, std::string_view method) {
        const Term pid = erl_value_offline(erl, "begin P = " + std::string(erl_forwarder) +
                                                    ", yes = global:register_name(clash, P, " +
                                                    std::string(method) + "), P end");
        REQUIRE(pid.is_pid());
        return *pid.to<Pid>();
    }
    // Every node of both sides sees `expected` (or nobody) under clash.
    void converge(std::optional<Pid> expected) {
        const Term want = expected ? Term(*expected) : Term(atoms::undefined);
        eventually([&] { return names().whereis_name(Term("clash"_a)) == expected; });
        // Each erl node learns the outcome when the resolving node's update reaches it: until
        // then it may still show its side's registrant.
        for (ErlNode* erl : {joined.get(), apart.get()})
            eventually([&] {
                return erl_value(*erl, *node, *inbox, "global:whereis_name(clash)") == want;
            });
    }

    Cluster cluster;
    LogCapture log;
    std::unique_ptr<Node> node;
    std::unique_ptr<Mailbox> inbox;
    std::unique_ptr<ErlNode> joined, apart;
};

struct Method {
    Resolve ours;
    const char* theirs;
};

}  // namespace

TEST_CASE(
    "a clash after a partition heals is resolved by each standard method, either side first") {
    const Method methods[] = {{Resolve::random_exit_name, "fun global:random_exit_name/3"},
                              {Resolve::random_notify_name, "fun global:random_notify_name/3"},
                              {Resolve::notify_all_name, "fun global:notify_all_name/3"}};
    for (const Method& method : methods) {
        for (bool ours_first : {true, false}) {
            CAPTURE(method.theirs);
            CAPTURE(ours_first);
            // Our node meets the lone erl node itself; the one whose name sorts first resolves.
            Split s(ours_first ? "a_cpp" : "z_cpp", "m_erl", ours_first ? "z_erl" : "a_erl");
            INFO(s.log.text());
            Mailbox ours = s.node->open_mailbox();
            REQUIRE(s.names().register_name(Term("clash"_a), ours.pid(), method.ours).has_value());
            const Pid theirs = s.erl_registrant(*s.apart, method.theirs);
            s.still_apart();
            CHECK(s.apart->eval("net_adm:ping(" + quoted(s.node->name()) + ")") == "pong");
            CHECK(s.apart->eval("global:sync()") == "ok");
            // Of two processes the one on the node whose name sorts first wins.
            const Pid winner = ours_first ? ours.pid() : theirs;
            const Pid loser = ours_first ? theirs : ours.pid();
            if (method.ours == Resolve::notify_all_name) {
                s.converge(std::nullopt);
                CHECK(next_message(ours) == tuple("global_name_conflict"_a, "clash"_a, theirs));
                CHECK(s.apart->eval("receive {got, _, {global_name_conflict, clash, _}} -> ok "
                                    "after 10000 -> timeout end") == "ok");
                continue;
            }
            s.converge(winner);
            if (method.ours == Resolve::random_exit_name) {
                if (loser == ours.pid()) {
                    CHECK(exited_with(ours) == Term(atoms::killed));
                } else {
                    give_erl(*s.apart, *s.inbox, "p", Term(theirs));
                    CHECK(s.apart->eval(erl_wait("not is_process_alive(get(p))")) == "ok");
                }
            } else if (loser == ours.pid()) {
                CHECK(next_message(ours) == tuple("global_name_conflict"_a, "clash"_a));
            } else {
                CHECK(s.apart->eval("receive {got, _, {global_name_conflict, clash}} -> ok "
                                    "after 10000 -> timeout end") == "ok");
            }
        }
    }
}

TEST_CASE("a clash resolved on our node by a C++ resolver keeps the process it chooses") {
    Split s("a_cpp", "m_erl", "z_erl");  // ours sorts first: our node resolves
    INFO(s.log.text());
    Mailbox ours = s.node->open_mailbox();
    const Pid theirs = s.erl_registrant(*s.apart, "fun global:random_exit_name/3");
    // Keeps the other one (the default would keep ours) and tells ours.
    auto yield_to_theirs = [&ours](const Term& name, const Pid& one,
                                   const Pid& other) -> std::optional<Pid> {
        const Pid keep = one == ours.pid() ? other : one;
        ours.send(ours.pid(), tuple("resolved"_a, name, keep));
        return keep;
    };
    REQUIRE(s.names().register_name(Term("clash"_a), ours.pid(), yield_to_theirs).has_value());
    s.still_apart();
    CHECK(s.node->ping(atom(s.apart->node_name())));
    CHECK(s.names().sync(20s));
    s.converge(theirs);
    CHECK(next_message(ours) == tuple("resolved"_a, "clash"_a, theirs));
}

TEST_CASE("an erl node that resolves a clash on our process asks our node by rpc") {
    // The erl node with us sorts first and meets the lone one: it resolves, and the clashing name
    // in its table is our process's, so it calls global:resolve_it on our node.
    for (bool cpp_method : {true, false}) {
        CAPTURE(cpp_method);
        Split s("m_cpp", "a_erl", "z_erl");
        INFO(s.log.text());
        Mailbox ours = s.node->open_mailbox();
        if (cpp_method) {
            // Our registration, with the method as our node sends it (an export fun).
            REQUIRE(s.names()
                        .register_name(Term("clash"_a), ours.pid(), Resolve::random_notify_name)
                        .has_value());
        } else {
            // An erl process registers our process, with global's own (local) fun: our node
            // has a BEAM node run it.
            give_erl(*s.joined, *s.inbox, "ours", Term(ours.pid()));
            CHECK(s.joined->eval("global:register_name(clash, get(ours), "
                                 "fun global:random_notify_name/3)") == "yes");
        }
        CHECK(s.names().whereis_name(Term("clash"_a)) == ours.pid());
        const Pid theirs = s.erl_registrant(*s.apart, "fun global:random_notify_name/3");
        s.still_apart();
        CHECK(s.joined->eval("net_adm:ping('" + s.apart->node_name() + "')") == "pong");
        CHECK(s.joined->eval("global:sync()") == "ok");
        // random_notify_name: the process on the node whose name sorts first keeps the name.
        const bool ours_wins = s.node->name() < atom(s.apart->node_name());
        s.converge(ours_wins ? ours.pid() : theirs);
        if (ours_wins)
            CHECK(s.apart->eval("receive {got, _, {global_name_conflict, clash}} -> ok "
                                "after 10000 -> timeout end") == "ok");
        else
            CHECK(next_message(ours) == tuple("global_name_conflict"_a, "clash"_a));
    }
}
