// rpc without erl: the result and exception shapes of erpc, rpc and gen (pure functions, checked
// against what OTP 25's erpc.erl, rpc.erl and gen.erl make and read), and rpc and gen_server
// calls between two C++ nodes of this program, which serve each other's calls.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "distribute/rpc.hpp"
#include "node_support.hpp"
#include "otp/gen.hpp"
#include "otp/rpc_shapes.hpp"

using namespace distribute;
using namespace distribute::otp;
using namespace std::chrono_literals;

namespace {

const Term res = Term(Reference{"n@h"_a, 1, 3, {1, 2, 3, 0, 0}});

Term frame(Atom m, Atom f, Term a) {
    return tuple(m, f, std::move(a), Term());
}

}  // namespace

TEST_SUITE("rpc shapes") {
    TEST_CASE("erpc:execute_call's exit reasons: return, throw, exit, and error with its stack") {
        CHECK(erpc_call_reason(res, RpcResult(Term(42))) == tuple(res, "return"_a, 42));
        CHECK(erpc_call_reason(res, RpcResult(rpc_throw("t"_a))) == tuple(res, "throw"_a, "t"_a));
        CHECK(erpc_call_reason(res, RpcResult(rpc_exit("e"_a))) == tuple(res, "exit"_a, "e"_a));
        const RpcResult error = with_stack(rpc_error("boom"_a), "demo"_a, "fail"_a, 1);
        CHECK(erpc_call_reason(res, error) ==
              tuple(res, "error"_a, "boom"_a, list(frame("demo"_a, "fail"_a, Term(1)))));
    }

    TEST_CASE("an error without a stack gets [{M, F, Arity, []}], one with a stack keeps it") {
        auto filled = with_stack(rpc_error("x"_a), "m"_a, "f"_a, 2);
        REQUIRE_FALSE(filled.has_value());
        CHECK(filled.error().stack == list(frame("m"_a, "f"_a, Term(2))));
        const Term own = list(frame("erlang"_a, "+"_a, list(1, "a"_a)));
        auto kept =
            with_stack(unexpected(RpcRaise{atoms::error, "badarith"_a, own}), "m"_a, "f"_a, 2);
        CHECK(kept.error().stack == own);
        // throw and exit have no stack in erpc's answer.
        CHECK_FALSE(with_stack(rpc_throw("x"_a), "m"_a, "f"_a, 0).error().stack.has_value());
    }

    TEST_CASE("undef is raised as a BEAM raises it: the arguments in the frame, not the arity") {
        const RpcRaise undef = undef_raise("demo"_a, "nosuch"_a, list(1, 2));
        CHECK(undef.kind == atoms::error);
        CHECK(undef.reason == Term(atoms::undef));
        CHECK(undef.stack == list(frame("demo"_a, "nosuch"_a, list(1, 2))));
    }

    TEST_CASE("rex replies are rpc.erl's: the value, a thrown value as is, badrpc for the rest") {
        CHECK(rex_reply(RpcResult(Term(7))) == Term(7));
        CHECK(rex_reply(RpcResult(rpc_throw("v"_a))) == Term("v"_a));
        CHECK(rex_reply(RpcResult(rpc_exit("r"_a))) ==
              tuple(atoms::badrpc, tuple(atoms::EXIT, "r"_a)));
        const RpcResult error = with_stack(rpc_error("r"_a), "m"_a, "f"_a, 0);
        CHECK(rex_reply(error) ==
              tuple(atoms::badrpc,
                    tuple(atoms::EXIT, tuple("r"_a, list(frame("m"_a, "f"_a, Term(0)))))));
    }

    TEST_CASE("rex replies read back as what they stand for: the inverse of rex_reply") {
        CHECK(read_rex_reply(Term(7), "n@h"_a, "m"_a, "f"_a).value() == Term(7));
        const Term thrown = rex_reply(RpcResult(rpc_throw("v"_a)));
        CHECK(read_rex_reply(thrown, "n@h"_a, "m"_a, "f"_a).value() == Term("v"_a));
        auto exited = read_rex_reply(rex_reply(RpcResult(rpc_exit("r"_a))), "n@h"_a, "m"_a, "f"_a);
        REQUIRE_FALSE(exited.has_value());
        CHECK(exited.error().code == RpcErrc::exception);
        CHECK(exited.error().kind == atoms::exit);
        CHECK(exited.error().reason == Term("r"_a));
        auto failed = read_rex_reply(rex_reply(with_stack(rpc_error("r"_a), "m"_a, "f"_a, 0)),
                                     "n@h"_a, "m"_a, "f"_a);
        REQUIRE_FALSE(failed.has_value());
        CHECK(failed.error().code == RpcErrc::exception);
        CHECK(failed.error().kind == atoms::error);
        CHECK(failed.error().stack == list(frame("m"_a, "f"_a, Term(0))));
        auto undef =
            read_rex_reply(rex_reply(RpcResult(unexpected(undef_raise("m"_a, "f"_a, list(1))))),
                           "n@h"_a, "m"_a, "f"_a);
        REQUIRE_FALSE(undef.has_value());
        CHECK(undef.error().code == RpcErrc::undef);
        auto down = read_rex_reply(tuple(atoms::badrpc, "nodedown"_a), "n@h"_a, "m"_a, "f"_a);
        REQUIRE_FALSE(down.has_value());
        CHECK(down.error().code == RpcErrc::nodedown);
    }

    TEST_CASE("an erpc:cast process ends normal, or as an uncaught exception ends a BEAM process") {
        CHECK(erpc_cast_reason(RpcResult(Term(1))) == Term(atoms::normal));
        CHECK(erpc_cast_reason(RpcResult(rpc_exit("r"_a))) == Term("r"_a));
        const Term cast_frame = list(frame("erpc"_a, "execute_cast"_a, Term(3)));
        CHECK(erpc_cast_reason(RpcResult(rpc_throw("v"_a))) ==
              tuple(tuple("nocatch"_a, "v"_a), cast_frame));
        const Term stack = list(frame("m"_a, "f"_a, Term(0)));
        CHECK(erpc_cast_reason(with_stack(rpc_error("r"_a), "m"_a, "f"_a, 0)) ==
              tuple(tuple("exception"_a, tuple("r"_a, stack)), cast_frame));
    }

    TEST_CASE("an erpc DOWN reads back as the result or the exception it carries") {
        const Atom node = "n@h"_a;
        auto read = [&](const Term& reason) {
            return read_erpc_down(res, reason, node, "m"_a, "f"_a);
        };
        auto value = read(tuple(res, "return"_a, list(1)));
        REQUIRE(value.has_value());
        CHECK(*value == list(1));
        auto thrown = read(tuple(res, "throw"_a, "t"_a));
        CHECK(thrown.error().code == RpcErrc::exception);
        CHECK(thrown.error().kind == atoms::throw_);
        CHECK(thrown.error().reason == Term("t"_a));
        auto exited = read(tuple(res, "exit"_a, "e"_a));
        CHECK(exited.error().kind == atoms::exit);
        const Term stack = list(frame("m"_a, "f"_a, Term(1)));
        auto error = read(tuple(res, "error"_a, "boom"_a, stack));
        CHECK(error.error().code == RpcErrc::exception);
        CHECK(error.error().stack == stack);
        // undef for the function called is undef; raised deeper it is just an exception.
        auto undef = read(tuple(res, "error"_a, atoms::undef, list(frame("m"_a, "f"_a, list()))));
        CHECK(undef.error().code == RpcErrc::undef);
        auto deeper =
            read(tuple(res, "error"_a, atoms::undef, list(frame("other"_a, "g"_a, list()), stack)));
        CHECK(deeper.error().code == RpcErrc::exception);
        auto erpc_error = read(tuple(res, "error"_a, tuple("erpc"_a, "system_limit"_a)));
        CHECK(erpc_error.error().code == RpcErrc::exception);
        CHECK(erpc_error.error().reason == tuple("erpc"_a, "system_limit"_a));
        CHECK(read(Term(atoms::noconnection)).error().code == RpcErrc::nodedown);
        // Another result reference, or a plain reason: the process died on its own.
        auto killed = read(Term(atoms::killed));
        CHECK(killed.error().code == RpcErrc::exception);
        CHECK(killed.error().kind == atoms::exit);
        CHECK(killed.error().reason == Term(atoms::killed));
        const Term other = Term(Reference{"n@h"_a, 1, 3, {9, 9, 9, 0, 0}});
        CHECK(read(tuple(other, "return"_a, 1)).error().code == RpcErrc::exception);
    }

    TEST_CASE("spawn errors: noconnection is nodedown, the others a refusal") {
        CHECK(spawn_error(Term(atoms::noconnection), "n@h"_a).code == RpcErrc::nodedown);
        const RpcError refused = spawn_error(Term("notsup"_a), "n@h"_a);
        CHECK(refused.code == RpcErrc::refused);
        CHECK(refused.reason == Term("notsup"_a));
        CHECK(rpc_timeout("n@h"_a).code == RpcErrc::timeout);
    }

    TEST_CASE("a call's DOWN reads as gen:do_call reads it") {
        CHECK(call_down_error(Term(atoms::noproc), "n@h"_a).code == CallErrc::noproc);
        const CallError down = call_down_error(Term(atoms::noconnection), "n@h"_a);
        CHECK(down.code == CallErrc::nodedown);
        CHECK(down.reason == tuple("nodedown"_a, "n@h"_a));
        const CallError exited = call_down_error(tuple("shutdown"_a, 1), "n@h"_a);
        CHECK(exited.code == CallErrc::exited);
        CHECK(exited.reason == tuple("shutdown"_a, 1));
    }

    TEST_CASE("a gen_call tag's alias: [alias | Ref] and [[alias | Ref] | _], nothing else") {
        const Reference ref{"n@h"_a, 1, 3, {4, 5, 6, 0, 0}};
        const Term alias_head[] = {Term(atoms::alias)};
        const Term tag = list_from(alias_head, Term(ref));
        CHECK(tag_alias(tag) == ref);
        const Term nested_head[] = {tag};
        CHECK(tag_alias(list_from(nested_head, Term("x"_a))) == ref);
        CHECK_FALSE(tag_alias(Term(ref)).has_value());
        CHECK_FALSE(tag_alias(list(atoms::alias, ref)).has_value());
        CHECK_FALSE(tag_alias(Term()).has_value());
        auto call = parse_gen_call(tuple(atoms::gen_call, tuple(Pid{"n@h"_a, 1, 0, 1}, tag), 5));
        REQUIRE(call.has_value());
        CHECK(call->request == Term(5));
        CHECK_FALSE(parse_gen_call(tuple(atoms::gen_call, tuple("x"_a, tag), 5)).has_value());
    }

    TEST_CASE(
        "ServerRef from an Erlang server term: pid, name, {Name, Node}, {global, Name}, {via, M, "
        "Name}, and back") {
        const Pid pid{"n@h"_a, 7, 0, 1};
        CHECK(*ServerRef::from_term(Term(pid))->pid() == pid);
        auto named = ServerRef::from_term(Term("counter"_a));
        CHECK(named->name() == "counter"_a);
        CHECK_FALSE(named->node().has_value());
        auto remote = ServerRef::from_term(tuple("counter"_a, "n@h"_a));
        CHECK(remote->node() == "n@h"_a);
        auto global = ServerRef::from_term(tuple("global"_a, binary("db")));
        REQUIRE(global.has_value());
        CHECK(global->registry() == "global"_a);
        CHECK(*global->registered_name() == binary("db"));
        CHECK(*global == ServerRef::global(binary("db")));
        auto via = ServerRef::from_term(tuple("via"_a, "my_registry"_a, 42));
        REQUIRE(via.has_value());
        CHECK(via->registry() == "my_registry"_a);
        for (const Term& t : {Term(pid), Term("counter"_a), tuple("counter"_a, "n@h"_a),
                              tuple("global"_a, binary("db")), tuple("via"_a, "r"_a, 42)})
            CHECK(ServerRef::from_term(t)->to_term() == t);
        CHECK_FALSE(ServerRef::from_term(Term(1)).has_value());
        CHECK_FALSE(ServerRef::from_term(tuple("via"_a, 1, 2)).has_value());
    }

    TEST_CASE("the error enums have categories of their own") {
        CHECK(std::string(std::error_code(RpcErrc::undef).category().name()) == "distribute.rpc");
        CHECK(std::error_code(RpcErrc::undef).message() == "undefined function");
        CHECK(std::string(std::error_code(CallErrc::noproc).category().name()) ==
              "distribute.call");
        CHECK(std::error_code(CallErrc::timeout).message() == "no reply in time");
    }
}

// ---------------------------------------------------------------------------------------------
// Two C++ nodes in this program: `server` serves rpc, `client` calls it

namespace {

using namespace testing;

struct TwoNodes {
    std::uint16_t epmd_port = free_port();
    Node server = start_node(node_options(epmd_port, "rpc_server", EpmdMode::embedded));
    Node client = start_node(node_options(epmd_port, "rpc_client"));
    RpcRegistry& registry = rpc_registry(server);
};

}  // namespace

TEST_SUITE("rpc between C++ nodes") {
    TEST_CASE(
        "the built-in functions answer as on a BEAM: node, nodes, registered, whereis, is_alive, "
        "system_info, statistics, net_adm:ping; anything else is undef") {
        TwoNodes t;
        auto call = [&](Atom m, Atom f, std::vector<Term> args) {
            return rpc(t.client, t.server.name(), m, f, std::move(args));
        };
        auto badarg_in = [&](Atom f, Term arg) {
            auto r = call("erlang"_a, f, {arg});
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code == RpcErrc::exception);
            CHECK(r.error().kind == atoms::error);
            CHECK(r.error().reason == Term(atoms::badarg));
            const Term info =
                tuple("error_info"_a, map({{Term("module"_a), Term("erl_erts_errors"_a)}}));
            CHECK(r.error().stack == list(tuple("erlang"_a, f, list(arg), list(info))));
        };
        CHECK(call("erlang"_a, "node"_a, {}).value() == Term(t.server.name()));
        // Both nodes are visible (the default), so the client is in nodes(), not nodes(hidden).
        CHECK(call("erlang"_a, "nodes"_a, {}).value() == list(t.client.name()));
        CHECK(call("erlang"_a, "nodes"_a, {Term("hidden"_a)}).value() == Term());
        CHECK(call("erlang"_a, "nodes"_a, {list("this"_a, "connected"_a)}).value() ==
              list(t.client.name(), t.server.name()));
        // A hidden node's connection is hidden on both ends, as erl -hidden's.
        NodeOptions hidden_options = node_options(t.epmd_port, "rpc_hidden");
        hidden_options.hidden = true;
        Node hidden = start_node(std::move(hidden_options));
        REQUIRE(rpc(hidden, t.server.name(), "erlang"_a, "node"_a, {}).has_value());
        CHECK(call("erlang"_a, "nodes"_a, {Term("hidden"_a)}).value() == list(hidden.name()));
        CHECK(call("erlang"_a, "nodes"_a, {}).value() == list(t.client.name()));
        badarg_in("nodes"_a, Term("bogus"_a));
        auto registered = call("erlang"_a, "registered"_a, {}).value();
        CHECK(registered.is_proper_list());
        std::vector<Term> names(registered.elements().begin(), registered.elements().end());
        CHECK(std::count(names.begin(), names.end(), Term("rex"_a)) == 1);
        CHECK(std::count(names.begin(), names.end(), Term("net_kernel"_a)) == 1);
        CHECK(call("erlang"_a, "whereis"_a, {Term("rex"_a)}).value() ==
              Term(*t.server.whereis("rex"_a)));
        CHECK(call("erlang"_a, "whereis"_a, {Term("nosuch"_a)}).value() == Term(atoms::undefined));
        badarg_in("whereis"_a, Term(1));
        CHECK(call("erlang"_a, "is_alive"_a, {}).value() == Term(true));
        CHECK(call("erlang"_a, "system_info"_a, {Term("otp_release"_a)}).value() ==
              *charlist("26"));
        CHECK(call("erlang"_a, "system_info"_a, {tuple("wordsize"_a, "internal"_a)}).value() ==
              Term(8));
        CHECK(call("erlang"_a, "system_info"_a, {Term("creation"_a)}).value() ==
              Term(static_cast<std::int64_t>(t.server.creation())));
        badarg_in("system_info"_a, Term("nonsense"_a));
        auto clock = call("erlang"_a, "statistics"_a, {Term("wall_clock"_a)}).value();
        CHECK(clock.unpack<std::int64_t, std::int64_t>().has_value());
        badarg_in("statistics"_a, Term("reductions"_a));
        CHECK(call("net_adm"_a, "ping"_a, {Term(t.client.name())}).value() == Term("pong"_a));
        const Atom nobody =
            Atom::make("nobody_" + std::to_string(::getpid()) + "@localhost").value();
        CHECK(call("net_adm"_a, "ping"_a, {Term(nobody)}).value() == Term("pang"_a));
        auto other = call("erlang"_a, "garbage_collect"_a, {});
        REQUIRE_FALSE(other.has_value());
        CHECK(other.error().code == RpcErrc::undef);
    }

    TEST_CASE("rpc runs a registered function on the other node; raises come back as they were") {
        TwoNodes t;
        t.registry.add("m"_a, "sum"_a, 2, [](std::span<const Term> a) -> RpcResult {
            auto x = a[0].to<BigInt>(), y = a[1].to<BigInt>();
            if (!x || !y) return rpc_error(Term(atoms::badarith));
            return Term(*x + *y);
        });
        t.registry.add("m"_a, "raise"_a, 1, [](std::span<const Term> a) -> RpcResult {
            if (a[0].is_atom("t"_a)) return rpc_throw("thrown"_a);
            if (a[0].is_atom("e"_a)) return rpc_exit("exited"_a);
            throw std::runtime_error("from C++");
        });
        CHECK(t.registry.contains("m"_a, "sum"_a, 2));
        CHECK_FALSE(t.registry.contains("m"_a, "sum"_a, 3));

        auto sum = rpc(t.client, t.server.name(), "m"_a, "sum"_a, {1, 2});
        REQUIRE_MESSAGE(sum.has_value(), sum.error().detail);
        CHECK(*sum == Term(3));
        auto bad = rpc(t.client, t.server.name(), "m"_a, "sum"_a, {"a"_a, 2});
        REQUIRE_FALSE(bad.has_value());
        CHECK(bad.error().code == RpcErrc::exception);
        CHECK(bad.error().stack == list(frame("m"_a, "sum"_a, Term(2))));
        CHECK(rpc(t.client, t.server.name(), "m"_a, "raise"_a, {"t"_a}).error().kind ==
              atoms::throw_);
        CHECK(rpc(t.client, t.server.name(), "m"_a, "raise"_a, {"e"_a}).error().reason ==
              Term("exited"_a));
        // A C++ exception is an error of the call, with what() in it; the node goes on.
        auto thrown = rpc(t.client, t.server.name(), "m"_a, "raise"_a, {"x"_a});
        CHECK(thrown.error().reason == tuple("cpp_exception"_a, binary("from C++")));
        auto undef = rpc(t.client, t.server.name(), "m"_a, "sum"_a, {1});
        CHECK(undef.error().code == RpcErrc::undef);
        CHECK(undef.error().stack == list(frame("m"_a, "sum"_a, list(1))));
        CHECK(t.registry.remove("m"_a, "sum"_a, 2));
        CHECK(rpc(t.client, t.server.name(), "m"_a, "sum"_a, {1, 2}).error().code ==
              RpcErrc::undef);
    }

    TEST_CASE(
        "an asynchronous function answers once, from any thread; unanswered is rpc_no_reply") {
        TwoNodes t;
        std::mutex mutex;
        std::vector<std::thread> threads;
        std::atomic<int> extra_answers_taken{0};
        t.registry.add_async("m"_a, "later"_a, 1, [&](std::vector<Term> args, RpcReply reply) {
            std::lock_guard lock(mutex);
            threads.emplace_back([args = std::move(args), reply, &extra_answers_taken] {
                reply(tuple("done"_a, args[0]));
                extra_answers_taken += reply(Term("second"_a)) ? 1 : 0;
                extra_answers_taken += reply.complete(rpc_error("third"_a)) ? 1 : 0;
            });
        });
        t.registry.add_async("m"_a, "drop"_a, 0, [](std::vector<Term>, RpcReply) {});
        auto later = rpc(t.client, t.server.name(), "m"_a, "later"_a, {5});
        REQUIRE_MESSAGE(later.has_value(), later.error().detail);
        CHECK(*later == tuple("done"_a, 5));
        auto dropped = rpc(t.client, t.server.name(), "m"_a, "drop"_a, {});
        REQUIRE_FALSE(dropped.has_value());
        CHECK(dropped.error().reason == Term("rpc_no_reply"_a));
        {
            std::lock_guard lock(mutex);
            for (auto& thread : threads)
                thread.join();
        }
        CHECK(extra_answers_taken == 0);
    }

    TEST_CASE("an rpc that times out gives timeout; the answer after it reaches nobody") {
        TwoNodes t;
        auto held = std::make_shared<std::vector<RpcReply>>();
        auto mutex = std::make_shared<std::mutex>();
        t.registry.add_async("m"_a, "hold"_a, 0, [held, mutex](std::vector<Term>, RpcReply r) {
            std::lock_guard lock(*mutex);
            held->push_back(std::move(r));
        });
        auto late = rpc(t.client, t.server.name(), "m"_a, "hold"_a, {}, 200ms);
        REQUIRE_FALSE(late.has_value());
        CHECK(late.error().code == RpcErrc::timeout);
        {
            std::lock_guard lock(*mutex);
            REQUIRE(held->size() == 1);
            CHECK(held->front()(Term("too_late"_a)));
        }
        // The client's node drops it: the mailbox that waited is gone. A call after works.
        t.registry.add("m"_a, "id"_a, 1, [](std::span<const Term> a) { return RpcResult(a[0]); });
        auto next = rpc(t.client, t.server.name(), "m"_a, "id"_a, {1});
        CHECK(next.has_value());
    }

    TEST_CASE("multicall and rpc to the caller's own node run through its own registry") {
        TwoNodes t;
        auto id = [](std::span<const Term> a) { return RpcResult(a[0]); };
        t.registry.add("m"_a, "id"_a, 1, id);
        rpc_registry(t.client).add("m"_a, "id"_a, 1, id);
        auto all = multicall(t.client, {t.client.name(), t.server.name()}, "m"_a, "id"_a, {7});
        REQUIRE(all.size() == 2);
        CHECK(all[0].value() == Term(7));
        CHECK(all[1].value() == Term(7));
        auto own = rpc(t.server, t.server.name(), "m"_a, "id"_a, {8});
        CHECK(own.value() == Term(8));
    }

    TEST_CASE("rpc_cast runs the function with no answer, on the other node and on this one") {
        TwoNodes t;
        Mailbox watcher = t.client.open_mailbox();
        const Pid to = watcher.pid();
        t.registry.add_async("m"_a, "tell"_a, 1, [&t, to](std::vector<Term> a, RpcReply reply) {
            t.server.open_mailbox().send(to, a[0]);
            reply(Term(atoms::ok));
        });
        rpc_cast(t.client, t.server.name(), "m"_a, "tell"_a, {"over"_a});
        auto got = watcher.receive(10s);
        REQUIRE(got.has_value());
        CHECK(*got == Term("over"_a));
        rpc_cast(t.server, t.server.name(), "m"_a, "tell"_a, {"here"_a});
        got = watcher.receive(10s);
        REQUIRE(got.has_value());
        CHECK(*got == Term("here"_a));
    }

    TEST_CASE("gen_server calls between C++ nodes: the other node's rex, a handler, noproc") {
        TwoNodes t;
        t.registry.add("m"_a, "id"_a, 1, [](std::span<const Term> a) { return RpcResult(a[0]); });
        auto viarex = call(t.client, ServerRef("rex"_a, t.server.name()),
                           tuple(atoms::call, "m"_a, "id"_a, list("x"_a), "user"_a));
        REQUIRE_MESSAGE(viarex.has_value(), viarex.error().detail);
        CHECK(*viarex == Term("x"_a));
        // A handler process answering calls as a gen_server does.
        ProcessHandle server = t.server.spawn([](const ProcessHandle& self, Term m) {
            if (auto c = parse_gen_call(m))
                gen_reply(self, c->caller, c->tag, tuple("got"_a, c->request));
        });
        REQUIRE(t.server.register_name("srv"_a, server.pid()).has_value());
        Mailbox me = t.client.open_mailbox();
        CHECK(call(me, ServerRef("srv"_a, t.server.name()), Term(1)).value() == tuple("got"_a, 1));
        CHECK(call(me, ServerRef(server.pid()), Term(2)).value() == tuple("got"_a, 2));
        CHECK(call(me, ServerRef("nosuch"_a, t.server.name()), Term(3)).error().code ==
              CallErrc::noproc);
        CHECK(call(me, ServerRef(me.pid()), Term(4)).error().reason == Term("calling_self"_a));
        CHECK(me.queued() == 0);
    }

    TEST_CASE(
        "a slow synchronous function holds up no other call; the pool size is fixed once up") {
        TwoNodes t;
        CHECK(t.registry.set_worker_threads(2));
        std::mutex mutex;
        std::condition_variable changed;
        bool released = false;
        int started = 0;
        t.registry.add("m"_a, "block"_a, 0, [&](std::span<const Term>) {
            std::unique_lock lock(mutex);
            ++started;
            changed.notify_all();
            changed.wait_for(lock, 30s, [&] { return released; });
            return RpcResult(Term("released"_a));
        });
        t.registry.add("m"_a, "id"_a, 1, [](std::span<const Term> a) { return RpcResult(a[0]); });
        std::thread slow([&] {
            auto r = rpc(t.client, t.server.name(), "m"_a, "block"_a, {}, 60s);
            CHECK(r.value() == Term("released"_a));
        });
        {
            std::unique_lock lock(mutex);
            REQUIRE(changed.wait_for(lock, 20s, [&] { return started == 1; }));
        }
        CHECK(rpc(t.client, t.server.name(), "m"_a, "id"_a, {1}, 20s).value() == Term(1));
        CHECK_FALSE(t.registry.set_worker_threads(8));
        {
            std::lock_guard lock(mutex);
            released = true;
            changed.notify_all();
        }
        slow.join();
    }
}
