// Dynamic children of a supervisor with ids, on one C++ node, against supervisor.erl's replies:
// start_child (C++ specs and Erlang specs naming a registered factory), terminate_child,
// restart_child, delete_child, get_childspec, with every error those calls give.
#include <doctest/doctest.h>

#include "distribute/messaging.hpp"
#include "distribute/supervisor.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

ChildSpec probe_child(const Mailbox& observer, const std::string& id,
                      Restart restart = Restart::permanent) {
    return worker_child(
        id, [pid = observer.pid(), id] { return std::make_unique<Probe>(pid, id); },
        {.trap_exit = true}, restart);
}

// Factories: `probe` makes a Probe named by its first arg (a binary), reporting to `observer`.
std::shared_ptr<ChildFactories> factories(const Mailbox& observer) {
    auto f = std::make_shared<ChildFactories>();
    f->add("probe"_a,
           actor_factory(
               [pid = observer.pid()](std::span<const Term> args) -> std::unique_ptr<Actor> {
                   if (args.empty() || !args[0].is_binary()) return nullptr;
                   return std::make_unique<Probe>(pid, std::string(args[0].text()));
               },
               {.trap_exit = true}));
    return f;
}

struct WithSupervisor {
    LocalNode t;
    Mailbox me = t.node.open_mailbox();
    ProcessHandle sup;

    // Starts with a probe child for each of `ids`.
    explicit WithSupervisor(std::vector<std::string> ids = {}) {
        SupervisorOptions o;
        o.intensity = 10;
        o.period = 3600s;
        for (const auto& id : ids)
            o.children.push_back(probe_child(me, id));
        o.factories = factories(me);
        auto started = start_supervisor(t.node, std::move(o));
        REQUIRE(started.has_value());
        sup = *started;
    }
    Term call(Term request) {
        auto got = request_term(me, ServerRef(sup.pid()), std::move(request), 10s);
        REQUIRE(got.has_value());
        return *got;
    }
};

// An Erlang child spec map starting the `probe` factory with <<"Name">>.
Term probe_spec(const char* id, const char* name, const char* restart = "permanent") {
    return map({{Term("id"_a), Term(Atom::make(id).value())},
                {Term("start"_a), tuple("distribute"_a, "probe"_a, list(binary(name)))},
                {Term("restart"_a), Term(Atom::make(restart).value())}});
}

}  // namespace

TEST_SUITE("supervisor dynamic children") {
    TEST_CASE("start_child from C++ adds a child after the others; its crash restarts it") {
        WithSupervisor s({"a"});
        const Pid a = started_pid(s.me, "a");
        auto b = start_child(s.t.node, s.sup.pid(), probe_child(s.me, "b"), 10s);
        REQUIRE(b.has_value());
        REQUIRE(b->has_value());
        CHECK(**b == started_pid(s.me, "b"));
        auto children = which_children(s.t.node, s.sup.pid(), 10s);
        REQUIRE(children.has_value());
        REQUIRE(children->size() == 2);
        CHECK((*children)[0].id == "b");  // newest first
        CHECK((*children)[1].pid == a);
        s.me.send(**b, tuple(atoms::gen_cast, tuple("exit"_a, "boom"_a)));
        CHECK(terminated_reason(s.me, "b") == Term("boom"_a));
        CHECK_FALSE(started_pid(s.me, "b") == **b);
    }

    TEST_CASE("start_child of an id in use: already_started with its pid, or already_present") {
        WithSupervisor s({"a"});
        const Pid a = started_pid(s.me, "a");
        auto again = start_child(s.t.node, s.sup.pid(), probe_child(s.me, "a"), 10s);
        REQUIRE_FALSE(again.has_value());
        CHECK(again.error().code == SupervisorErrc::already_started);
        CHECK(again.error().reason == tuple("already_started"_a, a));
        REQUIRE(terminate_child(s.t.node, s.sup.pid(), "a", 10s).has_value());
        CHECK(terminated_reason(s.me, "a") == Term(atoms::shutdown));
        auto present = start_child(s.t.node, s.sup.pid(), probe_child(s.me, "a"), 10s);
        REQUIRE_FALSE(present.has_value());
        CHECK(present.error().code == SupervisorErrc::already_present);
        CHECK(s.call(tuple("start_child"_a, probe_spec("a", "a"))) ==
              tuple(atoms::error, "already_present"_a));
    }

    TEST_CASE("terminate, restart and delete follow supervisor.erl, errors included") {
        WithSupervisor s({"a"});
        const Pid a = started_pid(s.me, "a");
        CHECK(s.call(tuple("restart_child"_a, "a"_a)) == tuple(atoms::error, "running"_a));
        // A pid finds its child, as supervisor.erl's find_child does.
        CHECK(s.call(tuple("delete_child"_a, a)) == tuple(atoms::error, "running"_a));
        CHECK(s.call(tuple("delete_child"_a, "a"_a)) == tuple(atoms::error, "running"_a));
        CHECK(s.call(tuple("terminate_child"_a, "nope"_a)) == tuple(atoms::error, "not_found"_a));
        CHECK(s.call(tuple("restart_child"_a, "nope"_a)) == tuple(atoms::error, "not_found"_a));
        CHECK(s.call(tuple("delete_child"_a, "nope"_a)) == tuple(atoms::error, "not_found"_a));
        CHECK(s.call(tuple("terminate_child"_a, "a"_a)) == Term(atoms::ok));
        terminated_reason(s.me, "a");
        // Stopped, it stays known: listed as undefined, counted, and restartable.
        CHECK(s.call("which_children"_a) ==
              list(tuple("a"_a, atoms::undefined, "worker"_a, Term())));
        CHECK(s.call("count_children"_a) == list(tuple("specs"_a, 1), tuple("active"_a, 0),
                                                 tuple("supervisors"_a, 0), tuple("workers"_a, 1)));
        auto restarted = restart_child(s.t.node, s.sup.pid(), "a", 10s);
        REQUIRE(restarted.has_value());
        CHECK(restarted->value() == started_pid(s.me, "a"));
        REQUIRE(terminate_child(s.t.node, s.sup.pid(), "a", 10s).has_value());
        REQUIRE(delete_child(s.t.node, s.sup.pid(), "a", 10s).has_value());
        CHECK(s.call("which_children"_a) == Term());
        auto gone = delete_child(s.t.node, s.sup.pid(), "a", 10s);
        REQUIRE_FALSE(gone.has_value());
        CHECK(gone.error().code == SupervisorErrc::not_found);
    }

    TEST_CASE("an Erlang spec names a factory: the child starts with its args and restarts") {
        WithSupervisor s;
        const Term reply = s.call(tuple("start_child"_a, probe_spec("w", "w1")));
        const Pid w = started_pid(s.me, "w1");
        CHECK(reply == tuple(atoms::ok, w));
        CHECK(s.call(tuple("get_childspec"_a, "w"_a)) ==
              tuple(atoms::ok,
                    map({{Term("id"_a), Term("w"_a)},
                         {Term("start"_a), tuple("distribute"_a, "probe"_a, list(binary("w1")))},
                         {Term("restart"_a), Term("permanent"_a)},
                         {Term("significant"_a), Term(atoms::false_)},
                         {Term("shutdown"_a), Term(5000)},
                         {Term("type"_a), Term("worker"_a)},
                         {Term("modules"_a), list("distribute"_a)}})));
        s.me.send(w, tuple(atoms::gen_cast, tuple("exit"_a, "boom"_a)));
        CHECK_FALSE(started_pid(s.me, "w1") == w);
        // The old tuple form works too.
        const Term old = tuple("v"_a, tuple("distribute"_a, "probe"_a, list(binary("v1"))),
                               "temporary"_a, 100, "worker"_a, list("distribute"_a));
        const Term v = s.call(tuple("start_child"_a, old));
        CHECK(v == tuple(atoms::ok, started_pid(s.me, "v1")));
    }

    TEST_CASE("a factory start from C++ travels as an Erlang spec") {
        WithSupervisor s;
        ChildSpec spec;
        spec.id = "f";
        spec.factory = FactoryStart{"probe"_a, {binary("f1")}};
        auto started = start_child(s.t.node, s.sup.pid(), spec, 10s);
        REQUIRE(started.has_value());
        CHECK(started->value() == started_pid(s.me, "f1"));
    }

    TEST_CASE("start_child errors: an unknown factory, a bad spec, a start that fails") {
        WithSupervisor s;
        const Term unknown = s.call(tuple(
            "start_child"_a, map({{Term("id"_a), Term("u"_a)},
                                  {Term("start"_a), tuple("distribute"_a, "nope"_a, list(1))}})));
        // {error, {{'EXIT', {undef, [{distribute, nope, [1], []}]}}, #child{...}}}
        CHECK(unknown ==
              tuple(atoms::error,
                    tuple(tuple("EXIT"_a, tuple("undef"_a, list(tuple("distribute"_a, "nope"_a,
                                                                      list(1), Term())))),
                          tuple("child"_a, atoms::undefined, "u"_a,
                                tuple("distribute"_a, "nope"_a, list(1)), "permanent"_a,
                                atoms::false_, 5000, "worker"_a, list("distribute"_a)))));
        CHECK(s.call(tuple("start_child"_a, Term(1))) ==
              tuple(atoms::error, tuple("invalid_child_spec"_a, 1)));
        CHECK(s.call(tuple("start_child"_a,
                           map({{Term("id"_a), Term("x"_a)},
                                {Term("start"_a), tuple("distribute"_a, "probe"_a, list())},
                                {Term("restart"_a), Term("sometimes"_a)}}))) ==
              tuple(atoms::error, tuple("invalid_restart_type"_a, "sometimes"_a)));
        // The factory refuses its args: the child is not kept.
        auto bad = s.call(tuple(
            "start_child"_a, map({{Term("id"_a), Term("b"_a)},
                                  {Term("start"_a), tuple("distribute"_a, "probe"_a, list(7))}})));
        REQUIRE(bad.is_tuple(2));
        CHECK(bad[1][0] == tuple("bad_args"_a, list(7)));
        CHECK(s.call("which_children"_a) == Term());
        ChildSpec failing;
        failing.id = "z";
        failing.start = [](const ProcessHandle&) -> Expected<ProcessHandle, SupervisorError> {
            return unexpected(start_failure(Term("no_db"_a)));
        };
        auto failed = start_child(s.t.node, s.sup.pid(), failing, 10s);
        REQUIRE_FALSE(failed.has_value());
        CHECK(failed.error().code == SupervisorErrc::start_failed);
        CHECK(failed.error().reason[0] == Term("no_db"_a));
    }

    TEST_CASE("a spec with C++ code is refused for another node's supervisor, before any send") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto r = start_child(t.node, ServerRef("sup"_a, "elsewhere@nohost"_a), probe_child(me, "a"),
                             10s);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == SupervisorErrc::bad_spec);
        CHECK(r.error().reason == Term("not_local"_a));
    }

    TEST_CASE("a start that says ignore: {ok, undefined}, the child kept unless temporary") {
        WithSupervisor s;
        ChildSpec ignoring;
        ignoring.id = "i";
        ignoring.start = [](const ProcessHandle&) -> Expected<ProcessHandle, SupervisorError> {
            return ProcessHandle();
        };
        auto kept = start_child(s.t.node, s.sup.pid(), ignoring, 10s);
        REQUIRE(kept.has_value());
        CHECK_FALSE(kept->has_value());
        ignoring.id = "j";
        ignoring.restart = Restart::temporary;
        REQUIRE(start_child(s.t.node, s.sup.pid(), ignoring, 10s).has_value());
        CHECK(s.call("which_children"_a) ==
              list(tuple("i"_a, atoms::undefined, "worker"_a, Term())));
    }

    TEST_CASE("the supervisor's calls fail as unreachable when it is gone") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        const Pid gone = me.pid();
        me.close();
        auto r = which_children(t.node, gone, 2s);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == SupervisorErrc::unreachable);
        CHECK(std::error_code(r.error().code).category().name() ==
              std::string("distribute.supervisor"));
    }
}
