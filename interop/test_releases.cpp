// What OTP 26 to 29 changed on the wire, tested live against the release that brought it, and a
// cluster of three releases with our node in the middle. Each test names the releases it needs
// (scripts/otp-root runs 27 and 29), so these run in their own doctest suite, `releases`,
// which scripts/check runs after making the roots; see docs/otp-releases.md.
#include <doctest/doctest.h>

#include <thread>

#include "cli/demo_services.hpp"
#include "distribute/rpc.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// Waits until `m` holds `n` messages.
void await_queued(const Mailbox& m, std::size_t n) {
    eventually([&] { return m.queued() >= n; });
}

ErlNodeOptions release_options(const Cluster& cluster, std::string_view prefix,
                               std::string release) {
    ErlNodeOptions o = cluster.erl_options(prefix);
    o.otp_release = std::move(release);
    o.start_timeout = std::chrono::milliseconds(60000);
    return o;
}

// Our node with the demo services and one erl node of `release`, on a private EPMD.
struct WithRelease {
    WithRelease(std::string_view name, std::string release)
        : node(start_node(cluster.node_options("cpp_" + std::string(name), &log))),
          erl(release_options(cluster, "erl_" + std::string(name), std::move(release))) {
        REQUIRE(cli::start_demo_kv(node).has_value());
        register_tester(erl);
        inbox = named_mailbox(node, "inbox");
    }
    std::string cpp() const { return quoted(node.name()); }

    Cluster cluster;
    LogCapture log;
    Node node;
    ErlNode erl;
    Mailbox inbox;
};

NativeRecord point(std::int64_t x, std::int64_t y) {
    return NativeRecord{atom("geo"), atom("point"), {atom("x"), atom("y")}, {Term(x), Term(y)}};
}

}  // namespace

TEST_SUITE("releases") {
    TEST_CASE(
        "OTP 29: erlang:send(Alias, Msg, [priority]) to a C++ priority alias overtakes "
        "ordinary messages") {
        WithRelease t("prio_in", "29");
        INFO(t.log.text());
        CHECK(t.erl.eval("erlang:system_info(otp_release)") == "\"29\"");
        Mailbox owner = t.node.open_mailbox();
        give_erl(t.erl, t.inbox, "owner", Term(owner.pid()));
        give_erl(t.erl, t.inbox, "prio", Term(owner.priority_alias()));
        give_erl(t.erl, t.inbox, "plain", Term(owner.alias()));
        CHECK(t.erl.eval("O = get(owner), [O ! N || N <- [1, 2, 3]],"
                         "erlang:send(get(prio), urgent, [priority]),"
                         "erlang:send(get(plain), not_urgent, [priority]), ok") == "ok");
        await_queued(owner, 5);
        CHECK(next_message(owner) == Term(atom("urgent")));
        for (int i = 1; i <= 3; ++i)
            CHECK(next_message(owner) == Term(i));
        CHECK(next_message(owner) == Term(atom("not_urgent")));
    }

    TEST_CASE("OTP 29: a C++ priority message reaches an erl priority alias ahead of its queue") {
        WithRelease t("prio_out", "29");
        INFO(t.log.text());
        Mailbox sender = t.node.open_mailbox();
        Term alias = erl_value(t.erl, t.node, t.inbox, "A = alias([priority]), put(a, A), A");
        auto ref = alias.to<Reference>();
        REQUIRE(ref.has_value());
        // Ordinary messages first to the evaluating process, then the priority one: the erl
        // process reads its queue only once all four are in.
        for (int i = 1; i <= 3; ++i)
            sender.send(atom("tester"), atom(t.erl.node_name()), Term(i));
        sender.send_priority(*ref, Term(atom("urgent")));
        CHECK(t.erl.eval("Wait = fun W() -> case process_info(self(), message_queue_len) of "
                         "{_, N} when N >= 4 -> ok; _ -> timer:sleep(5), W() end end, Wait(),"
                         "[receive M -> M after 0 -> none end || _ <- [1, 2, 3, 4]]") ==
              "[urgent,1,2,3]");
    }

    TEST_CASE(
        "OTP 29: exit_signal(Alias, Reason, [priority]) reaches a trapping C++ process "
        "first; an ordinary alias takes an exit signal too") {
        WithRelease t("prio_exit", "29");
        INFO(t.log.text());
        Mailbox trapper = t.node.open_mailbox();
        trapper.trap_exit(true);
        give_erl(t.erl, t.inbox, "owner", Term(trapper.pid()));
        give_erl(t.erl, t.inbox, "prio", Term(trapper.priority_alias()));
        CHECK(t.erl.eval("get(owner) ! first, erlang:exit_signal(get(prio), urgent, [priority]),"
                         "ok") == "ok");
        await_queued(trapper, 2);
        const Term tester = erl_value(t.erl, t.node, t.inbox, "self()");
        CHECK(next_message(trapper) == tuple(atoms::EXIT, tester, atom("urgent")));
        CHECK(next_message(trapper) == Term(atom("first")));

        Mailbox plain = t.node.open_mailbox();
        Mailbox watcher = t.node.open_mailbox();
        const Reference watched = watcher.monitor(plain.pid());
        give_erl(t.erl, t.inbox, "alias", Term(plain.alias()));
        CHECK(t.erl.eval("exit(get(alias), gone)") == "true");
        CHECK(next_message(watcher) ==
              tuple(atoms::DOWN, watched, atoms::process, plain.pid(), atom("gone")));
    }

    TEST_CASE(
        "OTP 29 and OTP 27: gen_server calls both ways work through aliases, ALTACT_SIG or "
        "ALIAS_SEND") {
        for (const char* release : {"27", "29"}) {
            CAPTURE(release);
            WithRelease t(std::string("calls") + release, release);
            INFO(t.log.text());
            CHECK(t.erl.eval("Kv = {kv, " + t.cpp() +
                             "}, ok = gen_server:call(Kv, {put, a, 1}), gen_server:call(Kv, "
                             "{get, a})") == "{ok,1}");
            Mailbox caller = t.node.open_mailbox();
            auto reply = call(caller, ServerRef(atom("net_kernel"), atom(t.erl.node_name())),
                              tuple(atom("is_auth"), t.node.name()));
            REQUIRE_MESSAGE(reply.has_value(), reply.error().detail);
            CHECK(*reply == Term(atom("yes")));
        }
    }

    TEST_CASE(
        "OTP 27 and 29: a C++ exit signal to an erl alias reaches only OTP 29, which offers "
        "ALTACT_SIG; for OTP 27 it is dropped, and a priority message arrives as an ordinary one") {
        for (const char* release : {"27", "29"}) {
            CAPTURE(release);
            const bool altact = std::string_view(release) == "29";
            WithRelease t(std::string("alias_exit") + release, release);
            INFO(t.log.text());
            // The evaluating process traps exits and makes an alias (a priority one where the
            // release has them).
            Term alias = erl_value(t.erl, t.node, t.inbox,
                                   std::string("process_flag(trap_exit, true), alias(") +
                                       (altact ? "[priority]" : "[]") + ")");
            auto ref = alias.to<Reference>();
            REQUIRE(ref.has_value());
            Mailbox sender = t.node.open_mailbox();
            const Atom tester = atom("tester");
            const Atom erl_node = atom(t.erl.node_name());
            const auto dropped = t.node.stats().dropped_messages;
            sender.send(tester, erl_node, Term(1));
            sender.send(tester, erl_node, Term(2));
            sender.send_priority(*ref, Term(atom("urgent")));
            sender.exit(*ref, Term(atom("gone")), true);
            // Signals from one process arrive in order: once `last` is in, so is the rest.
            sender.send(tester, erl_node, Term(atom("last")));
            CHECK(t.erl.eval(
                      "Wait = fun W() -> {messages, Ms} = process_info(self(), messages), case "
                      "lists:member(last, Ms) of true -> ok; false -> timer:sleep(5), W() end "
                      "end, Wait(), Flush = fun F(Acc) -> receive M -> F([M | Acc]) after 0 -> "
                      "lists:reverse(Acc) end end, [case M of {'EXIT', _, R} -> {exit, R}; _ -> M "
                      "end || M <- Flush([])]") ==
                  (altact ? "[urgent,{exit,gone},1,2,last]" : "[1,2,urgent,last]"));
            CHECK(t.node.stats().dropped_messages == dropped + (altact ? 0 : 1));
        }
    }

    TEST_CASE("OTP 29: native records cross both ways, equal to what erl made") {
        WithRelease t("records", "29");
        INFO(t.log.text());
        const Term made = erl_value(t.erl, t.node, t.inbox,
                                    "R = records:create(geo, point, [{x, 1}, {y, 2}], "
                                    "#{is_exported => true}), put(r, R), R");
        auto record = made.to<NativeRecord>();
        REQUIRE(record.has_value());
        CHECK(*record == point(1, 2));
        CHECK(to_string(made) == "#geo:point{x = 1,y = 2}");
        // Ours, encoded by us, is the same term on the erl side.
        give_erl(t.erl, t.inbox, "ours", Term(point(1, 2)));
        CHECK(t.erl.eval("{get(ours) =:= get(r), is_record(get(ours)), "
                         "records:get_field_names(get(ours)), records:get(y, get(ours))}") ==
              "{true,true,[x,y],2}");
    }

    TEST_CASE(
        "a cluster of OTP 25, 27 and 29 with our node in the middle: calls and monitors "
        "across all of them") {
        Cluster cluster;
        LogCapture log;
        INFO(log.text());
        Node node = start_node(cluster.node_options("cpp_mixed", &log));
        REQUIRE(cli::start_demo_kv(node).has_value());
        REQUIRE(cli::start_demo_rpc(node).has_value());
        Mailbox inbox = named_mailbox(node, "inbox");
        const std::string cpp = quoted(node.name());
        std::vector<std::unique_ptr<ErlNode>> erls;
        for (const char* release : {"25", "27", "29"})
            erls.push_back(std::make_unique<ErlNode>(
                release_options(cluster, std::string("erl") + release, release)));
        const char* releases[] = {"25", "27", "29"};
        for (std::size_t i = 0; i < erls.size(); ++i) {
            ErlNode& erl = *erls[i];
            CAPTURE(releases[i]);
            register_tester(erl);
            // Appended: "\"" + std::string(...) makes GCC 12 warn (-Wrestrict) wrongly.
            CHECK(erl.eval("erlang:system_info(otp_release)") ==
                  std::string("\"").append(releases[i]).append("\""));
            // Each calls our gen_server and our rpc module.
            CHECK(erl.eval("gen_server:call({kv, " + cpp + "}, {put, " + std::string("r") +
                           releases[i] + ", " + releases[i] + "})") == "ok");
            CHECK(erl.eval("erpc:call(" + cpp + ", demo, add, [1, 2])") == "3");
            // We call each: an rpc into it and a gen_server call to its net_kernel.
            auto release = rpc(node, atom(erl.node_name()), atom("erlang"), atom("system_info"),
                               {Term(atom("otp_release"))});
            REQUIRE(release.has_value());
            CHECK(*release == *charlist(releases[i]));
        }
        // Every node sees what the others put in our kv.
        for (auto& erl : erls)
            CHECK(erl->eval("[gen_server:call({kv, " + cpp +
                            "}, {get, K}) || K <- [r25, r27, r29]]") ==
                  "[{ok,25},{ok,27},{ok,29}]");

        // Monitors both ways with every release: erl processes that end, a C++ process that ends.
        Mailbox watcher = node.open_mailbox();
        Mailbox watched = node.open_mailbox();
        std::vector<Pid> waiters;
        std::vector<Reference> refs;
        for (auto& erl : erls) {
            const Pid waiter = erl_pid(*erl, node, inbox, std::string(spawn_waiter));
            waiters.push_back(waiter);
            refs.push_back(watcher.monitor(waiter));
            give_erl(*erl, inbox, "watched", Term(watched.pid()));
            CHECK(erl->eval("put(mref, monitor(process, get(watched))), ok") == "ok");
        }
        for (std::size_t i = 0; i < erls.size(); ++i) {
            watcher.send(waiters[i], tuple(atom("exit"), atom("done")));
            auto down = watcher.receive_if(
                [&](const Term& m) { return m.is_tuple(5) && m[1] == Term(refs[i]); }, 15s);
            REQUIRE(down.has_value());
            CHECK((*down)[4] == Term(atom("done")));
        }
        watched.close(Term(atom("cpp_gone")));
        for (auto& erl : erls)
            CHECK(erl->eval("M = get(mref), receive {'DOWN', M, process, _, R} -> R after 15000 -> "
                            "timeout end") == "cpp_gone");
    }
}
