// A BEAM operator looking at our node: erlang:process_info/1,2, processes/0 and
// is_process_alive/1 through rpc on C++ pids, etop in text mode pointed at our node; and
// gen_server:multi_call/abcast and rpc:sbcast across two erl nodes and ours, both ways.
#include <doctest/doctest.h>

#include "distribute/actor.hpp"
#include "distribute/call.hpp"
#include "rpc_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace introspection_test {

// Atoms for code that runs on the node's threads (node_support's atom() asserts, for test threads).
Atom name(const char* text) {
    return Atom::make(text).value();
}

// Answers {echo, X} with X and tells `observer` {cast, Message} of every cast.
class Echoer : public Actor {
  public:
    explicit Echoer(Pid observer) : observer_(observer) {}
    CallResult handle_call(const Term& request, From) override {
        if (auto echo = request.tagged<Term>(name("echo"))) return Reply{std::get<0>(*echo)};
        return Reply{tuple(atoms::error, request)};
    }
    HandleResult handle_cast(const Term& message) override {
        self().send(observer_, tuple(name("cast"), message));
        return NoReply{};
    }

  private:
    Pid observer_;
};

// Our node with an Echoer registered as `name`, linked to `inbox`.
struct WithEcho {
    explicit WithEcho(std::string_view prefix)
        : node(start_node(cluster.node_options("cpp_" + std::string(prefix), &log))),
          inbox(named_mailbox(node, "inbox")) {
        auto spawned = spawn_actor(node, std::make_unique<Echoer>(inbox.pid()),
                                   {.name = atom("mc"), .link_to = inbox.pid()});
        REQUIRE(spawned.has_value());
        echo = *spawned;
    }
    std::string cpp() const { return quoted(node.name()); }

    Cluster cluster;
    LogCapture log;
    Node node;
    Mailbox inbox;
    ProcessHandle echo;
};

}  // namespace introspection_test

using namespace introspection_test;

TEST_CASE(
    "process_info of a C++ actor through rpc answers its name, status, queue, links, monitors, "
    "type and work; undefined once it ended; badarg for an item the BEAM does not know") {
    WithEcho t("process_info");
    INFO(t.log.text());
    ErlNode erl(t.cluster.erl_options("erl_asks_info"));
    register_tester(erl);
    const std::string cpp = t.cpp();
    const std::string inbox = to_string(Term(t.inbox.pid()));
    // Each eval is an expression of its own: the pid and the monitor live in the dictionary of
    // erl's evaluating process.
    auto ask = [&](const std::string& expression) { return erl.eval("P = get(p), " + expression); };
    CHECK(erl.eval("put(p, rpc:call(" + cpp + ", erlang, whereis, [mc])), is_pid(get(p))") ==
          "true");
    // A monitor from erl shows as monitored_by; a call is work done.
    CHECK(ask("put(m, erlang:monitor(process, P)), gen_server:call(P, {echo, 1})") == "1");
    CHECK(ask("rpc:call(" + cpp +
              ", erlang, process_info, [P, [registered_name, status, message_queue_len, "
              "trap_exit, current_function, initial_call, priority]])") ==
          "[{registered_name,mc},{status,waiting},{message_queue_len,0},{trap_exit,false},"
          "{current_function,{'introspection_test::Echoer',loop,0}},"
          "{initial_call,{proc_lib,init_p,5}},{priority,normal}]");
    // As a gen_server's: what proc_lib keeps in its dictionary names the C++ type.
    CHECK(ask("{dictionary, D} = rpc:call(" + cpp +
              ", erlang, process_info, [P, dictionary]), lists:keyfind('$initial_call', 1, D)") ==
          "{'$initial_call',{'introspection_test::Echoer',init,1}}");
    CHECK(to_string(erl_value(
              erl, t.node, t.inbox,
              "element(2, rpc:call(" + cpp + ", erlang, process_info, [get(p), links]))")) ==
          "[" + inbox + "]");
    CHECK(ask("rpc:call(" + cpp +
              ", erlang, process_info, [P, monitored_by]) =:= {monitored_by, [self()]}") == "true");
    CHECK(ask("{reductions, R1} = rpc:call(" + cpp +
              ", erlang, process_info, [P, reductions]), gen_server:cast(P, c), "
              "gen_server:call(P, {echo, 2}), {reductions, R2} = rpc:call(" +
              cpp + ", erlang, process_info, [P, reductions]), R1 > 0 andalso R2 >= R1 + 2") ==
          "true");
    CHECK(ask("{memory, Bytes} = erpc:call(" + cpp +
              ", erlang, process_info, [P, memory]), is_integer(Bytes) andalso Bytes > 0") ==
          "true");
    // process_info/1: the BEAM's default items, those a C++ process has.
    CHECK(ask("[K || {K, _} <- rpc:call(" + cpp + ", erlang, process_info, [P])]") ==
          "[registered_name,current_function,initial_call,status,message_queue_len,links,"
          "dictionary,trap_exit,priority,reductions]");
    // registered_name alone is the one bare answer; an item of no C++ meaning is undefined.
    CHECK(erl.eval("rpc:call(" + cpp + ", erlang, process_info, [rpc:call(" + cpp +
                   ", erlang, whereis, [rex]), registered_name])") == "{registered_name,rex}");
    CHECK(ask("rpc:call(" + cpp + ", erlang, process_info, [P, [heap_size, group_leader]])") ==
          "[{heap_size,undefined},{group_leader,undefined}]");
    // Bad items and other nodes' pids are badarg, as on a BEAM.
    CHECK(ask("{badrpc, {'EXIT', {badarg, [{erlang, process_info, _, _} | _]}}} = "
              "rpc:call(" +
              cpp + ", erlang, process_info, [P, bogus]), ok") == "ok");
    CHECK(ask("try erpc:call(" + cpp +
              ", erlang, process_info, [P, [status, bogus]]) catch error:{exception, R, _} -> R "
              "end") == "badarg");
    CHECK(erl.eval("try erpc:call(" + cpp +
                   ", erlang, process_info, [self(), status]) catch error:{exception, R, _} -> R "
                   "end") == "badarg");
    // processes/0 lists our pids in order; is_process_alive/1 and whereis/1 agree.
    CHECK(ask("Ps = rpc:call(" + cpp +
              ", erlang, processes, []), "
              "{lists:member(P, Ps), lists:member(rpc:call(" +
              cpp +
              ", erlang, whereis, [rex]), Ps), Ps =:= lists:sort(Ps), "
              "rpc:call(" +
              cpp + ", erlang, is_process_alive, [P])}") == "{true,true,true,true}");
    CHECK(ask("M = get(m), ok = gen_server:stop(P), receive {'DOWN', M, _, _, _} -> ok end, "
              "{rpc:call(" +
              cpp + ", erlang, process_info, [P]), rpc:call(" + cpp +
              ", erlang, process_info, [P, [status]]), rpc:call(" + cpp +
              ", erlang, is_process_alive, [P]), lists:member(P, rpc:call(" + cpp +
              ", erlang, processes, []))}") == "{undefined,undefined,false,false}");
    CHECK(ask("element(1, rpc:call(" + cpp + ", erlang, process_info, [P, bogus]))") == "badrpc");
}

TEST_CASE("etop in text mode pointed at our node lists its processes by registered name and type") {
    WithEcho t("etop");
    INFO(t.log.text());
    TempDir beams;
    // etop is compiled here from the observer application's sources (erlang-src, with its
    // etop.hrl from erlang-dev): Debian packages its beams in erlang-observer, which pulls in
    // wxWidgets and WebKit for the GUI. The OTP 27 and 29 roots carry no observer sources, so
    // etop (and the capture module, compiled by the same erlc) runs on this machine's OTP whatever
    // release the suite meets; etop_collect's records are the same in 25 to 29.
    const std::string observer = run_erl_eval(
        "[D] = filelib:wildcard(code:root_dir() ++ \"/lib/observer-*\"), io:format(\"~s\", [D])",
        60s, {}, "");
    const std::vector<std::string> sources{
        observer + "/src/etop.erl", observer + "/src/etop_txt.erl", observer + "/src/etop_tr.erl",
        INTEROP_SOURCE_DIR "/erl/etop_capture.erl"};
    std::vector<std::string> erlc{
        "erlc", "-I", observer + "/include", "-I", observer + "/src", "-o", beams.path()};
    erlc.insert(erlc.end(), sources.begin(), sources.end());
    const RunResult compiled = run(erlc, 60s, {}, {}, "");
    REQUIRE_MESSAGE(compiled.exit_status == 0, compiled.err);
    auto options = t.cluster.erl_options("erl_etop");
    options.otp_release = "";
    options.extra_args.insert(options.extra_args.end(), {"-pa", beams.path()});
    ErlNode erl(options);
    const std::string text = erl.eval("etop_capture:run(" + t.cpp() + ", 10000)");
    INFO(text);
    CHECK(text.find(std::string(t.node.name().name())) != std::string::npos);
    CHECK(text.find("Current Function") != std::string::npos);
    // Our actor by its name and its C++ type, and the node's own services.
    CHECK(text.find(" mc ") != std::string::npos);
    // etop cuts the column at its width: the type's beginning.
    CHECK(text.find("'introspection_test:") != std::string::npos);
    CHECK(text.find(" rex ") != std::string::npos);
    // The GUI's calls get a reason that says what is not there, not undef.
    CHECK(erl.eval("{badrpc, {'EXIT', {{notsup, Why}, _}}} = rpc:call(" + t.cpp() +
                   ", observer_backend, sys_info, []), is_binary(Why)") == "true");
}

TEST_CASE(
    "gen_server:multi_call, abcast and rpc:sbcast from erl reach our actor and two erl nodes, "
    "and report a missing node as bad") {
    WithEcho t("multi_erl");
    INFO(t.log.text());
    TestModules modules;
    ErlNode erl1(modules.with_modules(t.cluster.erl_options("erl_mc1")));
    ErlNode erl2(modules.with_modules(t.cluster.erl_options("erl_mc2")));
    register_tester(erl1);
    for (ErlNode* erl : {&erl1, &erl2})
        CHECK(erl->eval("is_pid(rpc_peer_server:start(mc)), register(sink, spawn(fun() -> "
                        "receive X -> tester ! {sunk, X} end end)), ok") == "ok");
    const std::string missing = "'nobody@" + short_host() + "'";
    const std::string nodes = "[" + quoted(erl1.node_name()) + ", " + quoted(erl2.node_name()) +
                              ", " + t.cpp() + ", " + missing + "]";
    const std::string answering =
        "[" + quoted(erl1.node_name()) + ", " + quoted(erl2.node_name()) + ", " + t.cpp() + "]";
    const std::string bad = "[" + missing.substr(1, missing.size() - 2) + "]";
    CHECK(
        erl1.eval("{Replies, Bad} = gen_server:multi_call(" + nodes +
                  ", mc, {echo, hi}, 5000), {lists:sort(Replies) =:= lists:sort([{N, hi} || N <- " +
                  answering + "]), Bad}") == "{true," + bad + "}");
    CHECK(erl1.eval("gen_server:abcast(" + nodes + ", mc, {add, 5})") == "abcast");
    Term cast = next_message(t.inbox);
    CHECK(to_string(cast) == "{cast,{add,5}}");
    CHECK(erl1.eval("gen_server:call({mc, " + quoted(erl2.node_name()) + "}, get)") == "5");
    // rpc:sbcast goes through each node's rex: ours passes the message to the named process.
    Mailbox sink = named_mailbox(t.node, "sink");
    CHECK(erl1.eval("{Good, Bad2} = rpc:sbcast(" + nodes +
                    ", sink, hello), {lists:sort(Good) =:= lists:sort(" + answering + "), Bad2}") ==
          "{true," + bad + "}");
    CHECK(to_string(next_message(sink)) == "hello");
    CHECK(erl1.eval("receive {sunk, hello} -> sunk after 5000 -> none end") == "sunk");
    // A name nobody has here: a bad node, as rex answers {nonexisting_name, Name}.
    CHECK(erl1.eval("rpc:sbcast([" + t.cpp() + "], nosuch, hello)") ==
          "{[],[" + std::string(t.node.name().name()) + "]}");
}

TEST_CASE("multi_call from C++ reaches two erl nodes and ours at once and names the missing node") {
    WithEcho t("multi_cpp");
    INFO(t.log.text());
    TestModules modules;
    ErlNode erl1(modules.with_modules(t.cluster.erl_options("erl_cm1")));
    ErlNode erl2(modules.with_modules(t.cluster.erl_options("erl_cm2")));
    for (ErlNode* erl : {&erl1, &erl2})
        CHECK(erl->eval("is_pid(rpc_peer_server:start(mc))") == "true");
    const Atom missing = atom("nobody@" + short_host());
    const std::vector<Atom> nodes = {atom(erl1.node_name()), t.node.name(), atom(erl2.node_name()),
                                     missing};
    auto result = multi_call(t.node, nodes, atom("mc"), tuple(atom("echo"), atom("x")), 5s);
    REQUIRE(result.has_value());
    std::vector<std::string> replied;
    for (const auto& [node, reply] : result->replies) {
        CHECK(reply == Term(atom("x")));
        replied.emplace_back(node.name());
    }
    std::sort(replied.begin(), replied.end());
    std::vector<std::string> expected = {erl1.node_name(), erl2.node_name(),
                                         std::string(t.node.name().name())};
    std::sort(expected.begin(), expected.end());
    CHECK(replied == expected);
    CHECK(result->bad_nodes == std::vector<Atom>{missing});
    // A server that answers too late counts as a bad node.
    auto slow = multi_call(t.node, {atom(erl1.node_name())}, atom("mc"),
                           tuple(atom("sleep"), std::int64_t{600}), 100ms);
    REQUIRE(slow.has_value());
    CHECK(slow->replies.empty());
    CHECK(slow->bad_nodes == std::vector<Atom>{atom(erl1.node_name())});
    // abcast: every node's server gets the cast.
    abcast(t.inbox, nodes, atom("mc"), tuple(atom("add"), std::int64_t{3}));
    CHECK(to_string(next_message(t.inbox)) == "{cast,{add,3}}");
    // Our own server's cast is here; the casts to erl cross connections, and erl's own call may
    // reach its server before the cast does.
    for (ErlNode* erl : {&erl1, &erl2})
        eventually([&] { return erl->eval("gen_server:call(mc, get)") == "3"; });
}

TEST_CASE("Elixir reads a C++ actor's process_info through :rpc and calls it with multi_call") {
    REQUIRE_MESSAGE(run({"sh", "-c", "command -v elixir"}, 10s).exit_status == 0,
                    "elixir is not installed");
    WithEcho t("elixir_info");
    INFO(t.log.text());
    const std::string script = "cpp = :\"" + std::string(t.node.name().name()) + "\"" + R"EX(
        p = fn x -> :io.format(~c"~w~n", [x]) end
        pid = :rpc.call(cpp, :erlang, :whereis, [:mc])
        p.(:rpc.call(cpp, :erlang, :process_info, [pid, [:registered_name, :current_function]]))
        p.(GenServer.multi_call([cpp], :mc, {:echo, :ex}))
    )EX";
    const RunResult r = run(
        {"elixir", "--sname", unique_name("ex_info"), "--cookie", "interop_cookie", "-e", script},
        90s, {"ERL_EPMD_PORT=" + std::to_string(t.cluster.epmd_port())});
    INFO("elixir stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exit_status == 0);
    CHECK(r.out ==
          "[{registered_name,mc},{current_function,{'introspection_test::Echoer',loop,0}}]\n"
          "{[{" +
              std::string(t.node.name().name()) + ",ex}],[]}\n");
}
