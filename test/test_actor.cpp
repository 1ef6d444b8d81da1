// Actors with gen_server semantics on one C++ node: the callbacks and their results, replies now
// and later through a kept From (to a pid, or to an alias that stops working once the caller
// gives up), init that fails, ignores or throws, names, exceptions, the parent's exit, the sys
// terminate that gen_server:stop uses, and timers.
#include <doctest/doctest.h>

#include <future>
#include <thread>

#include "distribute/actor.hpp"
#include "distribute/messaging.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

// A call from `me` to `server`, as gen_server:call does it (alias tag, monitor).
Expected<Term, CallError> call(Mailbox& me, const Pid& server, Term request,
                               std::chrono::milliseconds timeout = 10s) {
    return request_term(me, ServerRef(server), std::move(request), timeout);
}

// A counter: call `get` gives the count, cast `add` adds 1, info {add, N} adds N.
class Counter : public Actor {
  public:
    explicit Counter(Pid observer) : observer_(observer) {}
    CallResult handle_call(const Term& request, From) override {
        if (request.is_atom("get"_a)) return Reply{Term(count_)};
        if (auto s = request.tagged<Term>("stop"_a))
            return Stop{std::get<0>(*s), Term("stopping"_a)};
        return Reply{Term("unknown"_a)};
    }
    HandleResult handle_cast(const Term& message) override {
        if (message.is_atom("add"_a)) ++count_;
        if (message.is_atom("crash"_a)) throw std::runtime_error("boom");
        return NoReply{};
    }
    HandleResult handle_info(const Term& message) override {
        if (auto add = message.tagged<std::int64_t>("add"_a))
            count_ += std::get<0>(*add);
        else
            self().send(observer_, tuple("info"_a, message));
        return NoReply{};
    }
    void terminate(const Term& reason) override {
        self().send(observer_, tuple("terminated"_a, reason, count_));
    }

  private:
    Pid observer_;
    std::int64_t count_ = 0;
};

// Keeps each call's From for a later answer, and tells `observer` {deferred, Request} once it
// has (so the test reads `pending` only after the actor wrote it).
class Deferred : public Actor {
  public:
    Deferred(std::shared_ptr<std::vector<From>> pending, Pid observer)
        : pending_(std::move(pending)), observer_(observer) {}
    CallResult handle_call(const Term& request, From from) override {
        pending_->push_back(from);
        self().send(observer_, tuple("deferred"_a, request));
        return NoReply{};
    }

  private:
    std::shared_ptr<std::vector<From>> pending_;
    Pid observer_;
};

}  // namespace

TEST_SUITE("actor") {
    TEST_CASE("handle_call replies, handle_cast and handle_info change the state, in order") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto counter = spawn_actor(t.node, std::make_unique<Counter>(me.pid()));
        REQUIRE(counter.has_value());
        const Pid pid = counter->pid();
        me.send(pid, tuple(atoms::gen_cast, "add"_a));
        me.send(pid, tuple(atoms::gen_cast, "add"_a));
        me.send(pid, tuple("add"_a, 40));
        auto got = call(me, pid, Term("get"_a));
        REQUIRE(got.has_value());
        CHECK(*got == Term(42));
        me.send(pid, tuple("hello"_a, 1));
        CHECK(next_message(me) == tuple("info"_a, tuple("hello"_a, 1)));
    }

    TEST_CASE("a reply to a plain reference tag goes to the caller's pid as {Tag, Reply}") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto counter = spawn_actor(t.node, std::make_unique<Counter>(me.pid()));
        REQUIRE(counter.has_value());
        const Reference tag = me.make_ref();
        me.send(counter->pid(), tuple(atoms::gen_call, tuple(me.pid(), tag), "get"_a));
        CHECK(next_message(me) == tuple(tag, 0));
    }

    TEST_CASE("a reply to an [alias | Ref] tag goes to the alias, and is dropped once unaliased") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto pending = std::make_shared<std::vector<From>>();
        Mailbox observer = t.node.open_mailbox();
        auto server = spawn_actor(t.node, std::make_unique<Deferred>(pending, observer.pid()));
        REQUIRE(server.has_value());
        const Reference alias = me.alias();
        const Term alias_atom(atoms::alias);
        const Term tag = list_from(std::span<const Term>(&alias_atom, 1), Term(alias));
        me.send(server->pid(), tuple(atoms::gen_call, tuple(me.pid(), tag), "first"_a));
        me.send(server->pid(), tuple(atoms::gen_call, tuple(me.pid(), tag), "second"_a));
        CHECK(next_message(observer) == tuple("deferred"_a, "first"_a));
        CHECK(next_message(observer) == tuple("deferred"_a, "second"_a));
        From first = (*pending)[0];
        From second = (*pending)[1];
        REQUIRE(first.alias().has_value());
        CHECK(*first.alias() == alias);
        first.reply(Term(1));
        CHECK(next_message(me) == tuple(tag, 1));
        // The caller gave up: a late reply must not reach its mailbox.
        REQUIRE(me.unalias(alias));
        second.reply(Term(2));
        me.send(me.pid(), Term("flush"_a));
        CHECK(next_message(me) == Term("flush"_a));
    }

    TEST_CASE("a From kept by the actor is answered later from another thread") {
        LocalNode t;
        auto pending = std::make_shared<std::vector<From>>();
        Mailbox observer = t.node.open_mailbox();
        auto server = spawn_actor(t.node, std::make_unique<Deferred>(pending, observer.pid()));
        REQUIRE(server.has_value());
        auto answer = std::async(std::launch::async, [&] {
            Mailbox caller = t.node.open_mailbox();
            return call(caller, server->pid(), Term("question"_a), 10s);
        });
        CHECK(next_message(observer) == tuple("deferred"_a, "question"_a));
        std::thread([from = (*pending)[0]] { from.reply(Term(42)); }).join();
        auto got = answer.get();
        REQUIRE(got.has_value());
        CHECK(*got == Term(42));
    }

    TEST_CASE("Stop from handle_call runs terminate, then replies, then ends with the reason") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto counter = spawn_actor(t.node, std::make_unique<Counter>(me.pid()));
        REQUIRE(counter.has_value());
        const Reference mon = me.monitor(counter->pid());
        auto got = call(me, counter->pid(), tuple("stop"_a, "done"_a));
        REQUIRE(got.has_value());
        CHECK(*got == Term("stopping"_a));
        CHECK(next_tagged(me, "terminated"_a) == tuple("terminated"_a, "done"_a, 0));
        CHECK(down_reason(me, mon) == Term("done"_a));
    }

    TEST_CASE("an exception in a callback runs terminate and ends the actor with cpp_exception") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto counter = spawn_actor(t.node, std::make_unique<Counter>(me.pid()));
        REQUIRE(counter.has_value());
        const Reference mon = me.monitor(counter->pid());
        me.send(counter->pid(), tuple(atoms::gen_cast, "crash"_a));
        const Term reason = tuple("cpp_exception"_a, binary("boom"));
        CHECK(next_tagged(me, "terminated"_a) == tuple("terminated"_a, reason, 0));
        CHECK(down_reason(me, mon) == reason);
    }

    TEST_CASE("a caller waiting on an actor that crashes gets its exit reason, not a timeout") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto pending = std::make_shared<std::vector<From>>();
        auto server = spawn_actor(t.node, std::make_unique<Deferred>(pending, me.pid()));
        REQUIRE(server.has_value());
        auto answer = std::async(std::launch::async, [&] {
            Mailbox caller = t.node.open_mailbox();
            return call(caller, server->pid(), Term("q"_a), 30s);
        });
        CHECK(next_message(me) == tuple("deferred"_a, "q"_a));
        me.exit(server->pid(), Term("gone"_a));
        auto got = answer.get();
        REQUIRE_FALSE(got.has_value());
        CHECK(got.error().code == CallErrc::exited);
        CHECK(got.error().reason == Term("gone"_a));
    }

    TEST_CASE(
        "the defaults: an unexpected call stops with {bad_call, R}, a cast with {bad_cast, M}") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        struct Bare : Actor {};
        auto a = spawn_actor(t.node, std::make_unique<Bare>());
        auto b = spawn_actor(t.node, std::make_unique<Bare>());
        REQUIRE(a.has_value());
        REQUIRE(b.has_value());
        const Reference ma = me.monitor(a->pid());
        const Reference mb = me.monitor(b->pid());
        auto got = call(me, a->pid(), Term("what"_a));
        REQUIRE_FALSE(got.has_value());
        CHECK(got.error().reason == tuple("bad_call"_a, "what"_a));
        CHECK(down_reason(me, ma) == tuple("bad_call"_a, "what"_a));
        me.send(b->pid(), tuple(atoms::gen_cast, "x"_a));
        CHECK(down_reason(me, mb) == tuple("bad_cast"_a, "x"_a));
    }

    TEST_CASE("init: Stop fails the start with its reason and frees the name; a throw likewise") {
        LocalNode t;
        struct Refuses : Actor {
            InitResult init() override { return Stop{tuple("no"_a, 1), std::nullopt}; }
        };
        struct Throws : Actor {
            InitResult init() override { throw std::runtime_error("bad config"); }
        };
        auto a = spawn_actor(t.node, std::make_unique<Refuses>(), {.name = "refuser"_a});
        REQUIRE_FALSE(a.has_value());
        CHECK(a.error().code == StartErrc::init_failed);
        CHECK(a.error().reason == tuple("no"_a, 1));
        CHECK_FALSE(t.node.whereis("refuser"_a).has_value());
        auto b = spawn_actor(t.node, std::make_unique<Throws>(), {.name = "refuser"_a});
        REQUIRE_FALSE(b.has_value());
        CHECK(b.error().code == StartErrc::init_failed);
        CHECK(b.error().reason == tuple("cpp_exception"_a, binary("bad config")));
        CHECK_FALSE(t.node.whereis("refuser"_a).has_value());
    }

    TEST_CASE("init: Ignore reports ignored, and the parent is not harmed") {
        LocalNode t;
        Mailbox parent = t.node.open_mailbox();
        struct Ignores : Actor {
            InitResult init() override { return Ignore{}; }
        };
        auto a = spawn_actor(t.node, std::make_unique<Ignores>(), {.link_to = parent.pid()});
        REQUIRE_FALSE(a.has_value());
        CHECK(a.error().code == StartErrc::ignored);
        CHECK(parent.alive());
    }

    TEST_CASE("a name taken already fails with {already_started, Pid}") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto first = spawn_actor(t.node, std::make_unique<Counter>(me.pid()), {.name = "c"_a});
        REQUIRE(first.has_value());
        CHECK(t.node.whereis("c"_a) == first->pid());
        auto second = spawn_actor(t.node, std::make_unique<Counter>(me.pid()), {.name = "c"_a});
        REQUIRE_FALSE(second.has_value());
        CHECK(second.error().code == StartErrc::name_taken);
        CHECK(second.error().reason == tuple("already_started"_a, first->pid()));
        CHECK(t.node.whereis("c"_a) == first->pid());
    }

    TEST_CASE("messages that arrive while init runs are handled after it, in order") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        struct Slow : Actor {
            Slow(std::promise<Pid>* self_pid, std::shared_future<void> go, Pid observer)
                : self_pid_(self_pid), go_(std::move(go)), observer_(observer) {}
            InitResult init() override {
                self_pid_->set_value(self().pid());
                go_.wait();
                initialised_ = true;
                return Ready{};
            }
            HandleResult handle_info(const Term& m) override {
                self().send(observer_, tuple(m, initialised_));
                return NoReply{};
            }
            std::promise<Pid>* self_pid_;
            std::shared_future<void> go_;
            Pid observer_;
            bool initialised_ = false;
        };
        std::promise<Pid> pid_promise;
        std::promise<void> go;
        auto started = std::async(std::launch::async, [&] {
            return spawn_actor(
                t.node, std::make_unique<Slow>(&pid_promise, go.get_future().share(), me.pid()));
        });
        const Pid pid = pid_promise.get_future().get();
        me.send(pid, Term(1));
        me.send(pid, Term(2));
        go.set_value();
        REQUIRE(started.get().has_value());
        CHECK(next_message(me) == tuple(1, true));
        CHECK(next_message(me) == tuple(2, true));
    }

    TEST_CASE("a trapping actor ends with its parent's exit reason; other EXITs are info") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        Mailbox parent = t.node.open_mailbox();
        Mailbox other = t.node.open_mailbox();
        auto counter = spawn_actor(t.node, std::make_unique<Counter>(me.pid()),
                                   {.trap_exit = true, .link_to = parent.pid()});
        REQUIRE(counter.has_value());
        const Reference mon = me.monitor(counter->pid());
        other.link(counter->pid());
        const Pid other_pid = other.pid();
        other.close(Term("bye"_a));
        CHECK(next_tagged(me, "info"_a) == tuple("info"_a, tuple(atoms::EXIT, other_pid, "bye"_a)));
        parent.close(Term("parent_gone"_a));
        CHECK(next_tagged(me, "terminated"_a) == tuple("terminated"_a, "parent_gone"_a, 0));
        CHECK(down_reason(me, mon) == Term("parent_gone"_a));
    }

    TEST_CASE("an untrapped exit signal kills the actor without terminate, as gen_server") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto counter = spawn_actor(t.node, std::make_unique<Counter>(me.pid()));
        REQUIRE(counter.has_value());
        const Reference mon = me.monitor(counter->pid());
        me.exit(counter->pid(), Term("shot"_a));
        CHECK(down_reason(me, mon) == Term("shot"_a));
        CHECK(none_queued(me, [](const Term& m) { return m.is_tuple(3); }));
    }

    TEST_CASE("stop_process stops an actor through sys, terminate seeing the reason") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto counter = spawn_actor(t.node, std::make_unique<Counter>(me.pid()));
        REQUIRE(counter.has_value());
        auto stopped = stop_process(t.node, counter->pid(), Term("enough"_a), 10s);
        CHECK(stopped.has_value());
        CHECK(next_tagged(me, "terminated"_a) == tuple("terminated"_a, "enough"_a, 0));
        Mailbox dead = t.node.open_mailbox();
        const Pid gone = dead.pid();
        dead.close();
        auto missing = stop_process(t.node, gone, Term(atoms::normal), 10s);
        REQUIRE_FALSE(missing.has_value());
        CHECK(missing.error().code == CallErrc::noproc);
        CHECK(missing.error().reason == Term(atoms::noproc));
    }

    TEST_CASE(
        "stop_process gives timeout when the process does not answer sys, exited when it "
        "ends with another reason") {
        LocalNode t;
        Mailbox silent = t.node.open_mailbox();
        auto waited = stop_process(t.node, silent.pid(), Term("enough"_a), 200ms);
        REQUIRE_FALSE(waited.has_value());
        CHECK(waited.error().code == CallErrc::timeout);
        CHECK(waited.error().reason == Term(atoms::timeout));

        Mailbox other = t.node.open_mailbox();
        auto stopping = std::async(std::launch::async, [&] {
            return stop_process(t.node, other.pid(), Term("enough"_a), 10s);
        });
        // The terminate request arrives as gen's system call; the process ends another way.
        auto asked = other.receive(10s);
        REQUIRE(asked.has_value());
        CHECK(asked->is_tuple(3));
        other.close(Term("crashed"_a));
        auto stopped = stopping.get();
        REQUIRE_FALSE(stopped.has_value());
        CHECK(stopped.error().code == CallErrc::exited);
        CHECK(stopped.error().reason == Term("crashed"_a));
    }

    TEST_CASE("send_after delivers to the process; a cancelled timer sends nothing") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        Timer cancelled = send_after(me, 50ms, Term("never"_a));
        CHECK(cancelled.cancel());
        CHECK_FALSE(cancelled.cancel());
        Timer fired = send_after(me, 60ms, Term("tick"_a));
        CHECK(next_message(me) == Term("tick"_a));
        CHECK_FALSE(fired.cancel());
        CHECK(none_queued(me, [](const Term& m) { return m.is_atom("never"_a); }));
    }
}
