// Monitors, links, exit signals and connection loss between our processes and erl processes, in
// both directions, with the reasons Erlang gives.
//
// Ordering used throughout: a signal one side sends is applied by the other side before anything
// sent after it over the same connection. So after our node.ping(erl) has answered, erl has taken
// in every link and monitor we sent before it; after erl_sync(), our node has taken in everything
// erl's evaluating process sent before it.
#include <doctest/doctest.h>

#include <algorithm>

#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// Our node has applied every signal erl's evaluating process sent so far.
void erl_sync(ErlNode& erl, const Node& node, Mailbox& inbox) {
    CHECK(erl.eval("{inbox, " + quoted(node.name()) + "} ! '$sync', ok") == "ok");
    static const Atom sync = Atom::make("$sync").value();
    auto got = inbox.receive_if([](const Term& t) { return t.is_atom(sync); }, 15s);
    REQUIRE(got.has_value());
}

// One node, one erl node with its evaluating process registered as tester, and our inbox.
struct Pair {
    Pair(std::string_view name)
        : node(start_with_log(name)), erl(cluster.erl_options("erl_" + std::string(name))) {
        register_tester(erl);
        inbox = named_mailbox(node, "inbox");
        peer = atom(erl.node_name());
    }
    Node start_with_log(std::string_view name) {
        return start_node(cluster.node_options("cpp_" + std::string(name), &log));
    }
    // An erl process that exits with R on {exit, R}, kept as get(key) on erl.
    Pid erl_waiter(std::string_view key) {
        return erl_pid(
            erl, node, inbox,
            "P = " + std::string(spawn_waiter) + ", put(" + std::string(key) + ", P), P");
    }
    Pid tester_pid() { return erl_pid(erl, node, inbox, "self()"); }
    // Our node's name as an Erlang expression, and as erl prints it (no quotes needed for @).
    std::string cpp() const { return quoted(node.name()); }
    std::string printed() const { return std::string(node.name().name()); }

    Cluster cluster;
    LogCapture log;
    Node node;
    ErlNode erl;
    Mailbox inbox;
    Atom peer;
};

Term down(const Reference& ref, const Term& object, const Term& reason) {
    return tuple(atoms::DOWN, ref, atoms::process, object, reason);
}

Term exit_message(const Pid& from, const Term& reason) {
    return tuple(atoms::EXIT, from, reason);
}

}  // namespace

TEST_CASE("a C++ monitor on an erl pid gets DOWN with the exit reason, or noproc at once if dead") {
    Pair t("mon_pid");
    INFO(t.log.text());
    Mailbox watcher = t.node.open_mailbox();

    const Pid p = t.erl_waiter("p");
    const Reference ref = watcher.monitor(p);
    CHECK(t.node.ping(t.peer));
    CHECK(t.erl.eval("get(p) ! {exit, foo}, ok") == "ok");
    CHECK(next_message(watcher) == down(ref, Term(p), Term("foo"_a)));

    // The same pid, dead now: erl answers the monitor with noproc.
    const Reference again = watcher.monitor(p);
    CHECK(next_message(watcher) == down(again, Term(p), Term(atoms::noproc)));

    // A reason that is not an atom travels as is.
    const Pid q = t.erl_waiter("q");
    const Reference qref = watcher.monitor(q);
    CHECK(t.node.ping(t.peer));
    CHECK(t.erl.eval("get(q) ! {exit, {shutdown, [1, <<\"two\">>]}}, ok") == "ok");
    CHECK(next_message(watcher) ==
          down(qref, Term(q), tuple(atoms::shutdown, list(1, binary("two")))));
    CHECK(watcher.queued() == 0);
}

TEST_CASE(
    "a C++ monitor by name on erl gets DOWN with {Name, Node}, or noproc for a missing name") {
    Pair t("mon_name");
    INFO(t.log.text());
    Mailbox watcher = t.node.open_mailbox();

    t.erl_waiter("p");
    CHECK(t.erl.eval("register(cpp_target, get(p))") == "true");
    const Reference ref = watcher.monitor("cpp_target"_a, t.peer);
    CHECK(t.node.ping(t.peer));
    CHECK(t.erl.eval("cpp_target ! {exit, bar}, ok") == "ok");
    CHECK(next_message(watcher) == down(ref, tuple("cpp_target"_a, t.peer), Term("bar"_a)));

    const Reference missing = watcher.monitor("nosuch"_a, t.peer);
    CHECK(next_message(watcher) == down(missing, tuple("nosuch"_a, t.peer), Term(atoms::noproc)));
}

TEST_CASE("an erl monitor on a C++ process gets DOWN with its reason, by pid and by name") {
    Pair t("erl_mon");
    INFO(t.log.text());
    {
        Mailbox target = t.node.open_mailbox();
        give_erl(t.erl, t.inbox, "cpp", Term(target.pid()));
        CHECK(t.erl.eval("put(ref, monitor(process, get(cpp))), ok") == "ok");
        erl_sync(t.erl, t.node, t.inbox);
        target.close(Term("foo"_a));
        CHECK(t.erl.eval("Ref = get(ref), C = get(cpp), receive {'DOWN', Ref, process, C, R} -> R "
                         "after 15000 -> timeout end") == "foo");
        // Dead now: a new monitor is answered with noproc.
        CHECK(t.erl.eval("Ref = monitor(process, get(cpp)), receive {'DOWN', Ref, process, _, R} "
                         "-> R after 15000 -> timeout end") == "noproc");
    }
    {
        Mailbox target = named_mailbox(t.node, "watched");
        CHECK(t.erl.eval("put(ref, monitor(process, {watched, " + t.cpp() + "})), ok") == "ok");
        erl_sync(t.erl, t.node, t.inbox);
        target.close(tuple("bar"_a, 1));
        CHECK(t.erl.eval("Ref = get(ref), receive {'DOWN', Ref, process, Obj, R} -> {Obj, R} "
                         "after 15000 -> timeout end") ==
              "{{watched," + t.printed() + "},{bar,1}}");
        CHECK_FALSE(t.node.whereis("watched"_a).has_value());
    }
}

TEST_CASE("erl's monitor(process, {nosuch, CppNode}) gets DOWN noproc at once") {
    Pair t("erl_noproc");
    INFO(t.log.text());
    CHECK(t.erl.eval("Ref = erlang:monitor(process, {nosuch, " + t.cpp() +
                     "}), receive {'DOWN', Ref, process, Obj, R} -> {Obj, R} after 15000 -> "
                     "timeout end") == "{{nosuch," + t.printed() + "},noproc}");
}

TEST_CASE("demonitor stops the DOWN, in both directions") {
    Pair t("demon");
    INFO(t.log.text());
    // Ours: after demonitor, the target's end brings nothing; erl's marker, sent once the target
    // is gone, is the first message.
    Mailbox watcher = t.node.open_mailbox();
    const Pid p = t.erl_waiter("p");
    const Reference ref = watcher.monitor(p);
    CHECK(t.node.ping(t.peer));
    CHECK(watcher.demonitor(ref));
    CHECK_FALSE(watcher.demonitor(ref));
    give_erl(t.erl, t.inbox, "watcher", Term(watcher.pid()));
    CHECK(t.erl.eval("P = get(p), R = monitor(process, P), P ! {exit, foo}, receive {'DOWN', R, _, "
                     "_, _} -> ok end, get(watcher) ! marker, ok") == "ok");
    CHECK(next_message(watcher) == Term("marker"_a));
    CHECK(watcher.queued() == 0);

    // erl's: the DEMONITOR_P is taken in and the connection carries on.
    Mailbox target = t.node.open_mailbox();
    give_erl(t.erl, t.inbox, "cpp", Term(target.pid()));
    CHECK(t.erl.eval("R = monitor(process, get(cpp)), demonitor(R), put(ref, R), ok") == "ok");
    erl_sync(t.erl, t.node, t.inbox);
    target.close(Term("late"_a));
    t.inbox.send("tester"_a, t.peer, Term("marker"_a));
    CHECK(t.erl.eval("receive M -> M after 15000 -> timeout end") == "marker");
    CHECK(t.node.ping(t.peer));
}

TEST_CASE(
    "a C++ mailbox linked to an erl process gets its exit: a message when trapping, else it "
    "ends with the reason") {
    Pair t("link_in");
    INFO(t.log.text());
    Mailbox trapper = t.node.open_mailbox();
    trapper.trap_exit(true);
    Mailbox plain = t.node.open_mailbox();
    const Pid p1 = t.erl_waiter("p1");
    const Pid p2 = t.erl_waiter("p2");
    trapper.link(p1);
    plain.link(p2);
    CHECK(t.node.ping(t.peer));
    // Both links exist on erl's side too.
    CHECK(t.erl.eval("{links, L1} = process_info(get(p1), links), {links, L2} = "
                     "process_info(get(p2), links), {length(L1), length(L2)}") == "{1,1}");
    CHECK(t.erl.eval("get(p1) ! {exit, foo}, get(p2) ! {exit, foo}, ok") == "ok");
    CHECK(next_message(trapper) == exit_message(p1, Term("foo"_a)));
    CHECK(exited_with(plain) == Term("foo"_a));
    CHECK_FALSE(plain.alive());
    CHECK(trapper.alive());

    // Linking to a dead erl pid: erl answers with an exit signal noproc.
    trapper.link(p1);
    CHECK(next_message(trapper) == exit_message(p1, Term(atoms::noproc)));
}

TEST_CASE("an erl process linked to a C++ process gets an EXIT with its reason when it ends") {
    Pair t("link_out");
    INFO(t.log.text());
    Mailbox cpp = t.node.open_mailbox();
    give_erl(t.erl, t.inbox, "cpp", Term(cpp.pid()));
    CHECK(t.erl.eval(R"ERL(
        Parent = self(), C = get(cpp),
        L = spawn(fun() -> process_flag(trap_exit, true), link(C), Parent ! linked,
                           receive M -> Parent ! {got, M} end end),
        put(l, L),
        receive linked -> ok after 15000 -> timeout end)ERL") == "ok");
    erl_sync(t.erl, t.node, t.inbox);
    cpp.close(Term("bye"_a));
    CHECK(t.erl.eval("C = get(cpp), receive {got, {'EXIT', C, R}} -> R after 15000 -> timeout "
                     "end") == "bye");
    // Linking to it now, gone, gives erl an exit signal noproc from our node.
    CHECK(t.erl.eval("process_flag(trap_exit, true), C = get(cpp), link(C), R = receive {'EXIT', "
                     "C, Why} -> Why after 15000 -> timeout end, process_flag(trap_exit, false), "
                     "R") == "noproc");

    // An erl process that does not trap dies with the reason of the C++ process it linked.
    Mailbox second = t.node.open_mailbox();
    give_erl(t.erl, t.inbox, "cpp2", Term(second.pid()));
    CHECK(t.erl.eval(R"ERL(
        Parent = self(), C = get(cpp2),
        {L, R} = spawn_monitor(fun() -> link(C), Parent ! linked, receive never -> ok end end),
        put(l2, {L, R}),
        receive linked -> ok after 15000 -> timeout end)ERL") == "ok");
    erl_sync(t.erl, t.node, t.inbox);
    second.close(tuple("crash"_a, 2));
    CHECK(t.erl.eval("{_, R} = get(l2), receive {'DOWN', R, process, _, Why} -> Why after 15000 -> "
                     "timeout end") == "{crash,2}");

    // A C++ process that ends normally does not take a non-trapping erl process with it.
    Mailbox third = t.node.open_mailbox();
    give_erl(t.erl, t.inbox, "cpp3", Term(third.pid()));
    CHECK(t.erl.eval(R"ERL(
        Parent = self(), C = get(cpp3),
        L = spawn(fun() -> link(C), Parent ! linked, receive stop -> ok end end),
        put(l3, L),
        receive linked -> ok after 15000 -> timeout end)ERL") == "ok");
    erl_sync(t.erl, t.node, t.inbox);
    third.close();
    t.inbox.send("tester"_a, t.peer, Term("marker"_a));
    CHECK(t.erl.eval("receive marker -> is_process_alive(get(l3)) after 15000 -> timeout end") ==
          "true");
}

TEST_CASE("exit/2 with kill cannot be trapped and gives killed, in both directions") {
    Pair t("kill");
    INFO(t.log.text());
    Mailbox trapper = t.node.open_mailbox();
    trapper.trap_exit(true);
    give_erl(t.erl, t.inbox, "cpp", Term(trapper.pid()));
    // A trapped exit/2 from erl becomes a message...
    CHECK(t.erl.eval("exit(get(cpp), soft), ok") == "ok");
    const Pid tester = t.tester_pid();
    CHECK(next_message(trapper) == exit_message(tester, Term("soft"_a)));
    // ... kill does not.
    CHECK(t.erl.eval("exit(get(cpp), kill), ok") == "ok");
    CHECK(exited_with(trapper) == Term(atoms::killed));

    // Ours to a trapping erl process: a message for foo, death by killed for kill.
    Mailbox killer = t.node.open_mailbox();
    give_erl(t.erl, t.inbox, "killer", Term(killer.pid()));
    const Pid target = erl_pid(t.erl, t.node, t.inbox, R"ERL(
        Parent = self(),
        {P, R} = spawn_monitor(fun() -> process_flag(trap_exit, true),
                                        Loop = fun L() -> receive M -> Parent ! {trapped, M}, L() end end,
                                        Loop() end),
        put(target, {P, R}), P)ERL");
    killer.exit(target, Term("foo"_a));
    CHECK(t.erl.eval("K = get(killer), receive {trapped, {'EXIT', K, R}} -> R after 15000 -> "
                     "timeout end") == "foo");
    killer.exit(target, Term(atoms::kill));
    CHECK(t.erl.eval("{_, R} = get(target), receive {'DOWN', R, process, _, Why} -> Why after "
                     "15000 -> timeout end") == "killed");
}

TEST_CASE("normal exit signals are ignored by processes that do not trap exits, both ways") {
    Pair t("normal");
    INFO(t.log.text());
    Mailbox plain = t.node.open_mailbox();
    give_erl(t.erl, t.inbox, "cpp", Term(plain.pid()));
    CHECK(t.erl.eval("C = get(cpp), exit(C, normal), C ! after_normal, ok") == "ok");
    CHECK(next_message(plain) == Term("after_normal"_a));
    CHECK(plain.alive());

    // A linked erl process that ends normally does not end a non-trapping mailbox.
    const Pid p = t.erl_waiter("p");
    plain.link(p);
    CHECK(t.node.ping(t.peer));
    CHECK(t.erl.eval("P = get(p), R = monitor(process, P), P ! {exit, normal}, receive {'DOWN', R, "
                     "_, _, _} -> ok end, get(cpp) ! after_link_normal, ok") == "ok");
    CHECK(next_message(plain) == Term("after_link_normal"_a));
    CHECK(plain.alive());

    // Ours to a non-trapping erl process.
    const Pid q = t.erl_waiter("q");
    plain.exit(q, Term(atoms::normal));
    plain.send("tester"_a, t.peer, Term("marker"_a));
    CHECK(t.erl.eval("receive marker -> is_process_alive(get(q)) after 15000 -> timeout end") ==
          "true");
}

TEST_CASE("after a C++ unlink no exit arrives from the erl process, and a new link works again") {
    Pair t("unlink");
    INFO(t.log.text());
    Mailbox trapper = t.node.open_mailbox();
    trapper.trap_exit(true);
    give_erl(t.erl, t.inbox, "cpp", Term(trapper.pid()));

    const Pid p = t.erl_waiter("p");
    trapper.link(p);
    CHECK(t.node.ping(t.peer));
    trapper.unlink(p);
    CHECK(t.node.ping(t.peer));
    CHECK(t.erl.eval("{links, L} = process_info(get(p), links), L") == "[]");
    CHECK(t.erl.eval("P = get(p), R = monitor(process, P), P ! {exit, foo}, receive {'DOWN', R, _, "
                     "_, _} -> ok end, get(cpp) ! marker, ok") == "ok");
    CHECK(next_message(trapper) == Term("marker"_a));

    // Link, unlink and link again before erl's acknowledgement of the unlink is back: the
    // acknowledgement must not undo the second link.
    const Pid q = t.erl_waiter("q");
    trapper.link(q);
    trapper.unlink(q);
    trapper.link(q);
    CHECK(t.node.ping(t.peer));
    CHECK(t.erl.eval("get(q) ! {exit, relinked}, ok") == "ok");
    CHECK(next_message(trapper) == exit_message(q, Term("relinked"_a)));
}

TEST_CASE("after erl unlinks (UNLINK_ID) a C++ process's end gives erl no EXIT; a new link does") {
    Pair t("unlink_id");
    INFO(t.log.text());
    Mailbox cpp = t.node.open_mailbox();
    give_erl(t.erl, t.inbox, "cpp", Term(cpp.pid()));
    // L forwards whatever it gets, EXITs included, to the tester.
    const Pid l = erl_pid(t.erl, t.node, t.inbox, R"ERL(
        Parent = self(), C = get(cpp),
        L = spawn(fun() -> process_flag(trap_exit, true), link(C), unlink(C), Parent ! unlinked,
                           Loop = fun Lp() -> receive M -> Parent ! {got, M}, Lp() end end,
                           Loop() end),
        receive unlinked -> ok end,
        put(l, L), L)ERL");
    erl_sync(t.erl, t.node, t.inbox);
    CHECK(t.node.ping(t.peer));
    cpp.close(Term("boom"_a));
    // Sent after the C++ process ended: had it still been linked, the EXIT would be first.
    t.inbox.send(l, Term("marker"_a));
    CHECK(t.erl.eval("receive {got, M} -> M after 15000 -> timeout end") == "marker");

    // Link, unlink, link from erl: the C++ process's end reaches erl.
    Mailbox second = t.node.open_mailbox();
    give_erl(t.erl, t.inbox, "cpp2", Term(second.pid()));
    CHECK(t.erl.eval(R"ERL(
        Parent = self(), C = get(cpp2),
        L2 = spawn(fun() -> process_flag(trap_exit, true), link(C), unlink(C), link(C),
                            Parent ! relinked,
                            Loop = fun Lp() -> receive M -> Parent ! {got2, M}, Lp() end end,
                            Loop() end),
        put(l2, L2),
        receive relinked -> ok after 15000 -> timeout end)ERL") == "ok");
    erl_sync(t.erl, t.node, t.inbox);
    second.close(Term("boom2"_a));
    t.inbox.send(atom("tester"), t.peer, Term("marker2"_a));
    CHECK(t.erl.eval("C = get(cpp2), receive {got2, {'EXIT', C, R}} -> R after 15000 -> timeout "
                     "end") == "boom2");
    CHECK(t.erl.eval("receive marker2 -> ok after 15000 -> timeout end") == "ok");
}

namespace {

// Links and monitors across the connection in both directions, then `cut` drops the
// connection: every one of them fires noconnection, on both sides, and the next send dials again.
template <class Cut>
void noconnection_everywhere(Pair& t, Cut cut) {
    NodeEvents events(t.node);
    auto count = [&](bool up) { return events.count(t.peer, up); };
    Mailbox node_watch = t.node.open_mailbox();
    t.node.monitor_nodes(node_watch.pid());

    CHECK(t.erl.eval("net_adm:ping(" + t.cpp() + ")") == "pong");
    CHECK(next_message(node_watch) == tuple("nodeup"_a, t.peer));
    eventually([&] { return count(true) == 1; });

    // Ours on erl's processes.
    Mailbox linker = t.node.open_mailbox();
    linker.trap_exit(true);
    Mailbox plain_linker = t.node.open_mailbox();
    Mailbox monitorer = t.node.open_mailbox();
    const Pid p1 = t.erl_waiter("p1");
    const Pid p2 = t.erl_waiter("p2");
    const Pid p3 = t.erl_waiter("p3");
    linker.link(p1);
    plain_linker.link(p3);
    const Reference mref = monitorer.monitor(p2);
    const Reference name_ref = monitorer.monitor("tester"_a, t.peer);
    CHECK(t.node.ping(t.peer));

    // erl's on ours: a trapping linker and a monitor.
    Mailbox linked = t.node.open_mailbox();
    linked.trap_exit(true);
    Mailbox monitored = t.node.open_mailbox();
    give_erl(t.erl, t.inbox, "a", Term(linked.pid()));
    give_erl(t.erl, t.inbox, "b", Term(monitored.pid()));
    CHECK(t.erl.eval(R"ERL(
        Parent = self(), A = get(a), B = get(b),
        spawn(fun() -> process_flag(trap_exit, true), link(A), Parent ! ready,
                       receive M -> Parent ! {l, M} end end),
        spawn(fun() -> R = monitor(process, B), Parent ! ready,
                       receive X -> Parent ! {m, X, R} end end),
        receive ready -> ok end, receive ready -> ok end, ok)ERL") == "ok");
    erl_sync(t.erl, t.node, t.inbox);
    CHECK(t.node.ping(t.peer));

    cut();

    CHECK(next_message(linker) == exit_message(p1, Term(atoms::noconnection)));
    CHECK(exited_with(plain_linker) == Term(atoms::noconnection));
    // The two DOWNs come in either order.
    std::vector<Term> downs{next_message(monitorer), next_message(monitorer)};
    std::sort(downs.begin(), downs.end());
    std::vector<Term> expected{
        down(mref, Term(p2), Term(atoms::noconnection)),
        down(name_ref, tuple("tester"_a, t.peer), Term(atoms::noconnection))};
    std::sort(expected.begin(), expected.end());
    CHECK(downs == expected);
    // Our end of erl's link fires too: the trapping mailbox gets the EXIT.
    auto from_link = next_message(linked);
    REQUIRE(from_link.is_tuple(3));
    CHECK(from_link[0].is_atom(atoms::EXIT));
    CHECK(from_link[2].is_atom(atoms::noconnection));
    CHECK(monitored.alive());
    CHECK(next_message(node_watch) == tuple("nodedown"_a, t.peer));
    eventually([&] { return count(false) == 1; });

    // erl's side.
    CHECK(t.erl.eval("A = get(a), receive {l, {'EXIT', A, R}} -> R after 15000 -> timeout end") ==
          "noconnection");
    CHECK(t.erl.eval("B = get(b), receive {m, {'DOWN', R, process, B, Why}, R} -> Why after 15000 "
                     "-> timeout end") == "noconnection");
    CHECK(t.erl.eval("lists:member(" + t.cpp() + ", nodes(hidden))") == "false");

    // The next send dials again: a new nodeup, and the message arrives.
    t.inbox.send("tester"_a, t.peer, Term("again"_a));
    CHECK(t.erl.eval("receive again -> ok after 15000 -> timeout end") == "ok");
    CHECK(next_message(node_watch) == tuple("nodeup"_a, t.peer));
    eventually([&] { return count(true) == 2; });
    CHECK(count(false) == 1);
    // Links and monitors are not restored: nothing more arrived.
    CHECK(linker.queued() == 0);
    CHECK(monitorer.queued() == 0);
    t.node.monitor_nodes(node_watch.pid(), false);
}

}  // namespace

TEST_CASE(
    "erlang:disconnect_node from erl gives noconnection to links and monitors on both sides, "
    "and the next send reconnects") {
    Pair t("disc_erl");
    INFO(t.log.text());
    noconnection_everywhere(
        t, [&] { CHECK(t.erl.eval("erlang:disconnect_node(" + t.cpp() + ")") == "true"); });
}

TEST_CASE(
    "Node::disconnect gives noconnection to links and monitors on both sides, and the next "
    "send reconnects") {
    Pair t("disc_cpp");
    INFO(t.log.text());
    CHECK(t.erl.eval("net_kernel:monitor_nodes(true, [{node_type, all}])") == "ok");
    noconnection_everywhere(t, [&] { CHECK(t.node.disconnect(t.peer)); });
    CHECK(t.erl.eval("Cpp = " + t.cpp() +
                     ", receive {nodedown, Cpp, _} -> down after 15000 -> timeout end") == "down");
    CHECK_FALSE(t.node.disconnect(atom("never_connected@" + short_host())));
}
