// Our node against real erl nodes: ping both ways, terms through our echo, message order,
// concurrency, the ways to address a process (name, pid, alias) in both directions, dropped
// messages, and a hidden erl node.
#include <doctest/doctest.h>

#include <algorithm>

#include "cli/demo_services.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

bool has(const std::vector<Atom>& nodes, Atom node) {
    return std::count(nodes.begin(), nodes.end(), node) == 1;
}

// Erlang: takes {seq, 1} .. {seq, 10000} from the mailbox in that order and gives in_order, or
// says which number came instead of which.
const std::string receive_in_order = R"ERL(
    Loop = fun L(N) when N > 10000 -> in_order;
               L(N) -> receive {seq, N} -> L(N + 1);
                               {seq, M} -> {out_of_order, N, M}
                       after 30000 -> {timeout, N} end
           end,
    Loop(1))ERL";

}  // namespace

TEST_CASE(
    "erl pings our node and gets pong; our node pings erl and gets true, a missing node false") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_ping", &log));
    ErlNode erl(cluster.erl_options("erl_ping"));
    const Atom peer = atom(erl.node_name());

    CHECK(erl.eval("net_adm:ping(" + quoted(node.name()) + ")") == "pong");
    // We are visible (the default), so erl lists us in nodes(), not among its hidden nodes.
    CHECK(erl.eval("{lists:member(" + quoted(node.name()) + ", nodes(hidden)), lists:member(" +
                   quoted(node.name()) + ", nodes())}") == "{false,true}");
    eventually([&] { return has(node.nodes(), peer); });
    CHECK_FALSE(has(node.hidden_nodes(), peer));

    CHECK(node.ping(peer));
    CHECK(node.ping(node.name()));
    CHECK_FALSE(node.ping(atom("nosuch_" + std::to_string(free_port()) + "@" + short_host())));
    // A ping that fails does not disturb the connection that works.
    CHECK(node.ping(peer));
}

TEST_CASE("our node pings an erl node it is not connected to yet and the connection comes up") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_dial", &log));
    ErlNode erl(cluster.erl_options("erl_dialled"));
    const Atom peer = atom(erl.node_name());
    NodeEvents events(node);
    CHECK(node.ping(peer));
    eventually([&] { return events.count(peer, true) == 1; });
    CHECK(has(node.nodes(), peer));
    CHECK(erl.eval("lists:member(" + quoted(node.name()) + ", nodes())") == "true");
}

TEST_CASE("a wide set of terms from erl comes back from our echo exactly (=:=)") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_echo", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    ErlNode erl(cluster.erl_options("erl_echo"));
    // Each term goes to echo alone and must come back as the next message, identical. The answer
    // lists the positions of the terms that did not.
    const std::string result = erl.eval(R"ERL(
        Cpp = )ERL" + quoted(node.name()) + R"ERL(,
        Big = 1 bsl 2000,
        Y = {captured, 42},
        Terms = [
            atom, '', 'with space', 'ünïcödé', '日本語', 'Ω',
            list_to_atom(lists:duplicate(255, 16#1F600)),
            list_to_atom(lists:duplicate(255, $a)),
            0, 1, -1, 255, 256, -256, 16#7FFFFFF, 16#8000000, -16#8000000, 16#7FFFFFFF,
            -16#80000000, 1 bsl 32, 1 bsl 63, -(1 bsl 63), (1 bsl 64) - 1, 1 bsl 64, Big, -Big,
            Big - 1, 1 bsl 4000, -(1 bsl 4000) + 1,
            0.0, 3.14, -2.5e-300, 1.0e308, 5.0e-324, float(1 bsl 60),
            <<>>, <<"bytes">>, <<0:8000>>, binary:copy(<<0, 1, 2, 255>>, 2 * 1024 * 1024),
            binary:part(binary:copy(<<"slice">>, 1000), 3, 4000),
            <<1:1>>, <<5:3>>, <<"abc", 3:2>>, <<0:1023>>,
            #{}, #{a => 1, <<"b">> => [2], {c} => #{d => e}, 1.5 => 1, 1 => 1.5},
            maps:from_list([{K, K * K} || K <- lists:seq(1, 100)]),
            [], [1, 2, 3], "string", [256, 1000], lists:seq(1, 300),
            [a, [b, [c, [d, [e]]]]], {}, {a}, {a, {b, {c, {}}}}, list_to_tuple(lists:seq(1, 300)),
            [a | b], [1, 2 | 3], [[] | <<"tail">>], {[x | y], #{k => [v | w]}},
            self(), make_ref(), hd(erlang:ports()), spawn(fun() -> ok end), alias(),
            fun lists:reverse/1, fun erlang:node/0,
            fun(X) -> {X, Y} end, fun() -> Big end,
            {self(), make_ref(), [fun lists:sort/1, #{fun lists:sort/1 => [1]}]}
        ],
        Check = fun(T) ->
            {echo, Cpp} ! {self(), T},
            receive R -> R =:= T after 30000 -> timeout end
        end,
        Numbered = lists:zip(lists:seq(1, length(Terms)), Terms),
        {length(Terms), [N || {N, T} <- Numbered, Check(T) =/= true]}
    )ERL",
                                        60s);
    // {Count, FailedPositions}
    CHECK_MESSAGE(result.ends_with(",[]}"), "terms that did not come back identical: " << result);
    CHECK(result.size() > 5);
}

TEST_CASE("10,000 messages keep their order from erl through our echo back to erl") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_order", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    ErlNode erl(cluster.erl_options("erl_order"));
    // Each arriving message must be the next number: {seq, M} with M other than N is reported.
    CHECK(erl.eval(R"ERL(
        Cpp = )ERL" + quoted(node.name()) +
                       R"ERL(,
        [{echo, Cpp} ! {self(), {seq, N}} || N <- lists:seq(1, 10000)],)ERL" +
                       receive_in_order,
                   60s) == "in_order");
}

TEST_CASE("10,000 messages from a C++ mailbox reach an erl process in the order sent") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_send_order", &log));
    ErlNode erl(cluster.erl_options("erl_send_order"));
    Mailbox inbox = named_mailbox(node, "inbox");
    const Pid tester = erl_pid(erl, node, inbox, "self()");
    static const Atom seq = Atom::make("seq").value();
    for (int n = 1; n <= 10000; ++n)
        inbox.send(tester, tuple(seq, n));
    CHECK(erl.eval(receive_in_order, 60s) == "in_order");
}

TEST_CASE("50 concurrent erl processes each get their own echo answers, in order") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_conc", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    ErlNode erl(cluster.erl_options("erl_conc"));
    // A client takes whatever message comes next and wants exactly its own latest tag: a reply
    // given to the wrong process, or out of order, fails it.
    CHECK(erl.eval(R"ERL(
        Cpp = )ERL" + quoted(node.name()) +
                       R"ERL(,
        Parent = self(),
        Client = fun(I) ->
            Results = [begin
                           Tag = {I, J, make_ref()},
                           {echo, Cpp} ! {self(), Tag},
                           receive M -> M =:= Tag after 30000 -> timeout end
                       end || J <- lists:seq(1, 100)],
            Parent ! {done, I, lists:all(fun(R) -> R =:= true end, Results)}
        end,
        [spawn(fun() -> Client(I) end) || I <- lists:seq(1, 50)],
        Verdicts = [receive {done, I, Ok} -> Ok after 60000 -> {timeout, I} end
                    || I <- lists:seq(1, 50)],
        lists:all(fun(V) -> V =:= true end, Verdicts)
    )ERL",
                   90s) == "true");
}

TEST_CASE("messages reach {Name, Node} and pids in both directions") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_addr", &log));
    ErlNode erl(cluster.erl_options("erl_addr"));
    register_tester(erl);
    Mailbox inbox = named_mailbox(node, "inbox");
    const Atom erl_node = atom(erl.node_name());

    // erl -> {inbox, Cpp}: the message names its sender, which we answer by pid.
    CHECK(erl.eval("{inbox, " + quoted(node.name()) + "} ! {hello, self()}, ok") == "ok");
    Term hello = next_message(inbox);
    REQUIRE(hello.is_tuple(2));
    CHECK(hello[0].is_atom(atom("hello")));
    const auto sender = hello[1].to<Pid>();
    REQUIRE(sender.has_value());
    CHECK(sender->node == erl_node);
    inbox.send(*sender, tuple(atom("by_pid"), inbox.pid()));
    // erl checks that the reply came from the pid it now sends to by pid.
    CHECK(erl.eval("receive {by_pid, P} -> P ! {back_by_pid, node(P)}, ok after 15000 -> "
                   "timeout end") == "ok");
    Term back = next_message(inbox);
    CHECK(back == tuple(atom("back_by_pid"), node.name()));

    // C++ -> {tester, ErlNode}.
    inbox.send(atom("tester"), erl_node, tuple(atom("by_name"), 7));
    CHECK(erl.eval("receive {by_name, 7} -> ok after 15000 -> timeout end") == "ok");

    // A handler process addressed by name from erl answers by pid.
    ProcessHandle replier = node.spawn([](const ProcessHandle& self, Term message) {
        if (auto from = message.to<Pid>()) self.send(*from, tuple("from_handler"_a, self.pid()));
    });
    REQUIRE(node.register_name(atom("replier"), replier.pid()).has_value());
    CHECK(erl.eval("{replier, " + quoted(node.name()) +
                   "} ! self(), receive {from_handler, P} -> node(P) after 15000 -> timeout end") ==
          std::string(node.name().name()));
    replier.exit_self(Term(atoms::normal));
}

TEST_CASE(
    "an erl alias reaches erl through ProcessHandle::send_alias, and no longer after unalias") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_alias", &log));
    ErlNode erl(cluster.erl_options("erl_alias"));
    register_tester(erl);
    Mailbox inbox = named_mailbox(node, "inbox");
    const Atom erl_node = atom(erl.node_name());

    Term alias_term = erl_value(erl, node, inbox, "A = alias(), put(alias, A), A");
    auto alias = alias_term.to<Reference>();
    REQUIRE(alias.has_value());
    CHECK(alias->node == erl_node);
    inbox.send_alias(*alias, tuple(atom("via_alias"), 1));
    CHECK(erl.eval("receive {via_alias, N} -> N after 15000 -> timeout end") == "1");

    // Once erl drops the alias, a message to it is dropped by erl; a message sent after it by
    // the same process arrives first, so nothing is waiting in erl's mailbox before it.
    CHECK(erl.eval("unalias(get(alias))") == "true");
    inbox.send_alias(*alias, tuple(atom("via_alias"), 2));
    inbox.send(atom("tester"), erl_node, Term(atom("marker")));
    CHECK(erl.eval("receive M -> M after 15000 -> timeout end") == "marker");
}

TEST_CASE("a C++ alias sent to erl lets erl send to the mailbox, until unalias") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_alias2", &log));
    ErlNode erl(cluster.erl_options("erl_alias2"));
    register_tester(erl);
    Mailbox inbox = named_mailbox(node, "inbox");
    Mailbox owner = node.open_mailbox();

    const Reference alias = owner.alias();
    give_erl(erl, inbox, "alias", Term(alias));
    CHECK(erl.eval("get(alias) ! {to_alias, 1}, ok") == "ok");
    CHECK(next_message(owner) == tuple(atom("to_alias"), 1));

    CHECK(owner.unalias(alias));
    const auto dropped = node.stats().dropped_messages;
    // The pid message goes after the alias one on the same connection: once it is here, the
    // alias message was handled (dropped) before it.
    give_erl(erl, inbox, "owner", Term(owner.pid()));
    CHECK(erl.eval("get(alias) ! {to_alias, 2}, get(owner) ! after_unalias, ok") == "ok");
    CHECK(next_message(owner) == Term(atom("after_unalias")));
    CHECK(node.stats().dropped_messages > dropped);
    CHECK(owner.queued() == 0);
}

TEST_CASE("a message to a name nobody has on our node is dropped and the connection survives") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_drop", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    ErlNode erl(cluster.erl_options("erl_drop"));
    NodeEvents events(node);
    const Atom peer = atom(erl.node_name());
    CHECK(erl.eval("{echo, " + quoted(node.name()) +
                   "} ! {self(), first}, receive first -> ok "
                   "after 15000 -> timeout end") == "ok");
    const auto before = node.stats().dropped_messages;
    // The echo answer travels after the dropped message, so the drop is counted by then.
    CHECK(erl.eval("Cpp = " + quoted(node.name()) +
                   ", {nosuch_name, Cpp} ! hello, {echo, Cpp} ! {self(), second}, receive second "
                   "-> ok after 15000 -> timeout end") == "ok");
    CHECK(node.stats().dropped_messages == before + 1);
    CHECK(events.count(peer, true) == 1);
    CHECK(events.count(peer, false) == 0);
    CHECK(erl.eval("lists:member(" + quoted(node.name()) + ", nodes())") == "true");
}

TEST_CASE("a hidden erl node connects to our node, pings it and is listed as hidden") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_hid", &log));
    REQUIRE(cli::start_demo_services(node).has_value());
    NodeEvents events(node);
    auto options = cluster.erl_options("erl_hidden");
    options.hidden = true;
    ErlNode erl(options);
    const Atom peer = atom(erl.node_name());
    CHECK(erl.eval("net_adm:ping(" + quoted(node.name()) + ")") == "pong");
    eventually([&] { return events.count(peer, true) == 1; });
    const auto up = events.first(peer, true);
    REQUIRE(up.has_value());
    CHECK(up->hidden);
    CHECK(has(node.hidden_nodes(), peer));
    CHECK_FALSE(has(node.nodes(), peer));
    CHECK(erl.eval("{echo, " + quoted(node.name()) +
                   "} ! {self(), hidden_echo}, receive hidden_echo -> ok after 15000 -> timeout "
                   "end") == "ok");
    CHECK(node.ping(peer));
}
