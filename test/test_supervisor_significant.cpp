// Significant children and auto_shutdown (OTP 24+) on one C++ node: the rules on which children
// may be significant, any_significant and all_significant ending the supervisor when a
// significant child ends by itself, and never when it is stopped by terminate_child.
#include <doctest/doctest.h>

#include "distribute/messaging.hpp"
#include "distribute/supervisor.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

ChildSpec probe_child(const Mailbox& observer, const std::string& id, Restart restart,
                      bool significant) {
    auto spec = worker_child(
        id, [pid = observer.pid(), id] { return std::make_unique<Probe>(pid, id); },
        {.trap_exit = true}, restart);
    spec.significant = significant;
    return spec;
}

SupervisorOptions options(AutoShutdown auto_shutdown, std::vector<ChildSpec> children) {
    SupervisorOptions o;
    o.intensity = 10;
    o.period = 3600s;
    o.auto_shutdown = auto_shutdown;
    o.children = std::move(children);
    return o;
}

void end_normally(Mailbox& me, const Pid& child) {
    me.send(child, tuple(atoms::gen_cast, tuple("exit"_a, atoms::normal)));
}

}  // namespace

TEST_SUITE("supervisor significant children") {
    TEST_CASE("significant needs auto_shutdown and a transient or temporary child") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto never = start_supervisor(
            t.node, options(AutoShutdown::never, {probe_child(me, "s", Restart::transient, true)}));
        REQUIRE_FALSE(never.has_value());
        CHECK(never.error().reason ==
              tuple("bad_combination"_a, list(tuple("auto_shutdown"_a, "never"_a),
                                              tuple("significant"_a, atoms::true_))));
        auto permanent =
            start_supervisor(t.node, options(AutoShutdown::any_significant,
                                             {probe_child(me, "s", Restart::permanent, true)}));
        REQUIRE_FALSE(permanent.has_value());
        CHECK(permanent.error().reason ==
              tuple("bad_combination"_a,
                    list(tuple("restart"_a, "permanent"_a), tuple("significant"_a, atoms::true_))));
        // The same rule for a spec from Erlang.
        auto sup = start_supervisor(t.node, options(AutoShutdown::never, {}));
        REQUIRE(sup.has_value());
        auto r = request_term(
            me, ServerRef(sup->pid()),
            tuple("start_child"_a, map({{Term("id"_a), Term("e"_a)},
                                        {Term("start"_a), tuple("distribute"_a, "x"_a, list())},
                                        {Term("restart"_a), Term("transient"_a)},
                                        {Term("significant"_a), Term(atoms::true_)}})),
            10s);
        REQUIRE(r.has_value());
        CHECK(*r == tuple(atoms::error, never.error().reason));
    }

    TEST_CASE("any_significant: the first significant child to end ends the supervisor") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto sup =
            start_supervisor(t.node, options(AutoShutdown::any_significant,
                                             {probe_child(me, "plain", Restart::permanent, false),
                                              probe_child(me, "sig", Restart::transient, true)}));
        REQUIRE(sup.has_value());
        started_pid(me, "plain");
        const Reference down = me.monitor(sup->pid());
        end_normally(me, started_pid(me, "sig"));
        CHECK(terminated_reason(me, "sig") == Term(atoms::normal));
        CHECK(terminated_reason(me, "plain") == Term(atoms::shutdown));
        CHECK(down_reason(me, down) == Term(atoms::shutdown));
    }

    TEST_CASE("all_significant: the supervisor ends once no significant child runs") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto sup =
            start_supervisor(t.node, options(AutoShutdown::all_significant,
                                             {probe_child(me, "s1", Restart::temporary, true),
                                              probe_child(me, "s2", Restart::transient, true)}));
        REQUIRE(sup.has_value());
        const Pid s1 = started_pid(me, "s1");
        const Pid s2 = started_pid(me, "s2");
        const Reference down = me.monitor(sup->pid());
        end_normally(me, s1);
        terminated_reason(me, "s1");
        // One still runs: the supervisor goes on, without the temporary one.
        eventually([&] {
            auto counts = count_children(t.node, sup->pid(), 10s);
            REQUIRE(counts.has_value());
            return counts->specs == 1;
        });
        CHECK(sup->alive());
        end_normally(me, s2);
        CHECK(down_reason(me, down) == Term(atoms::shutdown));
    }

    TEST_CASE("terminate_child of a significant child does not end the supervisor") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto sup =
            start_supervisor(t.node, options(AutoShutdown::any_significant,
                                             {probe_child(me, "sig", Restart::transient, true)}));
        REQUIRE(sup.has_value());
        started_pid(me, "sig");
        REQUIRE(terminate_child(t.node, sup->pid(), "sig", 10s).has_value());
        auto counts = count_children(t.node, sup->pid(), 10s);
        REQUIRE(counts.has_value());
        CHECK(counts->active == 0);
        CHECK(sup->alive());
    }
}
