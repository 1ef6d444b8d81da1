// The lifecycle of an actor as gen_server has it: Continue after init and after each callback
// (handle_continue runs before any other message), Hibernate (the bookkeeping's memory given
// back), init's Stop and Ignore as the linked parent sees them, the start timeout, and the
// '$ancestors' and '$initial_call' entries that tools read.
#include <doctest/doctest.h>

#include <thread>

#include "distribute/actor.hpp"
#include "distribute/messaging.hpp"
#include "distribute/supervisor.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

Expected<Term, CallError> call(Mailbox& me, const Pid& server, Term request) {
    return request_term(me, ServerRef(server), std::move(request), 10s);
}

// Keeps, in order, what each callback saw: `seen` answers the list. init continues with
// `loaded`; the cast/info/call `chain` continues with {step, 1}, which continues with
// {step, 2}; {step, 2} ends the chain. The call `stop_in_continue` continues with a Stop.
class Recorder : public Actor {
  public:
    explicit Recorder(Pid observer) : observer_(observer) {}
    InitResult init() override { return Ready{Continue{Term("loaded"_a)}}; }
    CallResult handle_call(const Term& request, From) override {
        if (request.is_atom("seen"_a)) return Reply{list_from(seen_)};
        seen_.push_back(tuple("call"_a, request));
        if (request.is_atom("chain"_a)) return Reply{Term(atoms::ok), Continue{tuple("step"_a, 1)}};
        if (request.is_atom("stop_in_continue"_a))
            return Reply{Term(atoms::ok), Continue{Term("stop"_a)}};
        if (request.is_atom("unhandled"_a))
            return Reply{Term(atoms::ok), Continue{Term("unknown"_a)}};
        return Reply{Term(atoms::ok)};
    }
    HandleResult handle_cast(const Term& message) override {
        seen_.push_back(tuple("cast"_a, message));
        if (message.is_atom("chain"_a)) return NoReply{Continue{tuple("step"_a, 1)}};
        return NoReply{};
    }
    HandleResult handle_info(const Term& message) override {
        seen_.push_back(tuple("info"_a, message));
        if (message.is_atom("chain"_a)) return NoReply{Continue{tuple("step"_a, 1)}};
        return NoReply{};
    }
    HandleResult handle_continue(const Term& continuation) override {
        if (continuation.is_atom("unknown"_a)) return Actor::handle_continue(continuation);
        seen_.push_back(tuple("continue"_a, continuation));
        if (continuation.is_atom("stop"_a)) return Stop{Term("from_continue"_a), std::nullopt};
        if (continuation == tuple("step"_a, 1)) return NoReply{Continue{tuple("step"_a, 2)}};
        return NoReply{};
    }
    void terminate(const Term& reason) override {
        self().send(observer_, tuple("terminated"_a, reason));
    }

  private:
    Pid observer_;
    std::vector<Term> seen_;
};

// Makes `calls` call_async requests to `target` (a pid that is gone, so each is answered noproc
// at once), and hibernates after the last answer; tells `observer` {answered, N} then.
class Burst : public Actor {
  public:
    Burst(Pid target, int calls, Pid observer)
        : target_(target), calls_(calls), observer_(observer) {}
    HandleResult handle_cast(const Term& message) override {
        if (!message.is_atom("go"_a)) return NoReply{};
        for (int i = 0; i < calls_; ++i)
            call_async(ServerRef(target_), Term("hello"_a), infinity_timeout,
                       [this](Expected<Term, CallError>) -> HandleResult {
                           if (++answered_ < calls_) return NoReply{};
                           self().send(observer_, tuple("answered"_a, answered_));
                           return NoReply{Hibernate{}};
                       });
        return NoReply{};
    }
    CallResult handle_call(const Term&, From) override { return Reply{Term(atoms::ok)}; }

  private:
    Pid target_;
    int calls_;
    Pid observer_;
    int answered_ = 0;
};

Term dictionary_entry(const ActorInfo& info, const char* key) {
    for (const Term& entry : info.dictionary.elements())
        if (entry[0].is_atom(Atom::make(key).value())) return entry[1];
    FAIL("no ", key, " in ", to_string(info.dictionary));
    return Term();
}

}  // namespace

TEST_SUITE("actor lifecycle") {
    TEST_CASE("init's Continue runs before any message sent once the start has returned") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto a = spawn_actor(t.node, std::make_unique<Recorder>(me.pid()));
        REQUIRE(a.has_value());
        me.send(a->pid(), Term("first"_a));
        auto seen = call(me, a->pid(), Term("seen"_a));
        REQUIRE(seen.has_value());
        CHECK(*seen == list(tuple("continue"_a, "loaded"_a), tuple("info"_a, "first"_a)));
    }

    TEST_CASE(
        "a Continue after handle_call, handle_cast, handle_info and handle_continue runs "
        "before the next message") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto a = spawn_actor(t.node, std::make_unique<Recorder>(me.pid()));
        REQUIRE(a.has_value());
        const Pid pid = a->pid();
        // Sent together, so that each is queued before the previous one's continue runs.
        me.send(pid, tuple(atoms::gen_cast, "chain"_a));
        me.send(pid, Term("chain"_a));
        me.send(pid, Term("after"_a));
        auto chained = call(me, pid, Term("chain"_a));
        REQUIRE(chained.has_value());
        CHECK(*chained == Term(atoms::ok));
        me.send(pid, Term("last"_a));
        auto seen = call(me, pid, Term("seen"_a));
        REQUIRE(seen.has_value());
        const Term step1 = tuple("continue"_a, tuple("step"_a, 1));
        const Term step2 = tuple("continue"_a, tuple("step"_a, 2));
        CHECK(*seen == list(tuple("continue"_a, "loaded"_a), tuple("cast"_a, "chain"_a), step1,
                            step2, tuple("info"_a, "chain"_a), step1, step2,
                            tuple("info"_a, "after"_a), tuple("call"_a, "chain"_a), step1, step2,
                            tuple("info"_a, "last"_a)));
    }

    TEST_CASE(
        "Stop from handle_continue runs terminate; an unhandled Continue stops with "
        "{bad_continue, T}") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto a = spawn_actor(t.node, std::make_unique<Recorder>(me.pid()));
        auto b = spawn_actor(t.node, std::make_unique<Recorder>(me.pid()));
        REQUIRE(a.has_value());
        REQUIRE(b.has_value());
        const Reference ma = me.monitor(a->pid());
        const Reference mb = me.monitor(b->pid());
        CHECK(call(me, a->pid(), Term("stop_in_continue"_a)).value() == Term(atoms::ok));
        CHECK(next_tagged(me, "terminated"_a) == tuple("terminated"_a, "from_continue"_a));
        CHECK(down_reason(me, ma) == Term("from_continue"_a));
        CHECK(call(me, b->pid(), Term("unhandled"_a)).value() == Term(atoms::ok));
        const Term bad = tuple("bad_continue"_a, "unknown"_a);
        CHECK(next_tagged(me, "terminated"_a) == tuple("terminated"_a, bad));
        CHECK(down_reason(me, mb) == bad);
    }

    TEST_CASE(
        "Hibernate gives back the call table's buckets; the actor shows it hibernating "
        "until its next message") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        Mailbox gone = t.node.open_mailbox();
        const Pid target = gone.pid();
        gone.close();
        constexpr int calls = 5000;
        auto a = spawn_actor(t.node, std::make_unique<Burst>(target, calls, me.pid()));
        REQUIRE(a.has_value());
        auto before = actor_info(t.node, a->pid());
        REQUIRE(before.has_value());
        CHECK_FALSE(before->hibernating);
        CHECK(before->hibernations == 0);
        me.send(a->pid(), tuple(atoms::gen_cast, "go"_a));
        CHECK(next_message(me) == tuple("answered"_a, calls));
        eventually([&] { return actor_info(t.node, a->pid())->hibernations == 1; });
        auto slept = actor_info(t.node, a->pid());
        CHECK(slept->hibernating);
        // 5,000 calls in flight at once took at least one bucket pointer each.
        CHECK(slept->bytes_returned >= (calls - 1) * sizeof(void*));
        MESSAGE("bytes returned by hibernating after " << calls
                                                       << " calls: " << slept->bytes_returned);
        CHECK(call(me, a->pid(), Term("wake"_a)).value() == Term(atoms::ok));
        auto awake = actor_info(t.node, a->pid());
        CHECK_FALSE(awake->hibernating);
        CHECK(awake->hibernations == 1);
    }

    TEST_CASE(
        "init's Stop: the starter gets the reason and a trapping parent the 'EXIT'; "
        "Ignore's 'EXIT' is normal") {
        LocalNode t;
        Mailbox parent = t.node.open_mailbox();
        parent.trap_exit(true);
        struct Refuses : Actor {
            InitResult init() override { return Stop{tuple("no_config"_a, 7), std::nullopt}; }
        };
        struct Ignores : Actor {
            InitResult init() override { return Ignore{}; }
        };
        auto a = spawn_actor(t.node, std::make_unique<Refuses>(), {.link_to = parent.pid()});
        REQUIRE_FALSE(a.has_value());
        CHECK(a.error().code == StartErrc::init_failed);
        CHECK(a.error().reason == tuple("no_config"_a, 7));
        Term exit = next_message(parent);
        REQUIRE(exit.is_tuple(3));
        CHECK(exit[0] == Term(atoms::EXIT));
        CHECK(exit[2] == tuple("no_config"_a, 7));
        auto b = spawn_actor(t.node, std::make_unique<Ignores>(), {.link_to = parent.pid()});
        REQUIRE_FALSE(b.has_value());
        CHECK(b.error().code == StartErrc::ignored);
        exit = next_message(parent);
        REQUIRE(exit.is_tuple(3));
        CHECK(exit[2] == Term(atoms::normal));
    }

    TEST_CASE(
        "an init past start_timeout is killed without harming its parent, its name is "
        "free, and the start fails with timeout") {
        LocalNode t;
        Mailbox parent = t.node.open_mailbox();
        Mailbox me = t.node.open_mailbox();
        struct Slow : Actor {
            explicit Slow(Pid observer) : observer_(observer) {}
            InitResult init() override {
                self().send(observer_, Term(self().pid()));
                std::this_thread::sleep_for(100ms);
                return Ready{};
            }
            Pid observer_;
        };
        auto a = spawn_actor(t.node, std::make_unique<Slow>(me.pid()),
                             {.name = "slow"_a, .link_to = parent.pid(), .start_timeout = 20ms});
        REQUIRE_FALSE(a.has_value());
        CHECK(a.error().code == StartErrc::timeout);
        CHECK(a.error().reason == Term(atoms::timeout));
        const Pid killed = next_message(me).to<Pid>().value();
        CHECK_FALSE(t.node.whereis("slow"_a).has_value());
        CHECK_FALSE(actor_info(t.node, killed).has_value());
        CHECK(parent.alive());
        // Within its limit the same start succeeds.
        auto b = spawn_actor(t.node, std::make_unique<Slow>(me.pid()),
                             {.name = "slow"_a, .link_to = parent.pid(), .start_timeout = 60s});
        CHECK(b.has_value());
    }

    TEST_CASE(
        "'$initial_call' names the actor's class and '$ancestors' the supervisors above "
        "it, by name") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        SupervisorOptions inner;
        inner.name = "inner_sup"_a;
        inner.children.push_back(
            worker_child("w", [&me] { return probe(me, "w"); }, {.trap_exit = true}));
        SupervisorOptions top;
        top.name = "top_sup"_a;
        top.children.push_back(supervisor_child("inner", std::move(inner)));
        auto sup = start_supervisor(t.node, std::move(top));
        REQUIRE(sup.has_value());
        const Pid worker = started_pid(me, "w");
        auto info = actor_info(t.node, worker);
        REQUIRE(info.has_value());
        CHECK(dictionary_entry(*info, "$ancestors") == list("inner_sup"_a, "top_sup"_a));
        CHECK(dictionary_entry(*info, "$initial_call") ==
              tuple(Atom::make("distribute::testing::Probe").value(), "init"_a, 1));
        auto top_info = actor_info(t.node, sup->pid());
        REQUIRE(top_info.has_value());
        CHECK(dictionary_entry(*top_info, "$ancestors") == Term());
        CHECK(dictionary_entry(*top_info, "$initial_call") ==
              tuple("supervisor"_a, "top_sup"_a, 1));
        // An unnamed parent is its pid; a plain process is no actor.
        auto child = spawn_actor(t.node, probe(me, "c"), {.link_to = worker});
        REQUIRE(child.has_value());
        CHECK(dictionary_entry(*actor_info(t.node, child->pid()), "$ancestors") ==
              list(worker, "inner_sup"_a, "top_sup"_a));
        CHECK_FALSE(actor_info(t.node, me.pid()).has_value());
    }
}
