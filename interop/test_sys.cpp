// sys from a real erl node on C++ actors (the demo node's kv): get_state in the shape of the
// caller's release, asked of its node (OTP 25 and 27 nodes in one cluster too), get_status,
// replace_state refused as sys reports a failed callback or served by a C++ hook from a compiled
// fun's free variable, suspend holding a gen_server:call
// until resume answers it, statistics, trace lines on our log, log, change_code only while
// suspended, and unknown system requests answered as sys expects without harm to the actor.
#include <doctest/doctest.h>

#include <fstream>

#include "cli/demo_services.hpp"
#include "distribute/actor.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// Our node with the demo kv, and one erl node on a private EPMD.
struct KvAndErl {
    explicit KvAndErl(std::string_view name)
        : node(start_node(cluster.node_options("cpp_" + std::string(name), &log))),
          erl(cluster.erl_options("erl_" + std::string(name))) {
        REQUIRE(cli::start_demo_kv(node).has_value());
    }
    // `expression` evaluated in erl with Kv bound to {kv, CppNode}.
    std::string eval(std::string_view expression) {
        return erl.eval("Kv = {kv, " + quoted(node.name()) + "}, " + std::string(expression));
    }

    Cluster cluster;
    LogCapture log;
    Node node;
    ErlNode erl;
};

// Holds a term as its state; replace_state takes the new one from a closure with one free
// variable, which is what `fun(_) -> New end` compiled in a module carries to another node.
class Holder : public Actor {
  public:
    std::optional<Term> state() const override { return state_; }
    Expected<Term, SysError> replace_state(const Term& state_fun) override {
        auto fun = state_fun.to<Closure>();
        if (!fun || fun->free_vars.size() != 1)
            return sys_refused(Term(Atom::make("not_a_constant_fun").value()));
        state_ = fun->free_vars[0];
        return state_;
    }

  private:
    Term state_ = Term(atoms::undefined);
};

// Whether `erl`'s sys.erl expects {ok, State} from get_state (since OTP 26.1), asked of erl
// itself: an unset DISTRIBUTE_OTP_RELEASE means the machine's own release.
bool caller_expects_ok_tuple(ErlNode& erl) {
    return erl.eval("erlang:system_info(otp_release)") != "\"25\"";
}

}  // namespace

TEST_SUITE("sys interop") {
    TEST_CASE("erl: sys:get_state and sys:get_status on a C++ actor, as on a gen_server") {
        KvAndErl t("sys_state");
        INFO(t.log.text());
        CHECK(t.eval(R"ERL(
            ok = gen_server:call(Kv, {put, a, 1}),
            ok = gen_server:call(Kv, {put, <<"b">>, [2]}),
            sys:get_state(Kv))ERL") == "#{a => 1,<<\"b\">> => [2]}");
        // On the wire: the shape of the caller's release, which our node asked erl for.
        CHECK(t.eval("gen:call(Kv, system, get_state)") ==
              (caller_expects_ok_tuple(t.erl) ? "{ok,{ok,#{a => 1,<<\"b\">> => [2]}}}"
                                              : "{ok,#{a => 1,<<\"b\">> => [2]}}"));
        CHECK(t.eval(R"ERL(
            {status, Pid, {module, gen_server}, [PDict, SysState, Parent, Debug, Misc]} =
                sys:get_status(Kv),
            [Header, {data, [Status, {"Parent", Parent}, Logged]}, State] = Misc,
            {node(Pid) =:= element(2, Kv), Pid =:= Parent, PDict, SysState, Debug, Header, Status,
             Logged, State})ERL") ==
              "{true,true,[{'$ancestors',[]},"
              "{'$initial_call',{'distribute::cli::(anonymous namespace)::Kv',init,1}}],"
              "running,[],{header,\"Status for generic server kv\"},"
              "{\"Status\",running},{\"Logged events\",[]},"
              "{data,[{\"State\",#{a => 1,<<\"b\">> => [2]}}]}}");
    }

    TEST_CASE("erl: sys:replace_state on a C++ actor raises callback_failed, and it goes on") {
        KvAndErl t("sys_replace");
        INFO(t.log.text());
        CHECK(t.eval(R"ERL(
            R = try sys:replace_state(Kv, fun(S) -> S end) catch error:E -> E end,
            {R, gen_server:call(Kv, keys)})ERL") ==
              "{{callback_failed,{gen_server,system_replace_state},"
              "{error,replace_state_not_supported}},[]}");
    }

    TEST_CASE("erl: sys:replace_state with a compiled fun(_) -> New end reaches the C++ hook") {
        Cluster cluster;
        LogCapture log;
        INFO(log.text());
        Node node = start_node(cluster.node_options("cpp_sys_fun", &log));
        REQUIRE(spawn_actor(node, std::make_unique<Holder>(), {.name = atom("holder")}));
        TempDir beams;
        {
            std::ofstream source(beams.file("sys_fun.erl"));
            source << "-module(sys_fun).\n-export([set/2]).\n"
                      "set(Server, New) -> sys:replace_state(Server, fun(_Old) -> New end).\n";
        }
        compile_erl(beams.file("sys_fun.erl"), beams.path());
        ErlNodeOptions options = cluster.erl_options("erl_sys_fun");
        options.extra_args = {"-pa", beams.path()};
        ErlNode erl(options);
        CHECK(erl.eval("H = {holder, " + quoted(node.name()) +
                       "}, {sys:get_state(H), sys_fun:set(H, #{n => [5]}), sys:get_state(H)}") ==
              "{undefined,#{n => [5]},#{n => [5]}}");
    }

    TEST_CASE(
        "erl: a call to a suspended actor times out; after sys:resume the queued call is "
        "answered") {
        KvAndErl t("sys_suspend");
        INFO(t.log.text());
        CHECK(t.eval(R"ERL(
            ok = sys:suspend(Kv),
            T = try gen_server:call(Kv, {put, b, 2}, 300) catch exit:{timeout, _} -> timeout end,
            Self = self(),
            spawn(fun() -> Self ! {queued, gen_server:call(Kv, {get, b}, infinity)} end),
            ok = gen_server:cast(Kv, {put, c, 3}),
            Held = receive {queued, _} = Early -> Early after 300 -> held end,
            {status, _, _, [_, SysState | _]} = sys:get_status(Kv),
            ok = sys:resume(Kv),
            Q = receive {queued, A} -> A after 10000 -> no_answer end,
            {T, Held, SysState, Q, gen_server:call(Kv, keys)})ERL") ==
              "{timeout,held,suspended,{ok,2},[b,c]}");
    }

    TEST_CASE("erl: sys:change_code is refused while running and runs while suspended") {
        KvAndErl t("sys_code");
        INFO(t.log.text());
        CHECK(t.eval(R"ERL(
            R1 = sys:change_code(Kv, kv, "1", []),
            ok = sys:suspend(Kv),
            R2 = sys:change_code(Kv, kv, "1", []),
            ok = sys:resume(Kv),
            {R1, R2})ERL") == "{{error,{unknown_system_msg,{change_code,kv,\"1\",[]}}},ok}");
    }

    TEST_CASE("erl: sys:statistics(P, true), then get counts the messages in and out") {
        KvAndErl t("sys_stats");
        INFO(t.log.text());
        CHECK(t.eval(R"ERL(
            {ok, no_statistics} = sys:statistics(Kv, get),
            ok = sys:statistics(Kv, true),
            ok = gen_server:call(Kv, {put, a, 1}),
            ok = gen_server:cast(Kv, {put, b, 2}),
            [a, b] = gen_server:call(Kv, keys),
            {ok, S} = sys:statistics(Kv, get),
            ok = sys:statistics(Kv, false),
            {{Y, _, _}, _} = proplists:get_value(start_time, S),
            {is_integer(Y), [K || {K, _} <- S], proplists:get_value(messages_in, S),
             proplists:get_value(messages_out, S), sys:statistics(Kv, get)})ERL") ==
              "{true,[start_time,current_time,reductions,messages_in,messages_out],3,2,"
              "{ok,no_statistics}}");
    }

    TEST_CASE("erl: sys:trace prints gen_server's *DBG* lines on our log; sys:log keeps events") {
        KvAndErl t("sys_trace");
        INFO(t.log.text());
        CHECK(t.eval(R"ERL(
            ok = sys:trace(Kv, true),
            ok = gen_server:call(Kv, {put, a, 1}),
            ok = gen_server:cast(Kv, {put, b, 2}),
            ok = sys:trace(Kv, false),
            ok = sys:log(Kv, true),
            {ok, 1} = gen_server:call(Kv, {get, a}),
            {ok, [{in, {'$gen_call', {Me, _}, {get, a}}}, {out, {ok, 1}, {Me, _}, State}]} =
                sys:log(Kv, get),
            ok = sys:log(Kv, false),
            {Me =:= self(), lists:sort(maps:to_list(State))})ERL") == "{true,[{a,1},{b,2}]}");
        CHECK(t.log.contains("*DBG* kv got call {put,a,1} from "));
        CHECK(t.log.contains("*DBG* kv sent ok to "));
        CHECK(t.log.contains(", new state #{a => 1}"));
        CHECK(t.log.contains("*DBG* kv got cast {put,b,2}"));
        CHECK(t.log.contains("*DBG* kv new state #{a => 1,b => 2}"));  // printed by us
        CHECK_FALSE(t.log.contains("*DBG* kv got call {get,a}"));
    }

    TEST_CASE("erl: unknown system and debug requests get sys's replies; the actor goes on") {
        KvAndErl t("sys_unknown");
        INFO(t.log.text());
        CHECK(t.eval(R"ERL(
            {gen:call(Kv, system, bogus), gen:call(Kv, system, {debug, bogus}),
             sys:log(Kv, {true, 0}), gen_server:call(Kv, keys)})ERL") ==
              "{{ok,{error,{unknown_system_msg,bogus}}},{ok,unknown_debug},unknown_debug,[]}");
    }
}

// Needs the OTP 27 root, which scripts/check makes after the other suites: so it runs with the
// releases suite (a fresh machine has no root yet when the rest of the interop suite runs).
TEST_SUITE("releases") {
    TEST_CASE("erl: OTP 25 and OTP 27 nodes in one cluster each get their release's shape") {
        Cluster cluster;
        LogCapture log;
        INFO(log.text());
        Node node = start_node(cluster.node_options("cpp_sys_mixed", &log));
        REQUIRE(cli::start_demo_kv(node).has_value());
        const std::string kv = "Kv = {kv, " + quoted(node.name()) + "}, ";
        for (const char* release : {"25", "27", "25", "27"}) {
            ErlNodeOptions options = cluster.erl_options("erl_sys_" + std::string(release));
            options.otp_release = release;
            ErlNode erl(options);
            INFO("OTP " << release);
            // Twice on one connection: the second takes the release asked for the first.
            CHECK(erl.eval(kv + "ok = gen_server:call(Kv, {put, r, " + release +
                           "}), {sys:get_state(Kv), sys:get_state(Kv)}") ==
                  "{#{r => " + std::string(release) + "},#{r => " + release + "}}");
        }
        CHECK_FALSE(log.contains("is unknown"));
    }
}
