// simple_one_for_one and DynamicSupervisor-style supervisors on one C++ node: children of a
// template started with extra arguments, addressed by pid, restarted one by one, counted as
// supervisor.erl and DynamicSupervisor count them, max_children, and the parallel shutdown.
#include <doctest/doctest.h>

#include <thread>

#include "distribute/messaging.hpp"
#include "distribute/supervisor.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

// `probe` makes a Probe named by its args' binaries, joined with "-".
std::shared_ptr<ChildFactories> factories(const Mailbox& observer) {
    auto f = std::make_shared<ChildFactories>();
    f->add("probe"_a,
           actor_factory(
               [pid = observer.pid()](std::span<const Term> args) -> std::unique_ptr<Actor> {
                   std::string name;
                   for (const auto& a : args) {
                       if (!a.is_binary()) return nullptr;
                       name += (name.empty() ? "" : "-") + std::string(a.text());
                   }
                   return std::make_unique<Probe>(pid, name);
               },
               {.trap_exit = true}));
    return f;
}

ChildSpec probe_template(std::vector<Term> args, Restart restart = Restart::permanent) {
    ChildSpec spec;
    spec.id = "tpl";
    spec.factory = FactoryStart{"probe"_a, std::move(args)};
    spec.restart = restart;
    return spec;
}

Term call(Mailbox& me, const ProcessHandle& sup, Term request) {
    auto got = request_term(me, ServerRef(sup.pid()), std::move(request), 10s);
    REQUIRE(got.has_value());
    return *got;
}

// {MFA, Restart, Shutdown, Type, Modules}: what Elixir's DynamicSupervisor.start_child sends.
Term elixir_child(Term args, const char* restart = "permanent") {
    return tuple(tuple("distribute"_a, "probe"_a, std::move(args)), Atom::make(restart).value(),
                 5000, "worker"_a, list("distribute"_a));
}

}  // namespace

TEST_SUITE("simple_one_for_one and dynamic supervisors") {
    TEST_CASE("simple_one_for_one appends start_child's args to the template's") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        SupervisorOptions o;
        o.strategy = Strategy::simple_one_for_one;
        o.intensity = 10;
        o.children = {probe_template({binary("pool")})};
        o.factories = factories(me);
        auto sup = start_supervisor(t.node, std::move(o));
        REQUIRE(sup.has_value());
        auto one = start_child(t.node, sup->pid(), std::vector<Term>{binary("1")}, 10s);
        REQUIRE(one.has_value());
        CHECK(one->value() == started_pid(me, "pool-1"));
        auto two = start_child(t.node, sup->pid(), std::vector<Term>{binary("2")}, 10s);
        REQUIRE(two.has_value());
        const Pid p2 = started_pid(me, "pool-2");
        CHECK(call(me, *sup, "which_children"_a) ==
              list(tuple(atoms::undefined, p2, "worker"_a, list("distribute"_a)),
                   tuple(atoms::undefined, one->value(), "worker"_a, list("distribute"_a))));
        CHECK(call(me, *sup, "count_children"_a) == list(tuple("specs"_a, 1), tuple("active"_a, 2),
                                                         tuple("supervisors"_a, 0),
                                                         tuple("workers"_a, 2)));
        // Ids mean nothing here.
        CHECK(call(me, *sup, tuple("terminate_child"_a, "tpl"_a)) ==
              tuple(atoms::error, "simple_one_for_one"_a));
        CHECK(call(me, *sup, tuple("restart_child"_a, "tpl"_a)) ==
              tuple(atoms::error, "simple_one_for_one"_a));
        CHECK(call(me, *sup, tuple("delete_child"_a, "tpl"_a)) ==
              tuple(atoms::error, "simple_one_for_one"_a));
        // A crash restarts that child with the same args; terminate_child by pid forgets it.
        me.send(p2, tuple(atoms::gen_cast, tuple("exit"_a, "boom"_a)));
        CHECK(terminated_reason(me, "pool-2") == Term("boom"_a));
        const Pid p2b = started_pid(me, "pool-2");
        REQUIRE(terminate_child(t.node, sup->pid(), p2b, 10s).has_value());
        CHECK(terminated_reason(me, "pool-2") == Term(atoms::shutdown));
        auto again = terminate_child(t.node, sup->pid(), p2b, 10s);
        REQUIRE_FALSE(again.has_value());
        CHECK(again.error().code == SupervisorErrc::not_found);
        CHECK(call(me, *sup, "count_children"_a) == list(tuple("specs"_a, 1), tuple("active"_a, 1),
                                                         tuple("supervisors"_a, 0),
                                                         tuple("workers"_a, 1)));
    }

    TEST_CASE("simple_one_for_one needs exactly one template") {
        LocalNode t;
        SupervisorOptions o;
        o.strategy = Strategy::simple_one_for_one;
        auto sup = start_supervisor(t.node, std::move(o));
        REQUIRE_FALSE(sup.has_value());
        CHECK(sup.error().reason == tuple("bad_start_spec"_a, 0));
    }

    TEST_CASE("dynamic children are stopped in parallel when the supervisor stops") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        // Traps exits and ignores them, after telling `me` that its shutdown came.
        ChildSpec stubborn;
        stubborn.id = "stubborn";
        stubborn.shutdown = 600s;
        stubborn.start =
            [&](const ProcessHandle& supervisor) -> Expected<ProcessHandle, SupervisorError> {
            auto child = t.node.spawn(
                [observer = me.pid()](const ProcessHandle& self, Term m) {
                    if (m.is_tuple(3) && m[0].is_atom(atoms::EXIT))
                        self.send(observer, tuple("asked"_a, self.pid(), m[2]));
                },
                true);
            child.link(supervisor.pid());
            return child;
        };
        SupervisorOptions o;
        o.strategy = Strategy::simple_one_for_one;
        o.children = {stubborn};
        auto sup = start_supervisor(t.node, std::move(o));
        REQUIRE(sup.has_value());
        auto a = start_child(t.node, sup->pid(), std::vector<Term>{}, 10s);
        auto b = start_child(t.node, sup->pid(), std::vector<Term>{}, 10s);
        REQUIRE((a && b));
        const Reference down = me.monitor(sup->pid());
        auto stopper = std::thread(
            [&] { (void)stop_process(t.node, sup->pid(), Term(atoms::shutdown), 60s); });
        // Both are asked before either has gone: one after the other would wait 600 s.
        const Term first = next_tagged(me, "asked"_a);
        const Term second = next_tagged(me, "asked"_a);
        CHECK(first[2] == Term(atoms::shutdown));
        CHECK(second[2] == Term(atoms::shutdown));
        CHECK_FALSE(first[1] == second[1]);
        me.exit(**a, Term(atoms::kill));
        me.exit(**b, Term(atoms::kill));
        CHECK(down_reason(me, down) == Term(atoms::shutdown));
        stopper.join();
    }

    TEST_CASE("a DynamicSupervisor-style supervisor: extra arguments first, max_children") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        DynamicSupervisorOptions o;
        o.max_children = 2;
        o.extra_arguments = {binary("x")};
        o.factories = factories(me);
        auto sup = start_dynamic_supervisor(t.node, std::move(o));
        REQUIRE(sup.has_value());
        const Term one = call(me, *sup, tuple("start_child"_a, elixir_child(list(binary("1")))));
        CHECK(one == tuple(atoms::ok, started_pid(me, "x-1")));
        const Term two =
            call(me, *sup, tuple("start_child"_a, elixir_child(list(binary("2")), "temporary")));
        const Pid p2 = started_pid(me, "x-2");
        CHECK(two == tuple(atoms::ok, p2));
        CHECK(call(me, *sup, tuple("start_child"_a, elixir_child(list(binary("3"))))) ==
              tuple(atoms::error, "max_children"_a));
        CHECK(call(me, *sup, "count_children"_a) == list(tuple("specs"_a, 2), tuple("active"_a, 2),
                                                         tuple("supervisors"_a, 0),
                                                         tuple("workers"_a, 2)));
        // A temporary child that ends is forgotten, which frees a place.
        me.send(p2, tuple(atoms::gen_cast, tuple("exit"_a, "boom"_a)));
        terminated_reason(me, "x-2");
        eventually([&] { return call(me, *sup, "which_children"_a).elements().size() == 1; });
        const Term three = call(me, *sup, tuple("start_child"_a, elixir_child(list(binary("3")))));
        CHECK(three == tuple(atoms::ok, started_pid(me, "x-3")));
        // A factory refusing its args: {error, Reason} as it came; ignore is `ignore`.
        CHECK(call(me, *sup, tuple("terminate_child"_a, one[1])) == Term(atoms::ok));
        const Term bad = call(me, *sup, tuple("start_child"_a, elixir_child(list(7))));
        CHECK(bad == tuple(atoms::error, tuple("bad_args"_a, list(binary("x"), 7))));
        CHECK(call(me, *sup, tuple("terminate_child"_a, one[1])) ==
              tuple(atoms::error, "not_found"_a));
    }
}
