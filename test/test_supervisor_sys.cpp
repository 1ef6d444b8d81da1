// sys on supervisors, on one C++ node: get_state as supervisor.erl's #state record (and
// DynamicSupervisor's struct), get_status as gen_server's with supervisor's Callback entry,
// suspend holding a child's exit until resume, and every other request answered as sys expects.
#include <doctest/doctest.h>

#include "distribute/messaging.hpp"
#include "distribute/supervisor.hpp"
#include "node_support.hpp"
#include "sys_request.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

struct WithSupervisor {
    LocalNode t;
    Mailbox me = t.node.open_mailbox();
    ProcessHandle sup;

    WithSupervisor() {
        SupervisorOptions o;
        o.name = "the_sup"_a;
        o.intensity = 4;
        o.period = 30s;
        o.children.push_back(
            worker_child("a", [pid = me.pid()] { return std::make_unique<Probe>(pid, "a"); },
                         {.trap_exit = true}));
        auto started = start_supervisor(t.node, std::move(o));
        REQUIRE(started.has_value());
        sup = *started;
    }
    Term sys(Term request) { return sys_request(me, sup.pid(), std::move(request)); }
};

}  // namespace

TEST_SUITE("supervisor sys") {
    TEST_CASE("get_state is supervisor.erl's #state record, with #child records") {
        WithSupervisor s;
        const Pid a = started_pid(s.me, "a");
        const Term child = tuple("child"_a, a, "a"_a, atoms::undefined, "permanent"_a,
                                 atoms::false_, 5000, "worker"_a, Term());
        CHECK(s.sys("get_state"_a) ==
              tuple("state"_a, tuple("local"_a, "the_sup"_a), "one_for_one"_a,
                    tuple(list("a"_a), map({{Term("a"_a), child}})), atoms::undefined, 4, 30,
                    Term(), 0, "never"_a, "distribute"_a, Term()));
    }

    TEST_CASE("get_status is gen_server's, with the state and supervisor's Callback entry") {
        WithSupervisor s;
        started_pid(s.me, "a");
        const Term status = s.sys("get_status"_a);
        REQUIRE(status.is_tuple(4));
        CHECK(status[1] == Term(s.sup.pid()));
        CHECK(status[2] == tuple("module"_a, "gen_server"_a));
        const auto items = status[3].elements();
        REQUIRE(items.size() == 5);
        CHECK(items[1] == Term("running"_a));
        const auto misc = items[4].elements();
        REQUIRE(misc.size() == 4);
        CHECK(misc[0] == tuple("header"_a, *charlist("Status for generic server the_sup")));
        CHECK(misc[2][1].elements()[0][1] == s.sys("get_state"_a));
        CHECK(misc[3] == tuple("supervisor"_a, list(tuple(*charlist("Callback"), "distribute"_a))));
    }

    TEST_CASE("suspended, a supervisor leaves a child's exit until resume, then restarts it") {
        WithSupervisor s;
        const Pid a = started_pid(s.me, "a");
        CHECK(s.sys("suspend"_a) == Term(atoms::ok));
        s.me.send(a, tuple(atoms::gen_cast, tuple("exit"_a, "boom"_a)));
        terminated_reason(s.me, "a");
        CHECK(s.sys("get_status"_a)[3].elements()[1] == Term("suspended"_a));
        // Its state still shows the old pid: the 'EXIT' waits.
        CHECK(s.sys("get_state"_a)[3][1].find(Term("a"_a))->operator[](1) == Term(a));
        CHECK(none_queued(
            s.me, [](const Term& m) { return m.is_tuple(3) && m[0].is_atom("started"_a); }));
        CHECK(s.sys("resume"_a) == Term(atoms::ok));
        CHECK_FALSE(started_pid(s.me, "a") == a);
    }

    TEST_CASE("other requests: sys's replies, and the supervisor goes on") {
        WithSupervisor s;
        started_pid(s.me, "a");
        CHECK(s.sys("bogus"_a) == tuple(atoms::error, tuple("unknown_system_msg"_a, "bogus"_a)));
        CHECK(s.sys(tuple("replace_state"_a, "f"_a)) ==
              tuple(atoms::error,
                    tuple("callback_failed"_a, tuple("gen_server"_a, "system_replace_state"_a),
                          tuple(atoms::error, "replace_state_not_supported"_a))));
        CHECK(s.sys(tuple("change_code"_a, "m"_a, 1, Term())) ==
              tuple(atoms::error,
                    tuple("unknown_system_msg"_a, tuple("change_code"_a, "m"_a, 1, Term()))));
        CHECK(s.sys(tuple("debug"_a, tuple("statistics"_a, atoms::true_))) == Term(atoms::ok));
        CHECK(s.sys(tuple("debug"_a, "bogus"_a)) == Term("unknown_debug"_a));
        auto counts = count_children(s.t.node, s.sup.pid(), 10s);
        REQUIRE(counts.has_value());
        const Term stats = s.sys(tuple("debug"_a, tuple("statistics"_a, "get"_a)));
        REQUIRE(stats.is_tuple(2));
        CHECK(stats[1].elements()[3] == tuple("messages_in"_a, 1));
        CHECK(s.sup.alive());
    }

    TEST_CASE("a dynamic supervisor's state is shaped as Elixir's %DynamicSupervisor{}") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        DynamicSupervisorOptions o;
        o.max_children = 5;
        auto sup = start_dynamic_supervisor(t.node, std::move(o));
        REQUIRE(sup.has_value());
        const Term state = sys_request(me, sup->pid(), "get_state"_a);
        REQUIRE(state.is_map());
        CHECK(*state.find(Term("__struct__"_a)) == Term("Elixir.DynamicSupervisor"_a));
        CHECK(*state.find(Term("max_children"_a)) == Term(5));
        CHECK(*state.find(Term("children"_a)) == map({}));
    }
}
