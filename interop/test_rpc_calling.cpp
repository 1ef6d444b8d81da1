// Our node calling erl: gen_server calls and casts to an erl gen_server (by name and by pid),
// with their failures (timeout with the late reply dropped, noproc, nodedown, a server exiting
// during the call), erpc-style rpc with results and exceptions, multicall and rpc_cast, and the
// `distribute call` and `distribute rpc` commands.
#include <doctest/doctest.h>

#include <future>
#include <thread>

#include "cli/demo_services.hpp"
#include "rpc_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

Term add(std::int64_t n) {
    return tuple(atom("add"), n);
}

}  // namespace

TEST_CASE("call reaches an erl gen_server by {Name, Node} and by pid; a cast is applied in order") {
    Calling t;
    INFO(t.log.text());
    Mailbox me = t.node.open_mailbox();
    const ServerRef counter("counter"_a, t.peer);
    // A message already queued stays queued, in place: call receives selectively.
    me.send(me.pid(), atom("unrelated"));
    auto first = call(me, counter, add(2));
    REQUIRE_MESSAGE(first.has_value(), first.error().detail);
    CHECK(*first == Term(2));
    register_tester(t.erl);
    Mailbox inbox = named_mailbox(t.node, "inbox");
    const Pid pid = erl_pid(t.erl, t.node, inbox, "whereis(counter)");
    auto by_pid = call(me, ServerRef(pid), add(3));
    REQUIRE(by_pid.has_value());
    CHECK(*by_pid == Term(5));
    // A cast, then a call from the same process: the cast is applied first.
    cast(me, counter, add(10));
    auto total = call(me, counter, atom("get"));
    REQUIRE(total.has_value());
    CHECK(*total == Term(15));
    // From a temporary mailbox, with a big request.
    auto big = call(t.node, counter, add(1), 15s);
    REQUIRE(big.has_value());
    CHECK(*big == Term(16));
    CHECK(me.queued() == 1);
    CHECK(next_message(me) == Term(atom("unrelated")));
}

TEST_CASE("a call that times out gives timeout, and the reply that comes later is dropped") {
    Calling t;
    INFO(t.log.text());
    Mailbox me = t.node.open_mailbox();
    const ServerRef counter("counter"_a, t.peer);
    const auto dropped_before = t.node.stats().dropped_messages;
    auto late = call(me, counter, tuple(atom("sleep"), 1500), 200ms);
    REQUIRE_FALSE(late.has_value());
    CHECK(late.error().code == CallErrc::timeout);
    CHECK(late.error().reason == Term(atoms::timeout));
    CHECK(std::error_code(late.error().code) == std::error_code(CallErrc::timeout));
    // The server answers in order: once this reply is here, the late one has come and gone.
    auto next = call(me, counter, atom("get"), 15s);
    REQUIRE_MESSAGE(next.has_value(), next.error().detail);
    CHECK(*next == Term(0));
    CHECK(me.queued() == 0);
    // It reached the node and went nowhere: to an alias that is no more.
    CHECK(t.node.stats().dropped_messages > dropped_before);
}

TEST_CASE(
    "a call to a missing name or a dead pid gives noproc, to a node that is not there "
    "nodedown") {
    Calling t;
    INFO(t.log.text());
    Mailbox me = t.node.open_mailbox();
    auto missing = call(me, ServerRef("nosuch"_a, t.peer), atom("hello"));
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().code == CallErrc::noproc);
    CHECK(missing.error().reason == Term(atoms::noproc));

    register_tester(t.erl);
    Mailbox inbox = named_mailbox(t.node, "inbox");
    const Pid gone =
        erl_pid(t.erl, t.node, inbox, "P = spawn(fun() -> ok end), timer:sleep(50), P");
    auto dead = call(me, ServerRef(gone), atom("hello"));
    REQUIRE_FALSE(dead.has_value());
    CHECK(dead.error().code == CallErrc::noproc);

    const Atom nobody = dead_node();
    auto down = call(me, ServerRef("counter"_a, nobody), atom("hello"));
    REQUIRE_FALSE(down.has_value());
    CHECK(down.error().code == CallErrc::nodedown);
    CHECK(down.error().reason == tuple(atom("nodedown"), nobody));

    // A name on this node that nobody has, by name alone.
    auto local = call(me, ServerRef("nosuch_here"_a), atom("hello"));
    REQUIRE_FALSE(local.has_value());
    CHECK(local.error().code == CallErrc::noproc);
    CHECK(me.queued() == 0);
}

TEST_CASE(
    "a server that exits during the call gives exited with its reason; a lost connection "
    "gives nodedown") {
    Calling t;
    INFO(t.log.text());
    Mailbox me = t.node.open_mailbox();
    const ServerRef counter("counter"_a, t.peer);
    auto stopped = call(me, counter, tuple(atom("stop"), tuple(atom("shutdown"), atom("asked"))));
    REQUIRE_FALSE(stopped.has_value());
    CHECK(stopped.error().code == CallErrc::exited);
    CHECK(stopped.error().reason == tuple(atom("shutdown"), atom("asked")));

    REQUIRE(t.erl.eval("is_pid(rpc_peer_server:start(counter))") == "true");
    auto pending = std::async(std::launch::async, [&] {
        return call(t.node, counter, tuple(atom("sleep"), 30000), 60s);
    });
    eventually([&] { return erl_sleeping(t.erl); });
    CHECK(t.node.disconnect(t.peer));
    auto lost = pending.get();
    REQUIRE_FALSE(lost.has_value());
    CHECK(lost.error().code == CallErrc::nodedown);
    CHECK(lost.error().reason == tuple(atom("nodedown"), t.peer));
    CHECK(me.queued() == 0);
}

TEST_CASE("call reaches a C++ server on the same node: our rex, through its alias") {
    Calling t;
    INFO(t.log.text());
    REQUIRE(cli::start_demo_services(t.node).has_value());
    Mailbox me = t.node.open_mailbox();
    const Term request =
        tuple(atoms::call, atom("demo"), atom("echo"), list(atom("here")), atom("user"));
    auto local = call(me, ServerRef("rex"_a), request);
    REQUIRE_MESSAGE(local.has_value(), local.error().detail);
    CHECK(*local == Term(atom("here")));
    // {rex, ThisNode} is the same server.
    auto named = call(me, ServerRef("rex"_a, t.node.name()), request);
    REQUIRE(named.has_value());
    CHECK(*named == Term(atom("here")));
    CHECK(me.queued() == 0);
}

TEST_CASE("rpc into erl: results, throw, error with its stack, exit, undef, timeout, nodedown") {
    Calling t;
    INFO(t.log.text());
    auto reversed = rpc(t.node, t.peer, "lists"_a, "reverse"_a, {list(1, 2, 3)});
    REQUIRE_MESSAGE(reversed.has_value(), reversed.error().detail);
    CHECK(*reversed == list(3, 2, 1));
    auto name = rpc(t.node, t.peer, "erlang"_a, "node"_a, {});
    REQUIRE(name.has_value());
    CHECK(*name == Term(t.peer));

    auto thrown = rpc(t.node, t.peer, "erlang"_a, "throw"_a, {atom("ball")});
    REQUIRE_FALSE(thrown.has_value());
    CHECK(thrown.error().code == RpcErrc::exception);
    CHECK(thrown.error().kind == atoms::throw_);
    CHECK(thrown.error().reason == Term(atom("ball")));

    auto error = rpc(t.node, t.peer, "demo"_a, "fail"_a, {atom("boom")});
    REQUIRE_FALSE(error.has_value());
    CHECK(error.error().code == RpcErrc::exception);
    CHECK(error.error().kind == atoms::error);
    CHECK(error.error().reason == Term(atom("boom")));
    // demo.erl's frame, with its location: [{demo, fail, 1, [{file, "demo.erl"}, {line, N}]}]
    REQUIRE(error.error().stack.elements().size() == 1);
    const Term& frame = error.error().stack.elements()[0];
    REQUIRE(frame.is_tuple(4));
    CHECK(tuple(frame[0], frame[1], frame[2]) == tuple(atom("demo"), atom("fail"), 1));
    CHECK_FALSE(frame[3].is_nil());

    auto exited = rpc(t.node, t.peer, "erlang"_a, "exit"_a, {atom("bye")});
    REQUIRE_FALSE(exited.has_value());
    CHECK(exited.error().kind == atoms::exit);
    CHECK(exited.error().reason == Term(atom("bye")));

    auto undef = rpc(t.node, t.peer, "nosuch_module"_a, "f"_a, {1});
    REQUIRE_FALSE(undef.has_value());
    CHECK(undef.error().code == RpcErrc::undef);
    CHECK(undef.error().stack == list(tuple(atom("nosuch_module"), atom("f"), list(1), Term())));
    // undef raised further in is an exception like any other, not "no such function here".
    auto inner =
        rpc(t.node, t.peer, "erlang"_a, "apply"_a, {atom("nosuch_module"), atom("g"), Term()});
    REQUIRE_FALSE(inner.has_value());
    CHECK(inner.error().code == RpcErrc::exception);
    CHECK(inner.error().reason == Term(atoms::undef));

    auto slow = rpc(t.node, t.peer, "timer"_a, "sleep"_a, {30000}, 300ms);
    REQUIRE_FALSE(slow.has_value());
    CHECK(slow.error().code == RpcErrc::timeout);
    // As erpc leaves it: the process runs on, no longer monitored by anybody.
    eventually([&] {
        return t.erl.eval(
                   "[process_info(P, monitored_by) || P <- processes(), "
                   "process_info(P, current_function) =:= {current_function, {timer, "
                   "sleep, 1}}]") == "[{monitored_by,[]}]";
    });

    auto nodedown = rpc(t.node, dead_node(), "erlang"_a, "node"_a, {});
    REQUIRE_FALSE(nodedown.has_value());
    CHECK(nodedown.error().code == RpcErrc::nodedown);
    CHECK(std::error_code(nodedown.error().code).category().name() ==
          std::string("distribute.rpc"));
}

TEST_CASE("an rpc under way gives nodedown when the connection goes") {
    Calling t;
    INFO(t.log.text());
    auto pending = std::async(std::launch::async, [&] {
        return rpc(t.node, t.peer, "timer"_a, "sleep"_a, {30000}, 60s);
    });
    eventually([&] { return erl_sleeping(t.erl); });
    CHECK(t.node.disconnect(t.peer));
    auto lost = pending.get();
    REQUIRE_FALSE(lost.has_value());
    CHECK(lost.error().code == RpcErrc::nodedown);
}

TEST_CASE("multicall over two erl nodes, a dead one and our own gives each result in order") {
    Calling t;
    INFO(t.log.text());
    REQUIRE(cli::start_demo_services(t.node).has_value());
    ErlNode other(t.modules.with_modules(t.cluster.erl_options("erl_other")));
    const Atom second = atom(other.node_name());
    const Atom nobody = dead_node();
    auto results = multicall(t.node, {t.peer, nobody, second, t.node.name()}, "demo"_a, "echo"_a,
                             {atom("hi")}, 20s);
    REQUIRE(results.size() == 4);
    REQUIRE(results[0].has_value());
    CHECK(*results[0] == Term(atom("hi")));
    REQUIRE_FALSE(results[1].has_value());
    CHECK(results[1].error().code == RpcErrc::nodedown);
    REQUIRE(results[2].has_value());
    CHECK(*results[2] == Term(atom("hi")));
    REQUIRE(results[3].has_value());  // ours, run here by our registry
    CHECK(*results[3] == Term(atom("hi")));

    auto names = multicall(t.node, {second, t.peer}, "demo"_a, "node"_a, {});
    REQUIRE(names.size() == 2);
    REQUIRE(names[0].has_value());
    REQUIRE(names[1].has_value());
    CHECK(*names[0] == Term(second));
    CHECK(*names[1] == Term(t.peer));
    // To our own node alone: the registry answers, undef included.
    auto self = rpc(t.node, t.node.name(), "demo"_a, "add"_a, {1, 2});
    REQUIRE(self.has_value());
    CHECK(*self == Term(3));
    auto missing = rpc(t.node, t.node.name(), "demo"_a, "nosuch"_a, {});
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().code == RpcErrc::undef);
}

TEST_CASE("rpc_cast runs the function on erl and answers nothing") {
    Calling t;
    INFO(t.log.text());
    Mailbox me = t.node.open_mailbox();
    rpc_cast(t.node, t.peer, "erlang"_a, "send"_a, {Term(me.pid()), atom("cast_arrived")});
    CHECK(next_message(me) == Term(atom("cast_arrived")));
    rpc_cast(t.node, t.peer, "erlang"_a, "error"_a, {atom("ignored")});
    auto still = rpc(t.node, t.peer, "erlang"_a, "node"_a, {});
    CHECK(still.has_value());
}

TEST_CASE(
    "distribute ping, send, call and rpc print results in Erlang syntax, failures on stderr") {
    Calling t;
    INFO(t.log.text());
    const std::string cli = DISTRIBUTE_BUILD_ROOT "/src/cli/distribute";
    REQUIRE_MESSAGE(run({"test", "-x", cli}, 5s).exit_status == 0, cli << " is not built");
    const std::vector<std::string> env = {"ERL_EPMD_PORT=" + std::to_string(t.cluster.epmd_port())};
    auto command = [&](std::vector<std::string> args) {
        args.insert(args.begin(), cli);
        args.insert(args.end(), {"--cookie", "interop_cookie"});
        return run(args, 60s, env);
    };
    auto pong = command({"ping", t.erl.node_name()});
    CHECK(pong.exit_status == 0);
    CHECK(pong.out == "pong\n");
    const std::string host = t.erl.node_name().substr(t.erl.node_name().find('@'));
    auto pang = command({"ping", "nobody" + host});
    CHECK(pang.exit_status == 4);  // not registered (test_cli_client.cpp has every reason)
    CHECK(pang.out == "pang\n");

    REQUIRE(t.erl.eval("register(cli_inbox, spawn(fun() -> receive M -> receive {get, P} -> P ! M "
                       "end end end))") == "true");
    auto sent = command({"send", t.erl.node_name(), "cli_inbox", "{hello, [1, 2], <<\"x\">>}"});
    CHECK(sent.exit_status == 0);
    CHECK(t.erl.eval("cli_inbox ! {get, self()}, receive R -> R after 5000 -> timeout end") ==
          "{hello,[1,2],<<\"x\">>}");
    auto unparsable = command({"send", t.erl.node_name(), "cli_inbox", "{hello"});
    CHECK(unparsable.exit_status == 2);
    CHECK(unparsable.err.find("TERM") != std::string::npos);

    auto added = command({"call", t.erl.node_name(), "counter", "{add, 1180591620717411303424}"});
    CHECK(added.exit_status == 0);
    CHECK(added.out == "1180591620717411303424\n");
    auto missing = command({"call", t.erl.node_name(), "nosuch", "hello"});
    CHECK(missing.exit_status == 1);
    CHECK(missing.err.find("noproc") != std::string::npos);

    auto reversed = command({"rpc", t.erl.node_name(), "lists", "reverse", "[1, \"ab\", {c}]"});
    CHECK(reversed.exit_status == 0);
    CHECK(reversed.out == "[{c},\"ab\",1]\n");
    auto two = command({"rpc", t.erl.node_name(), "erlang", "max", "1", "2.5"});
    CHECK(two.out == "2.5\n");
    auto failed = command({"rpc", t.erl.node_name(), "demo", "fail", "boom"});
    CHECK(failed.exit_status == 1);
    CHECK(failed.out.empty());
    CHECK(failed.err.find("boom") != std::string::npos);
    CHECK(failed.err.find("{demo,fail,1,") != std::string::npos);
    auto undef = command({"rpc", t.erl.node_name(), "nosuch", "f"});
    CHECK(undef.exit_status == 1);
    CHECK(undef.err.find("undefined function") != std::string::npos);
    auto bad = command({"rpc", t.erl.node_name(), "lists", "reverse", "[1,"});
    CHECK(bad.exit_status == 2);
}
