// The lifecycle of C++ actors against a real erl node: an erl parent process sees init's Stop as
// its 'EXIT' while the C++ starter gets the reason, and the parent's own exit runs a trapping
// actor's terminate with that reason; gen_server:call made while init runs is answered after
// init's Continue; a cast makes the actor hibernate, seen from C++, until erl's next call.
#include <doctest/doctest.h>

#include <thread>

#include "distribute/actor.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::interop;
using namespace std::chrono_literals;

namespace {

// Atoms for code that runs on the node's threads (node_support's atom() asserts, for test threads).
Atom name(const char* text) {
    return Atom::make(text).value();
}

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

struct WithErl {
    explicit WithErl(std::string_view name)
        : node(start_node(cluster.node_options("cpp_" + std::string(name), &log))),
          erl(cluster.erl_options("erl_" + std::string(name))) {
        register_tester(erl);
        inbox = named_mailbox(node, "inbox");
    }
    std::string cpp() const { return quoted(node.name()); }

    Cluster cluster;
    LogCapture log;
    Node node;
    ErlNode erl;
    Mailbox inbox;
};

}  // namespace

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
