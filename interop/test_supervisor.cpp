// C++ supervisors driven from real erl and elixir nodes: supervisor:start_child with a child spec
// naming a C++ factory, the child's restart after erl kills it, terminate/restart/delete_child
// with supervisor.erl's replies, simple_one_for_one, Elixir's DynamicSupervisor API with
// max_children, and sys (get_state, get_status, suspend/resume, an unknown request).
#include <doctest/doctest.h>

#include "distribute/supervisor.hpp"
#include "elixir_support.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// Atoms for code that runs on the node's threads (node_support's atom() asserts, for test threads).
Atom name(const char* text) {
    return Atom::make(text).value();
}

// Answers the call `get` with the sum of its integer args.
class Counter : public Actor {
  public:
    explicit Counter(std::int64_t n) : n_(n) {}
    CallResult handle_call(const Term& request, From) override {
        if (request.is_atom(name("get"))) return Reply{Term(n_)};
        return Reply{tuple(atoms::error, request)};
    }

  private:
    std::int64_t n_;
};

// The factory `counter`: {distribute, counter, [N, ...]} from a BEAM node.
std::shared_ptr<ChildFactories> counter_factory() {
    auto f = std::make_shared<ChildFactories>();
    f->add(name("counter"), actor_factory([](std::span<const Term> args) -> std::unique_ptr<Actor> {
               std::int64_t sum = 0;
               for (const auto& a : args) {
                   auto n = a.to<std::int64_t>();
                   if (!n) return nullptr;
                   sum += *n;
               }
               return std::make_unique<Counter>(sum);
           }));
    return f;
}

struct WithErl {
    explicit WithErl(std::string_view prefix)
        : node(start_node(cluster.node_options("cpp_" + std::string(prefix), &log))),
          erl(cluster.erl_options("erl_" + std::string(prefix))) {}
    ProcessHandle supervisor(SupervisorOptions o) {
        o.factories = counter_factory();
        auto sup = start_supervisor(node, std::move(o));
        REQUIRE(sup.has_value());
        return *sup;
    }
    // `expression` evaluated in erl with Sup bound to {Name, CppNode}.
    std::string eval(std::string_view sup, std::string_view expression) {
        return erl.eval("Sup = {" + std::string(sup) + ", " + quoted(node.name()) + "}, " +
                        std::string(expression));
    }

    Cluster cluster;
    LogCapture log;
    Node node;
    ErlNode erl;
};

}  // namespace

TEST_SUITE("supervisor interop") {
    TEST_CASE(
        "erl: supervisor:start_child names a C++ factory; the child is restarted after "
        "erl kills it; terminate, restart and delete give supervisor.erl's replies") {
        WithErl t("dynsup");
        INFO(t.log.text());
        SupervisorOptions o;
        o.name = atom("dyn_sup");
        o.intensity = 5;
        t.supervisor(std::move(o));
        CHECK(t.eval("dyn_sup", R"ERL(
            Spec = #{id => w, start => {distribute, counter, [2, 3]}},
            {ok, P1} = supervisor:start_child(Sup, Spec),
            {error, {already_started, P1}} = supervisor:start_child(Sup, Spec),
            5 = gen_server:call(P1, get),
            exit(P1, kill),
            Wait = fun W(0) -> gave_up;
                       W(N) -> case supervisor:which_children(Sup) of
                                   [{w, P, worker, [distribute]}] when is_pid(P), P =/= P1 -> P;
                                   _ -> timer:sleep(20), W(N - 1)
                               end
                   end,
            P2 = Wait(500),
            {ok, #{start := {distribute, counter, [2, 3]}}} = supervisor:get_childspec(Sup, w),
            {gen_server:call(P2, get),
             supervisor:restart_child(Sup, w), supervisor:delete_child(Sup, w),
             supervisor:terminate_child(Sup, w), supervisor:start_child(Sup, Spec),
             supervisor:count_children(Sup)})ERL") ==
              "{5,{error,running},{error,running},ok,{error,already_present},"
              "[{specs,1},{active,0},{supervisors,0},{workers,1}]}");
        CHECK(t.eval("dyn_sup", R"ERL(
            {ok, P3} = supervisor:restart_child(Sup, w),
            {ok, P4} = supervisor:start_child(Sup, {t, {distribute, counter, [1]}, temporary,
                                                    1000, worker, [distribute]}),
            {error, {{'EXIT', {undef, [{distribute, nope, [], []}]}},
                     {child, undefined, n, {distribute, nope, []}, permanent, false, 5000,
                      worker, [distribute]}}} =
                supervisor:start_child(Sup, #{id => n, start => {distribute, nope, []}}),
            {error, {{bad_args, [x]}, _}} =
                supervisor:start_child(Sup, #{id => b, start => {distribute, counter, [x]}}),
            {[Id || {Id, _, _, _} <- supervisor:which_children(Sup)],
             gen_server:call(P3, get) + gen_server:call(P4, get),
             supervisor:terminate_child(Sup, t), supervisor:delete_child(Sup, t),
             supervisor:terminate_child(Sup, w), supervisor:delete_child(Sup, w),
             supervisor:restart_child(Sup, w), supervisor:which_children(Sup)})ERL") ==
              "{[t,w],6,ok,{error,not_found},ok,ok,{error,not_found},[]}");
    }

    TEST_CASE("erl: simple_one_for_one: start_child appends args, terminate_child takes a pid") {
        WithErl t("simple");
        INFO(t.log.text());
        SupervisorOptions o;
        o.name = atom("pool_sup");
        o.strategy = Strategy::simple_one_for_one;
        ChildSpec tpl;
        tpl.id = "counter";
        tpl.factory = FactoryStart{atom("counter"), {Term(100)}};
        o.children.push_back(std::move(tpl));
        t.supervisor(std::move(o));
        CHECK(t.eval("pool_sup", R"ERL(
            {ok, A} = supervisor:start_child(Sup, [1]),
            {ok, B} = supervisor:start_child(Sup, [2]),
            Sums = {gen_server:call(A, get), gen_server:call(B, get)},
            Which = lists:sort([P || {undefined, P, worker, _} <- supervisor:which_children(Sup)]),
            Which = lists:sort([A, B]),
            {Sums, supervisor:terminate_child(Sup, A), supervisor:terminate_child(Sup, A),
             supervisor:terminate_child(Sup, counter), supervisor:restart_child(Sup, counter),
             supervisor:count_children(Sup)})ERL") ==
              "{{101,102},ok,{error,not_found},{error,simple_one_for_one},"
              "{error,simple_one_for_one},[{specs,1},{active,1},{supervisors,0},{workers,1}]}");
    }

    TEST_CASE(
        "erl: sys:get_state, get_status and suspend on a C++ supervisor; an unknown "
        "system message gets sys's error and the supervisor goes on") {
        WithErl t("supsys");
        INFO(t.log.text());
        SupervisorOptions o;
        o.name = atom("sys_sup");
        o.intensity = 3;
        o.children.push_back(worker_child("c", [] { return std::make_unique<Counter>(7); }));
        t.supervisor(std::move(o));
        CHECK(t.eval("sys_sup", R"ERL(
            {state, {local, sys_sup}, one_for_one, {[c], #{c := {child, C, c, undefined,
                permanent, false, 5000, worker, []}}}, undefined, 3, 5, [], 0, never,
                distribute, []} = sys:get_state(Sup),
            {status, _, {module, gen_server}, [_, running, _, [], Misc]} = sys:get_status(Sup),
            {supervisor, [{"Callback", distribute}]} = lists:last(Misc),
            ok = sys:suspend(Sup),
            {status, _, _, [_, suspended | _]} = sys:get_status(Sup),
            Late = gen_server:send_request(Sup, count_children),
            NoAnswer = gen_server:wait_response(Late, 200),
            ok = sys:resume(Sup),
            {reply, Counts} = gen_server:wait_response(Late, 5000),
            {NoAnswer, Counts, gen_server:call(C, get), gen:call(Sup, system, bogus),
             try sys:replace_state(Sup, fun(S) -> S end) catch error:R -> R end,
             supervisor:which_children(Sup) =:= [{c, C, worker, []}]})ERL") ==
              "{timeout,[{specs,1},{active,1},{supervisors,0},{workers,1}],7,"
              "{ok,{error,{unknown_system_msg,bogus}}},"
              "{callback_failed,{gen_server,system_replace_state},"
              "{error,replace_state_not_supported}},true}");
    }

    TEST_CASE(
        "elixir: DynamicSupervisor.start_child/terminate_child/which_children/"
        "count_children on a C++ dynamic supervisor, max_children refusing the third") {
        Cluster cluster;
        LogCapture log;
        INFO(log.text());
        Node node = start_node(cluster.node_options("cpp_dynex", &log));
        DynamicSupervisorOptions o;
        o.name = atom("dyn");
        o.max_children = 2;
        o.factories = counter_factory();
        REQUIRE(start_dynamic_supervisor(node, std::move(o)).has_value());
        ElixirRun ex;
        const std::string out = ex.run_script(cluster, node, R"EX(
sup = {:dyn, cpp}
spec = %{id: :w, start: {:distribute, :counter, [1]}}
{:ok, p1} = DynamicSupervisor.start_child(sup, spec)
{:ok, p2} = DynamicSupervisor.start_child(sup, %{spec | start: {:distribute, :counter, [2]}})
full = DynamicSupervisor.start_child(sup, spec)
counts = Enum.sort(Map.to_list(DynamicSupervisor.count_children(sup)))
:ok = DynamicSupervisor.terminate_child(sup, p1)
missing = DynamicSupervisor.terminate_child(sup, p1)
[{:undefined, ^p2, :worker, [:distribute]}] = DynamicSupervisor.which_children(sup)
%DynamicSupervisor{max_children: 2} = :sys.get_state(sup)
IO.puts(inspect({full, counts, missing, GenServer.call(p2, :get)}))
)EX");
        CHECK(last_line(out) ==
              "{{:error, :max_children}, [active: 2, specs: 2, supervisors: 0, workers: 2], "
              "{:error, :not_found}, 2}");
    }
}
