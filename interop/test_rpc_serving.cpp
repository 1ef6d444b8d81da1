// erl calling our node: rpc:call, erpc:call, erpc:cast, the multicalls and the rex protocol into
// the demo module, each answer held to what a BEAM running demo.erl (the twin of our module)
// answers; slow calls beside fast ones; and calls under way when our node goes.
#include <doctest/doctest.h>

#include "cli/demo_services.hpp"
#include "rpc_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// Erlang functions for the shell of `erl`: a call's outcome as a term, with stack locations
// dropped (our frames have none; the twin's name demo.erl and a line).
constexpr std::string_view outcome_funs = R"ERL(
    Strip = fun(S) -> [{M, F, A, []} || {M, F, A, _} <- S] end,
    Erpc = fun(N, M, F, A) ->
        try {ok, erpc:call(N, M, F, A, 15000)}
        catch error:{exception, R, S} -> {error, R, Strip(S)};
              C:R -> {C, R}
        end
    end,
    Rpc = fun(N, M, F, A) ->
        case rpc:call(N, M, F, A, 15000) of
            {badrpc, {'EXIT', {R, S}}} when is_list(S) -> {badrpc, R, Strip(S)};
            X -> X
        end
    end,
)ERL";

// Our node with the demo services, and two erl nodes: `erl` calls, `twin` has demo.erl loaded.
struct Serving {
    Cluster cluster;
    LogCapture log;
    TestModules modules;
    Node node = start_node(cluster.node_options("cpp_rpc", &log));
    ErlNode erl{cluster.erl_options("erl_caller")};
    ErlNode twin{modules.with_modules(cluster.erl_options("erl_twin"))};

    Serving() {
        REQUIRE(cli::start_demo_services(node).has_value());
        CHECK(eval("{net_adm:ping(Cpp), net_adm:ping(Twin)}") == "{pong,pong}");
    }
    std::string cpp() const { return quoted(node.name()); }
    // The node's name as erl prints it.
    std::string printed() const { return to_string(Term(node.name())); }
    // Evaluates `body` on erl with Cpp and Twin bound to the node names, and the functions of
    // outcome_funs. Other values that must last from one eval to the next go in the process
    // dictionary.
    std::string eval(const std::string& body, std::chrono::milliseconds limit = 15s) {
        return erl.eval("Cpp = " + cpp() + ", Twin = " + quoted(twin.node_name()) + ", " +
                            std::string(outcome_funs) + body,
                        limit);
    }
};

}  // namespace

TEST_CASE("erl's rpc:call and erpc:call into demo give what a BEAM running demo.erl gives") {
    Serving s;
    INFO(s.log.text());
    // Return values, the three classes of exception, badarith with its stack, and undef for a
    // missing function, a missing arity and a missing module: the positions that differ.
    CHECK(s.eval(R"ERL(
        Cases = [{demo, echo, [{a, "b", <<"c">>, 1.5, [x | y], #{k => v}}]},
                 {demo, add, [1 bsl 100, -(1 bsl 99)]}, {demo, add, [2, 3]},
                 {demo, add, [-7, 1 bsl 64]},
                 {demo, fail, [boom]}, {demo, fail, [{nested, [1, 2]}]},
                 {demo, raise, [throw, thrown]}, {demo, raise, [exit, gone]},
                 {demo, raise, [error, bad]}, {demo, raise, [throw, {'EXIT', fake}]},
                 {demo, add, [a, 1]},
                 {demo, nosuch, [1, 2]}, {demo, echo, []}, {demo, echo, [1, 2]},
                 {nosuch_module, f, [1]}, {demo, sleep, [10]}],
        [{I, Erpc(Cpp, M, F, A), Erpc(Twin, M, F, A), Rpc(Cpp, M, F, A), Rpc(Twin, M, F, A)}
         || {I, {M, F, A}} <- lists:zip(lists:seq(1, length(Cases)), Cases),
            Erpc(Cpp, M, F, A) =/= Erpc(Twin, M, F, A) orelse Rpc(Cpp, M, F, A) =/= Rpc(Twin, M, F, A)]
    )ERL",
                 60s) == "[]");
    // Without stripping anything: undef carries the arguments and no location on both.
    CHECK(s.eval("Undef = fun(N) -> {try erpc:call(N, demo, nosuch, [1]) catch C:R -> {C, R} "
                 "end, rpc:call(N, nosuch_mod, f, [])} end, {Undef(Cpp) =:= Undef(Twin), "
                 "Undef(Cpp)}") ==
          "{true,{{error,{exception,undef,[{demo,nosuch,[1],[]}]}},{badrpc,{'EXIT',{undef,[{"
          "nosuch_mod,f,[],[]}]}}}}}");
    CHECK(s.eval("erpc:call(Cpp, demo, node, [])") == s.printed());
    CHECK(s.eval("rpc:call(Cpp, demo, node, [])") == s.printed());
}

TEST_CASE("demo:spawn_worker gives a pid that answers {Pid, Msg} and exits with the reason asked") {
    Serving s;
    INFO(s.log.text());
    CHECK(s.eval(R"ERL(
        W = erpc:call(Cpp, demo, spawn_worker, []),
        W ! {self(), {hello, 1}},
        Echoed = receive {hello, 1} -> echoed after 15000 -> timeout end,
        Ref = monitor(process, W),
        W ! {exit, {shutdown, asked}},
        Down = receive {'DOWN', Ref, process, W, R} -> R after 15000 -> timeout end,
        {node(W) =:= Cpp, Echoed, Down}
    )ERL") == "{true,echoed,{shutdown,asked}}");
}

TEST_CASE("a spawn request for anything but erpc is refused with notsup, and funs never run") {
    Serving s;
    INFO(s.log.text());
    CHECK(s.eval("R = spawn_request(Cpp, lists, reverse, [[1]], [monitor]), receive "
                 "{spawn_reply, R, error, Why} -> Why after 15000 -> timeout end") == "notsup");
    // erpc:call with a fun is erlang:apply(Fun, []) there, which this node does not have.
    CHECK(s.eval("try erpc:call(Cpp, fun() -> ran end) catch error:{exception, undef, "
                 "[{erlang, apply, [_, []], []}]} -> undef end") == "undef");
    // A BIF beyond the built-ins every node answers (test_builtins.cpp) is undef too.
    CHECK(
        s.eval("rpc:call(Cpp, erlang, garbage_collect, [])").starts_with("{badrpc,{'EXIT',{undef"));
}

TEST_CASE(
    "erpc:cast and rpc:cast run the function and answer nothing; a failing cast is harmless") {
    Serving s;
    INFO(s.log.text());
    Mailbox watcher = s.node.open_mailbox();
    Probe probe(s.node, watcher.pid());
    CHECK(s.eval("erpc:cast(Cpp, probe, note, [by_erpc])") == "ok");
    CHECK(next_message(watcher) == tuple(atom("noted"), atom("by_erpc")));
    CHECK(s.eval("rpc:cast(Cpp, probe, note, [by_rpc])") == "true");
    CHECK(next_message(watcher) == tuple(atom("noted"), atom("by_rpc")));
    // Old-style, through rex.
    CHECK(s.eval("gen_server:cast({rex, Cpp}, {cast, probe, note, [by_rex], user})") == "ok");
    CHECK(next_message(watcher) == tuple(atom("noted"), atom("by_rex")));
    CHECK(s.eval("erpc:cast(Cpp, demo, fail, [cast_failed]), erpc:cast(Cpp, nosuch, f, []), "
                 "erpc:call(Cpp, demo, echo, [still_here])") == "still_here");
    // Nothing came back to the caster.
    CHECK(s.eval("receive M -> M after 200 -> nothing end") == "nothing");
}

TEST_CASE("rpc:multicall and erpc:multicall over our node, an erl node and a dead one") {
    Serving s;
    INFO(s.log.text());
    const Atom dead = dead_node();
    CHECK(s.eval("rpc:multicall([Cpp, Twin, " + quoted(dead) + "], demo, add, [1 bsl 80, 1])") ==
          "{[1208925819614629174706177,1208925819614629174706177],[" + to_string(Term(dead)) +
              "]}");
    CHECK(s.eval("erpc:multicall([Cpp, " + quoted(dead) + ", Twin], demo, echo, [x], 15000)") ==
          "[{ok,x},{error,{erpc,noconnection}},{ok,x}]");
    CHECK(s.eval("[R || {error, {exception, R, _}} <- erpc:multicall([Cpp, Twin], demo, "
                 "fail, [both])]") == "[both,both]");
}

TEST_CASE("a slow call holds up no other: a fast call is answered while the slow one is pending") {
    Serving s;
    INFO(s.log.text());
    Mailbox watcher = s.node.open_mailbox();
    Probe probe(s.node, watcher.pid());
    // demo:sleep is asynchronous (a timer). The slow request goes first, on the same connection.
    CHECK(s.eval(R"ERL(
        Slow = erpc:send_request(Cpp, demo, sleep, [2000]),
        Fast = erpc:call(Cpp, demo, echo, [fast]),
        WhileFast = erpc:wait_response(Slow, 0),
        {Fast, WhileFast, erpc:receive_response(Slow, 15000)}
    )ERL") == "{fast,no_response,ok}");
    // probe:block is synchronous: it holds a worker thread until released. Three of them (the
    // pool has four threads) and the fast call still gets through.
    CHECK(s.eval("put(blocked, [erpc:send_request(Cpp, probe, block, []) || _ <- [1, 2, 3]]), "
                 "ok") == "ok");
    probe.wait_started(3);
    CHECK(s.eval("{erpc:call(Cpp, demo, echo, [fast]), [erpc:wait_response(B, 0) || B <- "
                 "get(blocked)]}") == "{fast,[no_response,no_response,no_response]}");
    // The old rex calls too: each runs apart from rex.
    CHECK(s.eval("RexSlow = gen_server:send_request({rex, Cpp}, {call, demo, sleep, [2000], "
                 "user}), put(rex_slow, RexSlow), {gen_server:call({rex, Cpp}, {call, demo, echo, "
                 "[fast], user}), gen_server:wait_response(RexSlow, 0)}") == "{fast,timeout}");
    probe.release();
    CHECK(s.eval("[erpc:receive_response(B, 15000) || B <- get(blocked)]") ==
          "[released,released,released]");
    CHECK(s.eval("gen_server:wait_response(get(rex_slow), 15000)") == "{reply,ok}");
}

TEST_CASE(
    "a peer at its limit of calls in progress is refused with system_limit; other peers, "
    "and its own calls once some end, go on") {
    Serving s;
    INFO(s.log.text());
    NodeLimits limits = s.node.limits();
    limits.max_remote_calls_per_peer = 2;
    s.node.set_limits(limits);
    Mailbox watcher = s.node.open_mailbox();
    Probe probe(s.node, watcher.pid());
    CHECK(s.eval("put(held, [erpc:send_request(Cpp, probe, hang, []) || _ <- [1, 2]]), ok") ==
          "ok");
    probe.wait_started(2);
    CHECK(s.eval("try erpc:call(Cpp, demo, echo, [x]) catch C:R -> {C, R} end") ==
          "{error,{erpc,system_limit}}");
    CHECK(s.eval("gen_server:call({rex, Cpp}, {call, demo, echo, [x], user})") ==
          "{badrpc,{'EXIT',system_limit}}");
    CHECK(s.log.contains("limits.max_remote_calls_per_peer"));
    CHECK(s.twin.eval("erpc:call(" + s.cpp() + ", demo, echo, [other_peer])") == "other_peer");

    probe.answer_hanging(atom("answered"));
    CHECK(s.eval("[erpc:receive_response(R, 15000) || R <- get(held)]") == "[answered,answered]");
    CHECK(s.eval("{erpc:call(Cpp, demo, echo, [again]), rpc:call(Cpp, demo, echo, [again])}") ==
          "{again,again}");
}

TEST_CASE(
    "calls under way end with {erpc, noconnection} and {badrpc, nodedown} when our node goes") {
    Serving s;
    INFO(s.log.text());
    Mailbox watcher = s.node.open_mailbox();
    Probe probe(s.node, watcher.pid());
    CHECK(s.eval(R"ERL(
        T = self(),
        spawn(fun() -> T ! {by_erpc, try erpc:call(Cpp, probe, hang, []) catch C:R -> {C, R} end}
              end),
        spawn(fun() -> T ! {by_rpc, rpc:call(Cpp, probe, hang, [])} end),
        ok
    )ERL") == "ok");
    probe.wait_started(2);
    s.node.stop();
    CHECK(s.eval("{receive {by_erpc, E} -> E after 15000 -> timeout end, receive {by_rpc, R} "
                 "-> R after 15000 -> timeout end}") ==
          "{{error,{erpc,noconnection}},{badrpc,nodedown}}");
}

TEST_CASE(
    "rex answers gen_server:call({rex, Node}, {call, ...}) and {Pid, {call, ...}} as a BEAM") {
    Serving s;
    INFO(s.log.text());
    // gen_server:call to rex, both nodes, errors as rpc gives them.
    CHECK(s.eval(R"ERL(
        RexCall = fun(N, M, F, A) ->
            case gen_server:call({rex, N}, {call, M, F, A, group_leader()}, 15000) of
                {badrpc, {'EXIT', {R, S}}} when is_list(S) -> {badrpc, R, Strip(S)};
                X -> X
            end
        end,
        Cases = [{demo, echo, [[1, {2}]]}, {demo, add, [1, 2]}, {demo, fail, [boom]},
                 {demo, raise, [throw, t]}, {demo, raise, [exit, e]}, {demo, nosuch, [1]},
                 {nosuch_module, f, []}],
        [{M, F, A, RexCall(Cpp, M, F, A), RexCall(Twin, M, F, A)}
         || {M, F, A} <- Cases, RexCall(Cpp, M, F, A) =/= RexCall(Twin, M, F, A)]
    )ERL",
                 60s) == "[]");
    CHECK(s.eval("gen_server:call({rex, Cpp}, {block_call, demo, echo, [blocked], user})") ==
          "blocked");
    // The erl_interface form: {self(), {call, M, F, A, GL}} answered {rex, Result}.
    CHECK(s.eval("{rex, Cpp} ! {self(), {call, demo, add, [40, 2], user}}, receive {rex, R} -> "
                 "R after 15000 -> timeout end") == "42");
    CHECK(s.eval("{rex, Cpp} ! {self(), {call, demo, nosuch, [], user}}, receive {rex, R} -> "
                 "R after 15000 -> timeout end") ==
          "{badrpc,{'EXIT',{undef,[{demo,nosuch,[],[]}]}}}");
    // An unknown request is ignored, as rex ignores it: the caller times out.
    CHECK(s.eval("catch gen_server:call({rex, Cpp}, what, 300)").starts_with("{'EXIT',{timeout,"));
}
