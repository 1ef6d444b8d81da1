// Supervisors on one C++ node, checked against supervisor.erl's semantics: which children each
// strategy restarts, permanent/transient/temporary, the restart intensity within its period (and
// restarts spaced beyond it), nested supervisors, the ordered shutdown (reverse start order, a
// child that ignores shutdown killed after its time), start failures and retries.
#include <doctest/doctest.h>

#include <atomic>

#include "distribute/messaging.hpp"
#include "distribute/supervisor.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

ChildSpec probe_child(const Mailbox& observer, const std::string& id,
                      Restart restart = Restart::permanent,
                      std::chrono::milliseconds shutdown = 5000ms) {
    return worker_child(
        id, [pid = observer.pid(), id] { return std::make_unique<Probe>(pid, id); },
        {.trap_exit = true}, restart, shutdown);
}

SupervisorOptions options(Strategy strategy, std::vector<ChildSpec> children, int intensity = 10,
                          std::chrono::milliseconds period = 3600s) {
    SupervisorOptions o;
    o.strategy = strategy;
    o.intensity = intensity;
    o.period = period;
    o.children = std::move(children);
    return o;
}

// Stops a child as if it crashed: its own cast makes it Stop with `reason`.
void crash(Mailbox& me, const Pid& child, Term reason = Term("crash"_a)) {
    me.send(child, tuple(atoms::gen_cast, tuple("exit"_a, std::move(reason))));
}

std::vector<std::optional<Pid>> child_pids(Node& node, const ProcessHandle& sup) {
    auto children = which_children(node, sup.pid(), 10s);
    REQUIRE(children.has_value());
    // which_children lists the newest first; these tests compare in start order.
    std::vector<std::optional<Pid>> out;
    for (auto it = children->rbegin(); it != children->rend(); ++it)
        out.push_back(it->pid);
    return out;
}

bool is_terminated(const Term& t) {
    return t.is_tuple(3) && t[0].is_atom("terminated"_a);
}

}  // namespace

TEST_SUITE("supervisor") {
    TEST_CASE("one_for_one restarts only the child that ended") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto sup = start_supervisor(
            t.node, options(Strategy::one_for_one,
                            {probe_child(me, "a"), probe_child(me, "b"), probe_child(me, "c")}));
        REQUIRE(sup.has_value());
        const Pid a = started_pid(me, "a"), b = started_pid(me, "b"), c = started_pid(me, "c");
        crash(me, b);
        CHECK(terminated_reason(me, "b") == Term("crash"_a));
        const Pid b2 = started_pid(me, "b");
        CHECK_FALSE(b2 == b);
        CHECK(child_pids(t.node, *sup) == std::vector<std::optional<Pid>>{a, b2, c});
        CHECK(none_queued(me, is_terminated));
    }

    TEST_CASE("one_for_all stops the others in reverse start order and restarts all in order") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto sup = start_supervisor(
            t.node, options(Strategy::one_for_all,
                            {probe_child(me, "a"), probe_child(me, "b"), probe_child(me, "c")}));
        REQUIRE(sup.has_value());
        const Pid a = started_pid(me, "a");
        const Pid b = started_pid(me, "b");
        started_pid(me, "c");
        crash(me, b);
        // The events come in the order they happened.
        CHECK(next_message(me) == tuple("terminated"_a, binary("b"), "crash"_a));
        CHECK(next_message(me) == tuple("terminated"_a, binary("c"), atoms::shutdown));
        CHECK(next_message(me) == tuple("terminated"_a, binary("a"), atoms::shutdown));
        const Pid a2 = started_pid(me, "a"), b2 = started_pid(me, "b"), c2 = started_pid(me, "c");
        CHECK_FALSE(a2 == a);
        CHECK(child_pids(t.node, *sup) == std::vector<std::optional<Pid>>{a2, b2, c2});
    }

    TEST_CASE("rest_for_one restarts the child and those started after it, not those before") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto sup = start_supervisor(
            t.node, options(Strategy::rest_for_one, {probe_child(me, "a"), probe_child(me, "b"),
                                                     probe_child(me, "c"), probe_child(me, "d")}));
        REQUIRE(sup.has_value());
        const Pid a = started_pid(me, "a");
        const Pid b = started_pid(me, "b");
        started_pid(me, "c");
        started_pid(me, "d");
        crash(me, b);
        CHECK(next_message(me) == tuple("terminated"_a, binary("b"), "crash"_a));
        CHECK(next_message(me) == tuple("terminated"_a, binary("d"), atoms::shutdown));
        CHECK(next_message(me) == tuple("terminated"_a, binary("c"), atoms::shutdown));
        const Pid b2 = started_pid(me, "b"), c2 = started_pid(me, "c"), d2 = started_pid(me, "d");
        CHECK(child_pids(t.node, *sup) == std::vector<std::optional<Pid>>{a, b2, c2, d2});
    }

    TEST_CASE("permanent children come back even after a normal exit") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto sup = start_supervisor(t.node, options(Strategy::one_for_one, {probe_child(me, "p")}));
        REQUIRE(sup.has_value());
        crash(me, started_pid(me, "p"), Term(atoms::normal));
        started_pid(me, "p");
    }

    TEST_CASE("transient children come back only after an abnormal exit") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto sup = start_supervisor(
            t.node, options(Strategy::one_for_one, {probe_child(me, "n", Restart::transient),
                                                    probe_child(me, "s", Restart::transient),
                                                    probe_child(me, "st", Restart::transient),
                                                    probe_child(me, "x", Restart::transient)}));
        REQUIRE(sup.has_value());
        crash(me, started_pid(me, "n"), Term(atoms::normal));
        crash(me, started_pid(me, "s"), Term(atoms::shutdown));
        crash(me, started_pid(me, "st"), tuple(atoms::shutdown, "why"_a));
        crash(me, started_pid(me, "x"), Term("boom"_a));
        const Pid x2 = started_pid(me, "x");
        // The four exit signals come from four processes, in no set order: x's restart says
        // nothing about when the others' arrive.
        std::vector<std::optional<Pid>> pids;
        eventually([&] {
            pids = child_pids(t.node, *sup);
            return pids.size() == 4 && !pids[0] && !pids[1] && !pids[2];
        });
        CHECK(pids[3] == x2);  // the others kept, as not running
        CHECK(none_queued(
            me, [](const Term& m) { return m.is_tuple(3) && m[0].is_atom("started"_a); }));
    }

    TEST_CASE("temporary children are never restarted and are forgotten once they end") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto sup = start_supervisor(
            t.node, options(Strategy::one_for_one,
                            {probe_child(me, "keep"), probe_child(me, "tmp", Restart::temporary)}));
        REQUIRE(sup.has_value());
        const Pid keep = started_pid(me, "keep");
        crash(me, started_pid(me, "tmp"), Term("boom"_a));
        terminated_reason(me, "tmp");
        // Its terminate ran; the supervisor learns of its end by an exit signal sent after that.
        Expected<std::vector<ChildInfo>, SupervisorError> children = unexpected(SupervisorError{});
        eventually([&] {
            children = which_children(t.node, sup->pid(), 10s);
            return children && children->size() == 1;
        });
        CHECK((*children)[0].id == "keep");
        CHECK((*children)[0].pid == keep);
    }

    TEST_CASE("more restarts than the intensity within the period: the supervisor exits shutdown") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto sup = start_supervisor(
            t.node,
            options(Strategy::one_for_one, {probe_child(me, "a"), probe_child(me, "b")}, 2, 3600s));
        REQUIRE(sup.has_value());
        const Reference mon = me.monitor(sup->pid());
        started_pid(me, "a");
        crash(me, started_pid(me, "b"));
        crash(me, started_pid(me, "b"));  // restart 2 of 2: still within
        crash(me, started_pid(me, "b"));  // the third in the period is one too many
        CHECK(terminated_reason(me, "b") == Term("crash"_a));
        // The others are taken down (in reverse order) before it goes.
        CHECK(terminated_reason(me, "a") == Term(atoms::shutdown));
        CHECK(down_reason(me, mon) == Term(atoms::shutdown));
    }

    TEST_CASE("intensity 0: the first restart is one too many") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto sup = start_supervisor(
            t.node, options(Strategy::one_for_one, {probe_child(me, "a")}, 0, 3600s));
        REQUIRE(sup.has_value());
        const Reference mon = me.monitor(sup->pid());
        crash(me, started_pid(me, "a"));
        CHECK(down_reason(me, mon) == Term(atoms::shutdown));
    }

    TEST_CASE("restarts spaced further apart than the period do not add up") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto sup = start_supervisor(
            t.node, options(Strategy::one_for_one, {probe_child(me, "a")}, 1, 100ms));
        REQUIRE(sup.has_value());
        Pid a = started_pid(me, "a");
        for (int i = 0; i < 4; ++i) {
            // Longer than the period: the earlier restart has left the window.
            std::this_thread::sleep_for(250ms);
            crash(me, a);
            a = started_pid(me, "a");
        }
        CHECK(sup->alive());
    }

    TEST_CASE("nested supervisors: the inner one restarts its child; the outer one restarts it") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto inner = options(Strategy::one_for_one, {probe_child(me, "leaf")});
        inner.name = "inner_sup"_a;
        auto sup = start_supervisor(
            t.node, options(Strategy::one_for_one,
                            {supervisor_child("inner", std::move(inner)), probe_child(me, "w")}));
        REQUIRE(sup.has_value());
        const Pid leaf = started_pid(me, "leaf");
        const Pid w = started_pid(me, "w");
        auto children = which_children(t.node, sup->pid(), 10s);
        REQUIRE(children.has_value());
        REQUIRE(children->size() == 2);
        CHECK((*children)[1].type == ChildType::supervisor);  // started first, listed last
        const Pid inner_pid = (*children)[1].pid.value();
        CHECK(t.node.whereis("inner_sup"_a) == inner_pid);

        crash(me, leaf);
        CHECK(terminated_reason(me, "leaf") == Term("crash"_a));
        const Pid leaf2 = started_pid(me, "leaf");
        CHECK(child_pids(t.node, *sup) == std::vector<std::optional<Pid>>{inner_pid, w});

        // Killing the inner supervisor takes its child with it; the outer one restarts both.
        me.exit(inner_pid, Term(atoms::kill));
        CHECK(terminated_reason(me, "leaf") == Term(atoms::killed));
        const Pid leaf3 = started_pid(me, "leaf");
        CHECK_FALSE(leaf3 == leaf2);
        eventually([&] {
            auto now = t.node.whereis("inner_sup"_a);
            return now && !(*now == inner_pid);
        });
        CHECK(child_pids(t.node, *sup)[1] == w);
    }

    TEST_CASE("shutdown stops children in reverse start order, each given its shutdown time") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto sup = start_supervisor(
            t.node, options(Strategy::one_for_one,
                            {probe_child(me, "a"), probe_child(me, "b"), probe_child(me, "c")}));
        REQUIRE(sup.has_value());
        started_pid(me, "a");
        started_pid(me, "b");
        started_pid(me, "c");
        REQUIRE(stop_process(t.node, sup->pid(), Term(atoms::shutdown), 10s).has_value());
        CHECK(next_message(me) == tuple("terminated"_a, binary("c"), atoms::shutdown));
        CHECK(next_message(me) == tuple("terminated"_a, binary("b"), atoms::shutdown));
        CHECK(next_message(me) == tuple("terminated"_a, binary("a"), atoms::shutdown));
    }

    TEST_CASE(
        "a child that ignores shutdown is killed after its shutdown time, then the next goes") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        // Traps exits and ignores everything, the EXIT from its supervisor included.
        ChildSpec stubborn;
        stubborn.id = "stubborn";
        stubborn.shutdown = 200ms;
        stubborn.start =
            [&](const ProcessHandle& supervisor) -> Expected<ProcessHandle, SupervisorError> {
            auto child = t.node.spawn([](const ProcessHandle&, Term) {}, true);
            child.link(supervisor.pid());
            me.send(me.pid(), tuple("stubborn"_a, child.pid()));
            return child;
        };
        auto sup = start_supervisor(
            t.node, options(Strategy::one_for_one, {probe_child(me, "first"), stubborn}));
        REQUIRE(sup.has_value());
        started_pid(me, "first");
        const Pid stubborn_pid = next_tagged(me, "stubborn"_a)[1].to<Pid>().value();
        const Reference mon = me.monitor(stubborn_pid);
        REQUIRE(stop_process(t.node, sup->pid(), Term(atoms::shutdown), 10s).has_value());
        // In that order: the stubborn one (started last) is stopped, and killed, before the first.
        CHECK(next_message(me) ==
              tuple(atoms::DOWN, mon, atoms::process, stubborn_pid, atoms::killed));
        CHECK(next_message(me) == tuple("terminated"_a, binary("first"), atoms::shutdown));
    }

    TEST_CASE("brutal_kill kills at once, without terminate") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto sup = start_supervisor(
            t.node, options(Strategy::one_for_one,
                            {probe_child(me, "k", Restart::permanent, brutal_kill)}));
        REQUIRE(sup.has_value());
        const Reference mon = me.monitor(started_pid(me, "k"));
        REQUIRE(stop_process(t.node, sup->pid(), Term(atoms::shutdown), 10s).has_value());
        CHECK(down_reason(me, mon) == Term(atoms::killed));
        CHECK(none_queued(me, is_terminated));
    }

    TEST_CASE("the parent's exit stops the supervisor and its children in order") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        Mailbox parent = t.node.open_mailbox();
        auto o = options(Strategy::one_for_one, {probe_child(me, "a"), probe_child(me, "b")});
        o.link_to = parent.pid();
        auto sup = start_supervisor(t.node, std::move(o));
        REQUIRE(sup.has_value());
        started_pid(me, "a");
        started_pid(me, "b");
        const Reference mon = me.monitor(sup->pid());
        parent.close(Term("parent_done"_a));
        CHECK(next_tagged(me, "terminated"_a) ==
              tuple("terminated"_a, binary("b"), atoms::shutdown));
        CHECK(next_tagged(me, "terminated"_a) ==
              tuple("terminated"_a, binary("a"), atoms::shutdown));
        CHECK(down_reason(me, mon) == Term("parent_done"_a));
    }

    TEST_CASE("a child that fails to start fails the supervisor; the ones started are killed") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        ChildSpec bad;
        bad.id = "bad";
        bad.start = [](const ProcessHandle&) -> Expected<ProcessHandle, SupervisorError> {
            return unexpected(start_failure(Term("no_db"_a)));
        };
        auto first = worker_child(
            "first", [pid = me.pid()] { return std::make_unique<Probe>(pid, "first"); },
            {.name = "first_child"_a});
        auto sup = start_supervisor(t.node, options(Strategy::one_for_one, {first, bad}));
        REQUIRE_FALSE(sup.has_value());
        CHECK(sup.error().code == StartErrc::init_failed);
        CHECK(sup.error().reason ==
              tuple(atoms::shutdown, tuple("failed_to_start_child"_a, "bad"_a, "no_db"_a)));
        started_pid(me, "first");
        CHECK_FALSE(t.node.whereis("first_child"_a).has_value());
    }

    TEST_CASE("bad options are refused: duplicate ids, negative intensity, no start function") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto dup = start_supervisor(
            t.node, options(Strategy::one_for_one, {probe_child(me, "x"), probe_child(me, "x")}));
        REQUIRE_FALSE(dup.has_value());
        CHECK(dup.error().code == StartErrc::bad_options);
        CHECK(dup.error().reason == tuple("duplicate_child_name"_a, "x"_a));
        auto neg = start_supervisor(t.node, options(Strategy::one_for_one, {}, -1));
        REQUIRE_FALSE(neg.has_value());
        CHECK(neg.error().reason == tuple("invalid_intensity"_a, -1));
        ChildSpec empty;
        empty.id = "e";
        auto nostart = start_supervisor(t.node, options(Strategy::one_for_one, {empty}));
        REQUIRE_FALSE(nostart.has_value());
        CHECK(nostart.error().reason == tuple("missing_start"_a, "e"_a));
    }

    TEST_CASE("a restart whose start fails is retried, each attempt counted as a restart") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto attempts = std::make_shared<std::atomic<int>>(0);
        ChildSpec flaky;
        flaky.id = "flaky";
        flaky.start =
            [attempts, pid = me.pid()](
                const ProcessHandle& supervisor) -> Expected<ProcessHandle, SupervisorError> {
            const int n = ++*attempts;
            if (n == 2 || n == 3) return unexpected(start_failure(Term("not_yet"_a)));
            return child_result(spawn_actor(supervisor, std::make_unique<Probe>(pid, "flaky"),
                                            {.trap_exit = true, .link_to = supervisor.pid()}));
        };
        auto sup = start_supervisor(t.node, options(Strategy::one_for_one, {flaky}, 5));
        REQUIRE(sup.has_value());
        crash(me, started_pid(me, "flaky"));
        started_pid(me, "flaky");  // the fourth start
        CHECK(attempts->load() == 4);
        CHECK(sup->alive());
    }

    TEST_CASE("count_children and which_children answer as supervisor.erl's do") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto sup = start_supervisor(
            t.node, options(Strategy::one_for_one,
                            {probe_child(me, "a"),
                             supervisor_child("s", options(Strategy::one_for_one, {}))}));
        REQUIRE(sup.has_value());
        auto counts = request_term(me, ServerRef(sup->pid()), Term("count_children"_a), 10s);
        REQUIRE(counts.has_value());
        CHECK(*counts == list(tuple("specs"_a, 2), tuple("active"_a, 2), tuple("supervisors"_a, 1),
                              tuple("workers"_a, 1)));
        auto which = request_term(me, ServerRef(sup->pid()), Term("which_children"_a), 10s);
        REQUIRE(which.has_value());
        REQUIRE(which->elements().size() == 2);
        // Newest first, as supervisor.erl lists them.
        CHECK(which->elements()[1] == tuple("a"_a, started_pid(me, "a"), "worker"_a, Term()));
        CHECK(which->elements()[0][0] == Term("s"_a));
    }
}
