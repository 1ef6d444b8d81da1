// C++ actors and supervisors against real erl and elixir nodes: gen_server:call/cast and
// GenServer.call/cast to the demo node's kv, the [alias | Ref] tag OTP 25 sends (the reply gets
// there, and a reply after the caller's timeout does not), replies given later through a kept
// From, links and monitors between actors and BEAM processes, gen_server:stop and
// supervisor:which_children from erl, typed requests from C++ to BEAM gen_servers, and Elixir's
// :sys.get_state on a C++ actor (erl's sys calls are in test_sys.cpp); the lifecycle: an erl
// parent sees init's Stop as its 'EXIT' and its own exit runs a trapping actor's terminate, a
// gen_server:call made during init is answered after init's Continue, a cast hibernates.
#include <doctest/doctest.h>

#include <future>
#include <thread>

#include "cli/demo_services.hpp"
#include "distribute/actor.hpp"
#include "distribute/messaging.hpp"
#include "distribute/supervisor.hpp"
#include "elixir_support.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

// Atoms for code that runs on the node's threads (node_support's atom() asserts, for test threads).
Atom name(const char* text) {
    return Atom::make(text).value();
}

// Answers `tag` with the tag its caller used and `self` with its pid; keeps the From of `q`
// (telling `observer` {kept, N}) until the cast `release` answers every kept call with
// `released`; `sync` answers ok; the cast {exit, R} stops it with R.
class Later : public Actor {
  public:
    explicit Later(Pid observer) : observer_(observer) {}
    CallResult handle_call(const Term& request, From from) override {
        if (request.is_atom(name("tag"))) return Reply{from.tag()};
        if (request.is_atom(name("self"))) return Reply{Term(self().pid())};
        if (request.is_atom(name("sync"))) return Reply{Term(atoms::ok)};
        if (request.is_atom(name("q"))) {
            kept_.push_back(from);
            self().send(observer_, tuple(name("kept"), static_cast<std::int64_t>(kept_.size())));
            return NoReply{};
        }
        return Reply{tuple(atoms::error, request)};
    }
    HandleResult handle_cast(const Term& message) override {
        if (message.is_atom(name("release"))) {
            for (const auto& from : kept_)
                from.reply(Term(name("released")));
            kept_.clear();
        }
        if (auto e = message.tagged<Term>(name("exit"))) return Stop{std::get<0>(*e), std::nullopt};
        return NoReply{};
    }
    void terminate(const Term& reason) override {
        self().send(observer_, tuple(name("terminated"), reason));
    }

  private:
    Pid observer_;
    std::vector<From> kept_;
};

struct Refuser : Actor {
    InitResult init() override {
        return Stop{tuple(name("no_config"), binary("db")), std::nullopt};
    }
};

// Tells erl's `tester` {terminated, Reason} from terminate: a side effect the erl side sees.
class Guard : public Actor {
  public:
    explicit Guard(Atom erl_node) : erl_node_(erl_node) {}
    void terminate(const Term& reason) override {
        self().send(name("tester"), erl_node_, tuple(name("terminated"), reason));
    }

  private:
    Atom erl_node_;
};

// init tells `waiter` {started, Pid} and gives it time to call, then continues with `warm`;
// the call `get` answers what the continue set; the cast `hibernate` hibernates.
class Warm : public Actor {
  public:
    explicit Warm(Pid waiter) : waiter_(waiter) {}
    InitResult init() override {
        self().send(waiter_, tuple(name("started"), self().pid()));
        std::this_thread::sleep_for(200ms);  // the call is (most likely) queued meanwhile
        return Ready{Continue{Term(name("warm"))}};
    }
    HandleResult handle_continue(const Term& continuation) override {
        state_ = continuation.is_atom(name("warm")) ? Term(name("warmed")) : continuation;
        return NoReply{};
    }
    CallResult handle_call(const Term& request, From) override {
        if (request.is_atom(name("get"))) return Reply{state_};
        return Reply{tuple(atoms::error, request)};
    }
    HandleResult handle_cast(const Term& message) override {
        if (message.is_atom(name("hibernate"))) return NoReply{Hibernate{}};
        return NoReply{};
    }

  private:
    Pid waiter_;
    Term state_ = Term(name("cold"));
};

// Our node, with the demo services (kv among them), and one erl node on a private EPMD.
struct WithErl {
    explicit WithErl(std::string_view name)
        : node(start_node(cluster.node_options("cpp_" + std::string(name), &log))),
          erl(cluster.erl_options("erl_" + std::string(name))) {
        REQUIRE(cli::start_demo_kv(node).has_value());
        register_tester(erl);
        inbox = named_mailbox(node, "inbox");
    }
    std::string cpp() const { return quoted(node.name()); }
    ProcessHandle later(std::string_view name, Mailbox& observer) {
        auto a = spawn_actor(node, std::make_unique<Later>(observer.pid()), {.name = atom(name)});
        REQUIRE(a.has_value());
        return *a;
    }

    Cluster cluster;
    LogCapture log;
    Node node;
    ErlNode erl;
    Mailbox inbox;
};

}  // namespace

TEST_CASE("erl: gen_server:call({kv, Cpp}, ...) answers every kv request, and casts are applied") {
    WithErl t("kv_erl");
    INFO(t.log.text());
    CHECK(t.erl.eval("Kv = {kv, " + t.cpp() + R"ERL(},
        R1 = gen_server:call(Kv, {put, a, 1}),
        R2 = gen_server:call(Kv, {get, a}),
        R3 = gen_server:call(Kv, {get, missing}),
        ok = gen_server:cast(Kv, {put, b, <<"two">>}),
        R4 = gen_server:call(Kv, keys),
        R5 = gen_server:call(Kv, {get, b}),
        R6 = gen_server:call(Kv, {delete, a}),
        R7 = gen_server:call(Kv, {get, a}),
        R8 = gen_server:call(Kv, keys),
        ok = gen_server:cast(Kv, {put, {tuple, key}, #{map => [value]}}),
        R9 = gen_server:call(Kv, {get, {tuple, key}}),
        {R1, R2, R3, R4, R5, R6, R7, R8, R9})ERL") ==
          "{ok,{ok,1},not_found,[a,b],{ok,<<\"two\">>},ok,not_found,[b],{ok,#{map => [value]}}}");
    // A call to a name nobody has on our node fails with noproc at once, not after a timeout.
    CHECK(t.erl.eval("catch gen_server:call({nosuch, " + t.cpp() + "}, x, 60000)") ==
          "{'EXIT',{noproc,{gen_server,call,[{nosuch," + std::string(t.node.name().name()) +
              "},x,60000]}}}");
}

TEST_CASE("erl: a call carries [alias | Ref] by default; the reply reaches the caller through it") {
    WithErl t("alias_tag");
    INFO(t.log.text());
    Mailbox observer = t.node.open_mailbox();
    t.later("later", observer);
    CHECK(t.erl.eval("T = gen_server:call({later, " + t.cpp() +
                     "}, tag), {hd(T), is_reference(tl(T)), node(tl(T)) =:= node()}") ==
          "{alias,true,true}");
}

TEST_CASE(
    "erl: a reply that comes after the caller's timeout is dropped, not left in its mailbox") {
    WithErl t("late_reply");
    INFO(t.log.text());
    Mailbox observer = t.node.open_mailbox();
    t.later("later", observer);
    // The first call times out; the actor answers it later (release), and then answers `sync`.
    // Replies travel in order on one connection: had the late one been delivered, it would be in
    // the mailbox by the time sync returns.
    CHECK(t.erl.eval("Later = {later, " + t.cpp() + R"ERL(},
        Timeout = (catch gen_server:call(Later, q, 300)),
        ok = gen_server:cast(Later, release),
        ok = gen_server:call(Later, sync),
        Stray = receive M -> {stray, M} after 0 -> none end,
        {element(1, element(2, Timeout)), Stray})ERL") == "{timeout,none}");
    CHECK(next_message(observer) == tuple(atom("kept"), 1));
}

TEST_CASE("erl: gen_server:call to a C++ actor that replies later through a kept From") {
    WithErl t("deferred");
    INFO(t.log.text());
    Mailbox observer = t.node.open_mailbox();
    auto later = t.later("later", observer);
    CHECK(t.erl.eval("Self = self(), spawn(fun() -> Self ! {answer, gen_server:call({later, " +
                     t.cpp() + "}, q, 30000)} end), ok") == "ok");
    CHECK(next_message(observer) == tuple(atom("kept"), 1));
    observer.send(later.pid(), tuple(atoms::gen_cast, atom("release")));
    CHECK(t.erl.eval("receive {answer, A} -> A after 15000 -> timeout end") == "released");
}

TEST_CASE("erl: an actor linked to an erl process: each side's end reaches the other") {
    WithErl t("linked");
    INFO(t.log.text());
    Mailbox observer = t.node.open_mailbox();
    // The erl process is the actor's parent: its exit ends the (trapping) actor through
    // terminate, with the same reason.
    const Pid waiter =
        erl_pid(t.erl, t.node, t.inbox, "P = " + std::string(spawn_waiter) + ", put(w, P), P");
    auto child = spawn_actor(t.node, std::make_unique<Later>(observer.pid()),
                             {.trap_exit = true, .link_to = waiter});
    REQUIRE(child.has_value());
    const Reference mon = observer.monitor(child->pid());
    CHECK(t.node.ping(atom(t.erl.node_name())));  // erl has taken the link in
    CHECK(t.erl.eval("get(w) ! {exit, goodbye}, ok") == "ok");
    CHECK(next_message(observer) == tuple(atom("terminated"), atom("goodbye")));
    CHECK(next_message(observer) ==
          tuple(atoms::DOWN, mon, atoms::process, child->pid(), atom("goodbye")));

    // The other way: an erl process links to an actor, which then stops with a reason.
    auto actor = t.later("linked_actor", observer);
    CHECK(t.erl.eval("process_flag(trap_exit, true), P = gen_server:call({linked_actor, " +
                     t.cpp() + "}, self), link(P), put(a, P), ok") == "ok");
    CHECK(t.erl.eval("gen_server:call(get(a), sync)") == "ok");  // the link is in place
    observer.send(actor.pid(), tuple(atoms::gen_cast, tuple(atom("exit"), atom("bye"))));
    CHECK(t.erl.eval("A = get(a), receive {'EXIT', A, R} -> R after 15000 -> timeout end") ==
          "bye");
}

TEST_CASE("erl: a monitor on an actor by name fires with {Name, Node}; gen_server:stop works") {
    WithErl t("monitor_name");
    INFO(t.log.text());
    Mailbox observer = t.node.open_mailbox();
    auto watched = t.later("watched", observer);
    CHECK(t.erl.eval("put(ref, monitor(process, {watched, " + t.cpp() + "})), ok") == "ok");
    CHECK(t.erl.eval("gen_server:call({watched, " + t.cpp() + "}, sync)") == "ok");
    observer.send(watched.pid(), tuple(atoms::gen_cast, tuple(atom("exit"), atom("oops"))));
    CHECK(t.erl.eval("Ref = get(ref), receive {'DOWN', Ref, process, Obj, R} -> {Obj, R} after "
                     "15000 -> timeout end") ==
          "{{watched," + std::string(t.node.name().name()) + "},oops}");
    CHECK(next_message(observer) == tuple(atom("terminated"), atom("oops")));

    // gen_server:stop goes through sys:terminate and waits for the end; terminate sees normal.
    auto stoppable = t.later("stoppable", observer);
    CHECK(t.erl.eval("gen_server:stop({stoppable, " + t.cpp() + "})") == "ok");
    CHECK(next_message(observer) == tuple(atom("terminated"), atom("normal")));
    CHECK_FALSE(stoppable.alive());
}

TEST_CASE(
    "erl: a parent process gets init's Stop as its 'EXIT' while the C++ starter gets the "
    "reason; its own exit ends a trapping actor through terminate with that reason") {
    WithErl t("lifecycle_parent");
    INFO(t.log.text());
    // The parent traps exits and forwards what it gets to the tester; {exit, R} ends it.
    const Pid parent = erl_pid(t.erl, t.node, t.inbox, R"ERL(
        T = self(),
        P = spawn(fun() ->
                process_flag(trap_exit, true),
                Loop = fun L() -> receive {exit, R} -> exit(R); M -> T ! {parent_got, M}, L() end end,
                Loop()
            end),
        put(parent, P), P)ERL");
    auto refused = spawn_actor(t.node, std::make_unique<Refuser>(), {.link_to = parent});
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == StartErrc::init_failed);
    CHECK(refused.error().reason == tuple(atom("no_config"), binary("db")));
    CHECK(t.erl.eval("receive {parent_got, {'EXIT', _, R}} -> R after 15000 -> timeout end") ==
          "{no_config,<<\"db\">>}");

    auto guard = spawn_actor(t.node, std::make_unique<Guard>(atom(t.erl.node_name())),
                             {.trap_exit = true, .link_to = parent});
    REQUIRE(guard.has_value());
    give_erl(t.erl, t.inbox, "guard", Term(guard->pid()));
    CHECK(t.erl.eval("put(mon, monitor(process, get(guard))), get(parent) ! {exit, gone_away}, "
                     "ok") == "ok");
    CHECK(t.erl.eval("M = get(mon), "
                     "T = receive {terminated, R1} -> R1 after 15000 -> no_terminate end, "
                     "D = receive {'DOWN', M, process, _, R2} -> R2 after 15000 -> no_down end, "
                     "{T, D}") == "{gone_away,gone_away}");
}

TEST_CASE(
    "erl: gen_server:call made while init runs sees what init's Continue did; a cast "
    "hibernates the actor until erl's next call") {
    WithErl t("lifecycle_continue");
    INFO(t.log.text());
    const Pid waiter = erl_pid(t.erl, t.node, t.inbox, R"ERL(
        T = self(),
        spawn(fun() -> receive {started, P} -> T ! {first_call, gen_server:call(P, get)} end end))ERL");
    auto warm = spawn_actor(t.node, std::make_unique<Warm>(waiter), {.name = atom("warm")});
    REQUIRE(warm.has_value());
    CHECK(t.erl.eval("receive {first_call, R} -> R after 15000 -> timeout end") == "warmed");

    CHECK(t.erl.eval("gen_server:cast({warm, " + t.cpp() + "}, hibernate)") == "ok");
    eventually([&] {
        auto info = actor_info(t.node, warm->pid());
        return info && info->hibernations == 1;
    });
    CHECK(actor_info(t.node, warm->pid())->hibernating);
    CHECK(t.erl.eval("gen_server:call({warm, " + t.cpp() + "}, get)") == "warmed");
    auto awake = actor_info(t.node, warm->pid());
    REQUIRE(awake.has_value());
    CHECK_FALSE(awake->hibernating);
    CHECK(awake->hibernations == 1);
}

TEST_CASE("erl: supervisor:which_children and count_children on a C++ supervisor") {
    WithErl t("sup");
    INFO(t.log.text());
    Mailbox observer = t.node.open_mailbox();
    SupervisorOptions o;
    o.name = atom("cpp_sup");
    o.children.push_back(
        worker_child("worker", [pid = observer.pid()] { return std::make_unique<Later>(pid); },
                     {.name = atom("sup_worker")}));
    auto sup = start_supervisor(t.node, std::move(o));
    REQUIRE(sup.has_value());
    const Pid worker = t.node.whereis(atom("sup_worker")).value();
    const std::string children = t.erl.eval(
        "[{Id, Pid =:= gen_server:call({sup_worker, " + t.cpp() +
        "}, self), Type, Mods} || {Id, Pid, Type, Mods} <- supervisor:which_children({cpp_sup, " +
        t.cpp() + "})]");
    CHECK(children == "[{worker,true,worker,[]}]");
    CHECK(t.erl.eval("supervisor:count_children({cpp_sup, " + t.cpp() + "})") ==
          "[{specs,1},{active,1},{supervisors,0},{workers,1}]");
    // An erl process kills the worker; the supervisor restarts it under the same name.
    give_erl(t.erl, t.inbox, "worker", Term(worker));
    CHECK(t.erl.eval("exit(get(worker), kill), ok") == "ok");
    eventually([&] {
        auto now = t.node.whereis(atom("sup_worker"));
        return now && !(*now == worker);
    });
    CHECK(t.erl.eval("gen_server:stop({cpp_sup, " + t.cpp() + "}, shutdown, 10000)") == "ok");
    CHECK_FALSE(t.node.whereis(atom("sup_worker")).has_value());
}

TEST_CASE("C++ requests to BEAM gen_servers: erl's net_kernel, and a missing name") {
    WithErl t("request_erl");
    INFO(t.log.text());
    Mailbox me = t.node.open_mailbox();
    const Atom peer = atom(t.erl.node_name());
    auto yes = request<Atom>(me, ServerRef(atom("net_kernel"), peer),
                             tuple(atom("is_auth"), t.node.name()), std::chrono::seconds(15));
    REQUIRE(yes.has_value());
    CHECK(*yes == atom("yes"));
    auto missing =
        request_term(me, ServerRef(atom("nosuch"), peer), Term(1), std::chrono::seconds(15));
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().code == CallErrc::noproc);
}

TEST_CASE(
    "elixir: GenServer.call({:kv, cpp}, ...) for every request, casts, the alias tag; an "
    "actor's continue and hibernate") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_kv_ex", &log));
    REQUIRE(cli::start_demo_kv(node).has_value());
    Mailbox observer = node.open_mailbox();
    auto later =
        spawn_actor(node, std::make_unique<Later>(observer.pid()), {.name = atom("later")});
    REQUIRE(later.has_value());
    auto warm = spawn_actor(node, std::make_unique<Warm>(observer.pid()), {.name = atom("warm")});
    REQUIRE(warm.has_value());
    ElixirRun ex;
    const std::string out = ex.run_script(cluster, node, R"EX(
kv = {:kv, cpp}
r = {
  GenServer.call(kv, {:put, "k", 1}),
  GenServer.call(kv, {:get, "k"}),
  GenServer.call(kv, {:get, :nope}),
  GenServer.cast(kv, {:put, :c, [1, 2]}),
  GenServer.call(kv, :keys),
  GenServer.call(kv, {:get, :c}),
  GenServer.call(kv, {:delete, "k"}),
  GenServer.call(kv, :keys)
}
[:alias | ref] = GenServer.call({:later, cpp}, :tag)
missing = try do
  GenServer.call({:nosuch, cpp}, :x, 60_000)
catch
  :exit, {reason, _} -> reason
end
late = try do
  GenServer.call({:later, cpp}, :q, 300)
catch
  :exit, {reason, _} -> reason
end
GenServer.cast({:later, cpp}, :release)
:ok = GenServer.call({:later, cpp}, :sync)
stray = receive do
  m -> {:stray, m}
after
  0 -> :none
end
warmed = GenServer.call({:warm, cpp}, :get)
GenServer.cast({:warm, cpp}, :hibernate)
:warmed = GenServer.call({:warm, cpp}, :get)
IO.puts(inspect({r, is_reference(ref), missing, late, stray, warmed}))
)EX");
    CHECK(last_line(out) ==
          "{{:ok, {:ok, 1}, :not_found, :ok, [:c, \"k\"], {:ok, [1, 2]}, :ok, [:c]}, true, "
          ":noproc, :timeout, :none, :warmed}");
    // The cast was handled before the call after it: the actor hibernated, and woke for the call.
    auto info = actor_info(node, warm->pid());
    REQUIRE(info.has_value());
    CHECK(info->hibernations == 1);
    CHECK_FALSE(info->hibernating);
}

TEST_CASE("elixir: :sys.get_state and :sys.get_status on the C++ kv, as on a GenServer") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_sys_ex", &log));
    REQUIRE(cli::start_demo_kv(node).has_value());
    ElixirRun ex;
    const std::string out = ex.run_script(cluster, node, R"EX(
kv = {:kv, cpp}
:ok = GenServer.call(kv, {:put, "k", [1]})
{:status, _, {:module, :gen_server}, [_, :running | _]} = :sys.get_status(kv)
:ok = :sys.suspend(kv)
suspended = :sys.get_state(kv)
:ok = :sys.resume(kv)
IO.puts(inspect({:sys.get_state(kv), suspended}))
)EX");
    CHECK(last_line(out) == "{%{\"k\" => [1]}, %{\"k\" => [1]}}");
}

TEST_CASE("elixir: a C++ request reaches an Elixir GenServer and gets its typed reply") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_req_ex", &log));
    Mailbox inbox = named_mailbox(node, "inbox");
    ElixirRun ex;
    // The script starts a GenServer that doubles numbers, says so, and waits until told `done`.
    auto script = std::async(std::launch::async, [&] {
        return ex.run_script(cluster, node, R"EX(
defmodule Doubler do
  use GenServer
  def init(x), do: {:ok, x}
  def handle_call({:double, n}, _from, s), do: {:reply, 2 * n, s}
end
{:ok, _} = GenServer.start_link(Doubler, nil, name: :doubler)
send({:inbox, cpp}, {:ready, self()})
receive do
  :done -> IO.puts("done")
after
  60_000 -> IO.puts("no done")
end
)EX");
    });
    auto ready = inbox.receive(std::chrono::seconds(60));
    REQUIRE(ready.has_value());
    REQUIRE(ready->is_tuple(2));
    const Pid script_pid = (*ready)[1].to<Pid>().value();
    auto twice = request<std::int64_t>(inbox, ServerRef(atom("doubler"), script_pid.node),
                                       tuple(atom("double"), 21), std::chrono::seconds(15));
    inbox.send(script_pid, Term(atom("done")));
    REQUIRE(twice.has_value());
    CHECK(*twice == 42);
    CHECK(last_line(script.get()) == "done");
}
