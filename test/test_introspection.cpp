// What one C++ node answers another about its processes (process_info, processes,
// is_process_alive through rpc, as a BEAM operator asks them), rex's sbcast, and multi_call and
// abcast between C++ nodes. The same against real erl nodes: interop/test_introspection.cpp.
#include <doctest/doctest.h>

#include "distribute/call.hpp"
#include "distribute/rpc.hpp"
#include "node/access.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

struct TwoNodes {
    std::uint16_t epmd_port = free_port();
    Node server = start_node(node_options(epmd_port, "info_server", EpmdMode::embedded));
    Node client = start_node(node_options(epmd_port, "info_client"));

    Expected<Term, RpcError> ask(std::string_view function, std::vector<Term> args) {
        return rpc(client, server.name(), "erlang"_a, Atom::make(function).value(),
                   std::move(args));
    }
    Term info(const Pid& pid, Term items) {
        return ask("process_info", {Term(pid), items}).value();
    }
};

bool is_badarg(const Expected<Term, RpcError>& r) {
    return !r && r.error().code == RpcErrc::exception && r.error().reason == Term(atoms::badarg);
}

}  // namespace

TEST_SUITE("introspection between C++ nodes") {
    TEST_CASE(
        "process_info answers a mailbox's queue, links, monitors, trap_exit, dictionary and work; "
        "undefined once it ended; badarg for bad items and other nodes' pids") {
        TwoNodes t;
        Mailbox watched = t.server.open_mailbox();
        Mailbox other = t.server.open_mailbox();
        REQUIRE(t.server.register_name("watched"_a, watched.pid()).has_value());
        watched.link(other.pid());
        const Reference monitor = other.monitor(watched.pid());
        (void)watched.monitor("nobody"_a, t.server.name());  // fires at once: not held after
        const Reference held = watched.monitor(other.pid());
        other.send(watched.pid(), "one"_a);
        other.send(watched.pid(), "two"_a);
        auto& process = node::Access::process(watched);
        node::put_in_dictionary(process, Term("$initial_call"_a), tuple("m"_a, "f"_a, 1));
        node::put_in_dictionary(process, Term("$ancestors"_a), list(other.pid()));

        CHECK(t.info(watched.pid(), list("registered_name"_a, "status"_a, "message_queue_len"_a,
                                         "links"_a, "monitored_by"_a, "trap_exit"_a,
                                         "initial_call"_a, "current_function"_a, "priority"_a)) ==
              list(tuple("registered_name"_a, "watched"_a), tuple("status"_a, "runnable"_a),
                   tuple("message_queue_len"_a, 3), tuple("links"_a, list(other.pid())),
                   tuple("monitored_by"_a, list(other.pid())), tuple("trap_exit"_a, false),
                   tuple("initial_call"_a, tuple("proc_lib"_a, "init_p"_a, 5)),
                   tuple("current_function"_a, tuple("distribute"_a, "mailbox"_a, 0)),
                   tuple("priority"_a, "normal"_a)));
        // Three messages queued: the two sends and the DOWN of the monitor of nobody.
        CHECK(t.info(watched.pid(), Term("reductions"_a)) == tuple("reductions"_a, 3));
        CHECK(t.info(watched.pid(), Term("monitors"_a)) ==
              tuple("monitors"_a, list(tuple(atoms::process, other.pid()))));
        CHECK(t.info(watched.pid(), Term("dictionary"_a)) ==
              tuple("dictionary"_a, list(tuple("$initial_call"_a, tuple("m"_a, "f"_a, 1)),
                                         tuple("$ancestors"_a, list(other.pid())))));
        CHECK(t.info(watched.pid(), tuple("dictionary"_a, "$ancestors"_a)) ==
              tuple(tuple("dictionary"_a, "$ancestors"_a), list(other.pid())));
        CHECK(t.info(watched.pid(), Term("heap_size"_a)) == tuple("heap_size"_a, atoms::undefined));
        const auto memory = t.info(watched.pid(), Term("memory"_a))[1].to<std::int64_t>();
        CHECK(memory.value_or(0) > 0);
        // Taken messages leave the queue; an unnamed process's bare registered_name is [].
        REQUIRE(watched.receive(1s).has_value());
        CHECK(t.info(watched.pid(), Term("message_queue_len"_a)) ==
              tuple("message_queue_len"_a, 2));
        CHECK(t.info(other.pid(), Term("registered_name"_a)) == Term());
        CHECK(t.info(other.pid(), list("registered_name"_a)) ==
              list(tuple("registered_name"_a, Term())));

        CHECK(is_badarg(t.ask("process_info", {Term(watched.pid()), Term("bogus"_a)})));
        CHECK(is_badarg(t.ask("process_info", {Term(watched.pid()), list("status"_a, 1)})));
        CHECK(is_badarg(t.ask("process_info", {Term(watched.pid()), tuple(1, 2)})));
        Mailbox remote = t.client.open_mailbox();
        CHECK(is_badarg(t.ask("process_info", {Term(remote.pid())})));
        CHECK(is_badarg(t.ask("is_process_alive", {Term(1)})));

        const auto all = t.ask("processes", {}).value();
        CHECK(std::count(all.elements().begin(), all.elements().end(), Term(watched.pid())) == 1);
        CHECK(t.ask("is_process_alive", {Term(watched.pid())}).value() == Term(true));
        (void)held;
        (void)monitor;
        watched.close();
        CHECK(t.ask("process_info", {Term(watched.pid())}).value() == Term(atoms::undefined));
        CHECK(t.info(watched.pid(), list("status"_a)) == Term(atoms::undefined));
        CHECK(is_badarg(t.ask("process_info", {Term(watched.pid()), Term("bogus"_a)})));
        CHECK(t.ask("is_process_alive", {Term(watched.pid())}).value() == Term(false));
        const auto after = t.ask("processes", {}).value();
        CHECK(std::count(after.elements().begin(), after.elements().end(), Term(watched.pid())) ==
              0);
    }

    TEST_CASE("an actor shows its C++ type as its current function and in its '$initial_call'") {
        TwoNodes t;
        Mailbox observer = t.server.open_mailbox();
        auto actor = spawn_actor(t.server, probe(observer, "typed"), {.name = "typed"_a});
        REQUIRE(actor.has_value());
        // Started as proc_lib starts a gen_server: its '$initial_call' names the type.
        CHECK(t.info(actor->pid(), list("current_function"_a, "initial_call"_a,
                                        tuple("dictionary"_a, "$initial_call"_a))) ==
              list(tuple("current_function"_a, tuple("distribute::testing::Probe"_a, "loop"_a, 0)),
                   tuple("initial_call"_a, tuple("proc_lib"_a, "init_p"_a, 5)),
                   tuple(tuple("dictionary"_a, "$initial_call"_a),
                         tuple("distribute::testing::Probe"_a, "init"_a, 1))));
    }

    TEST_CASE("rex passes on sbcast and send to a local name, and answers a missing one") {
        TwoNodes t;
        Mailbox sink = t.server.open_mailbox();
        REQUIRE(t.server.register_name("sink"_a, sink.pid()).has_value());
        Mailbox caller = t.client.open_mailbox();
        caller.send("rex"_a, t.server.name(),
                    tuple(caller.pid(), tuple("sbcast"_a, "sink"_a, "hello"_a)));
        CHECK(next_message(caller) == tuple("rex"_a, t.server.name(), t.server.name()));
        CHECK(next_message(sink) == Term("hello"_a));
        caller.send("rex"_a, t.server.name(),
                    tuple(caller.pid(), tuple("send"_a, "sink"_a, "again"_a)));
        CHECK(next_message(sink) == tuple(caller.pid(), "again"_a));
        caller.send("rex"_a, t.server.name(),
                    tuple(caller.pid(), tuple("sbcast"_a, "nosuch"_a, "hello"_a)));
        CHECK(next_message(caller) ==
              tuple("rex"_a, t.server.name(), tuple("nonexisting_name"_a, "nosuch"_a)));
    }

    TEST_CASE(
        "multi_call gets every node's reply and names the missing, nameless and silent nodes as "
        "bad; abcast reaches every node") {
        TwoNodes t;
        Mailbox observer = t.server.open_mailbox();
        REQUIRE(spawn_actor(t.server, probe(observer, "s"), {.name = "mc"_a}).has_value());
        REQUIRE(spawn_actor(t.client, probe(observer, "c"), {.name = "mc"_a}).has_value());
        const Atom missing = Atom::make(unique_name("nobody") + "@localhost").value();
        auto result = multi_call(t.client, {t.server.name(), t.client.name(), missing}, "mc"_a,
                                 Term("ping"_a), 5s);
        REQUIRE(result.has_value());
        CHECK(result->replies.size() == 2);
        for (const auto& [node, reply] : result->replies)
            CHECK(reply == Term("pong"_a));
        CHECK(result->bad_nodes == std::vector<Atom>{missing});
        auto nameless = multi_call(t.client, {t.server.name()}, "nosuch"_a, Term("ping"_a), 5s);
        REQUIRE(nameless.has_value());
        CHECK(nameless->bad_nodes == std::vector<Atom>{t.server.name()});
        // A process that never answers: bad once the timeout runs out.
        Mailbox silent = t.server.open_mailbox();
        REQUIRE(t.server.register_name("silent"_a, silent.pid()).has_value());
        auto slow = multi_call(t.client, {t.server.name()}, "silent"_a, Term("ping"_a), 100ms);
        REQUIRE(slow.has_value());
        CHECK(slow->replies.empty());
        CHECK(slow->bad_nodes == std::vector<Atom>{t.server.name()});
        auto none = multi_call(t.client, {}, "mc"_a, Term("ping"_a));
        REQUIRE(none.has_value());
        CHECK((none->replies.empty() && none->bad_nodes.empty()));

        Mailbox caster = t.client.open_mailbox();
        abcast(caster, {t.server.name(), t.client.name()}, "mc"_a, tuple("exit"_a, "normal"_a));
        CHECK(terminated_reason(observer, "s") == Term("normal"_a));
        CHECK(terminated_reason(observer, "c") == Term("normal"_a));
    }
}
