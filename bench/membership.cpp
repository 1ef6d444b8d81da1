// Membership benchmark: how long global registrations and pg joins take to be visible on every
// BEAM node, and a broadcast to a 1,000-member group, our node against a BEAM node doing the same
// in the same run and the same cluster. Reports; asserts nothing.
//
//   membership [--names N] [--joins N] [--members N] [--rounds R] [--witnesses W] [--threads T]
//
// The cluster: W witness erl nodes and a contestant erl node (all -kernel start_pg true), and our
// node in this process, on a private EPMD, connected and global-synced before anything is timed.
//   names:     N processes each register {Prefix, I} globally, one after the other, from one
//              caller (global:register_name returns once every node has the name).
//   joins:     N processes each join their own group {Prefix, I}; done when every witness lists
//              N such groups (witnesses poll their own tables every millisecond).
//   broadcast: a group with N members spread over the witnesses; the sender sends to each member
//              and waits for every member's acknowledgement; the median of R rounds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "distribute/global.hpp"
#include "distribute/groups.hpp"
#include "erl_fixture.hpp"

using namespace distribute;
using namespace distribute::testing;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// On a witness: the wall-clock microsecond at which `condition` first held (polled each ms).
std::string wait_stamp(const std::string& condition) {
    return "(fun W() -> case (" + condition +
           ") of true -> os:system_time(microsecond); _ -> timer:sleep(1), W() end end)()";
}

// Every witness's stamp for `condition`, while `act` runs; the latest of them.
template <class Act>
std::int64_t seen_everywhere(std::vector<std::unique_ptr<ErlNode>>& witnesses,
                             const std::string& condition, Act act) {
    std::vector<std::future<std::string>> stamps;
    for (auto& w : witnesses)
        stamps.push_back(std::async(std::launch::async, [&w, &condition] {
            return w->eval(wait_stamp(condition), std::chrono::minutes(10));
        }));
    act();
    std::int64_t last = 0;
    for (auto& s : stamps)
        last = std::max<std::int64_t>(last, std::stoll(s.get()));
    return last;
}

std::string count_names(const std::string& prefix) {
    return "length([N || {" + prefix + ", _} = N <- global:registered_names()])";
}
std::string count_groups(const std::string& prefix) {
    return "length([G || {" + prefix + ", _} = G <- pg:which_groups()])";
}

void row(const char* what, double ours_ms, double beam_ms) {
    std::printf("| %-34s | %10.1f | %10.1f | %9.2fx |\n", what, ours_ms, beam_ms,
                beam_ms / ours_ms);
}

}  // namespace

int main(int argc, char** argv) {
    int names = 1000, joins = 1000, members = 1000, rounds = 5;
    std::size_t witness_count = 3;
    unsigned threads = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
        if (a == "--names")
            names = next();
        else if (a == "--joins")
            joins = next();
        else if (a == "--members")
            members = next();
        else if (a == "--rounds")
            rounds = next();
        else if (a == "--witnesses")
            witness_count = static_cast<std::size_t>(next());
        else if (a == "--threads")
            threads = static_cast<unsigned>(next());
        else {
            std::printf(
                "usage: membership [--names N] [--joins N] [--members N] [--rounds R] "
                "[--witnesses W] [--threads T]\n");
            return a == "--help" ? 0 : 2;
        }
    }
    try {
        EpmdProcess epmd(free_port());
        auto erl_options = [&](const char* prefix) {
            ErlNodeOptions o;
            o.name_prefix = prefix;
            o.cookie = "bench_cookie";
            o.epmd_port = epmd.port();
            o.extra_args = {"-kernel",   "start_pg", "true",     "+sbwt", "none",
                            "+sbwtdcpu", "none",     "+sbwtdio", "none"};
            return o;
        };
        std::vector<std::unique_ptr<ErlNode>> witnesses;
        for (std::size_t i = 0; i < witness_count; ++i)
            witnesses.push_back(std::make_unique<ErlNode>(erl_options("witness")));
        ErlNode beam(erl_options("beam"));
        NodeOptions options;
        options.name = unique_name("ours");
        options.cookie = "bench_cookie";
        options.epmd_mode = EpmdMode::use_running;
        options.epmd.endpoint.host = "127.0.0.1";
        options.epmd.endpoint.port = epmd.port();
        options.threads = threads;
        Node node = Node::start(options).value();
        for (auto& w : witnesses)
            if (!node.connect(Atom::make(w->node_name()).value()))
                throw FixtureError("cannot connect to " + w->node_name());
        if (!node.connect(Atom::make(beam.node_name()).value()))
            throw FixtureError("cannot connect to " + beam.node_name());
        for (auto& w : witnesses)
            w->eval("global:sync()", std::chrono::minutes(2));
        beam.eval("global:sync()", std::chrono::minutes(2));
        Global g = global(node).value();
        Groups pg = groups(node).value();
        g.sync();
        std::printf("membership: %zu witness erl nodes, one contestant erl node and ours\n\n",
                    witnesses.size());
        std::printf("| %-34s | %10s | %10s | %10s |\n", "ms until every witness sees it", "ours",
                    "BEAM", "ours/BEAM");
        std::printf("|%s|%s|%s|%s|\n", std::string(36, '-').c_str(), std::string(12, '-').c_str(),
                    std::string(12, '-').c_str(), std::string(11, '-').c_str());

        // Global registrations.
        std::vector<ProcessHandle> holders;
        for (int i = 0; i < names; ++i)
            holders.push_back(node.spawn([](const ProcessHandle&, Term) {}));
        std::int64_t start = now_us();
        std::int64_t seen = seen_everywhere(
            witnesses, count_names("ours_name") + " >= " + std::to_string(names), [&] {
                for (int i = 0; i < names; ++i)
                    if (!g.register_name(tuple(Atom::make("ours_name").value(), i),
                                         holders[static_cast<std::size_t>(i)].pid()))
                        throw FixtureError("a registration failed");
            });
        const double ours_names = static_cast<double>(seen - start) / 1000.0;
        beam.eval("begin Ps = [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, " +
                  std::to_string(names) + ")], put(holders, Ps), ok end");
        std::string beam_start;
        seen = seen_everywhere(
            witnesses, count_names("beam_name") + " >= " + std::to_string(names), [&] {
                beam_start = beam.eval(
                    "begin T = os:system_time(microsecond), lists:foldl(fun(P, I) -> yes = "
                    "global:register_name({beam_name, I}, P), I + 1 end, 0, get(holders)), T end",
                    std::chrono::minutes(10));
            });
        row("1,000 global registrations", ours_names,
            static_cast<double>(seen - std::stoll(beam_start)) / 1000.0);

        // pg joins.
        std::vector<ProcessHandle> joiners;
        for (int i = 0; i < joins; ++i)
            joiners.push_back(node.spawn([](const ProcessHandle&, Term) {}));
        start = now_us();
        seen = seen_everywhere(witnesses,
                               count_groups("ours_group") + " >= " + std::to_string(joins), [&] {
                                   for (int i = 0; i < joins; ++i)
                                       (void)pg.join(tuple(Atom::make("ours_group").value(), i),
                                                     joiners[static_cast<std::size_t>(i)].pid());
                               });
        const double ours_joins = static_cast<double>(seen - start) / 1000.0;
        beam.eval("begin Ps = [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, " +
                  std::to_string(joins) + ")], put(joiners, Ps), ok end");
        seen = seen_everywhere(
            witnesses, count_groups("beam_group") + " >= " + std::to_string(joins), [&] {
                beam_start = beam.eval(
                    "begin T = os:system_time(microsecond), lists:foldl(fun(P, I) -> ok = "
                    "pg:join({beam_group, I}, P), I + 1 end, 0, get(joiners)), T end",
                    std::chrono::minutes(10));
            });
        row("1,000 pg joins", ours_joins,
            static_cast<double>(seen - std::stoll(beam_start)) / 1000.0);

        // Broadcast: members on the witnesses acknowledge {bc, From, Round} with {ack, Round}.
        const int spread = static_cast<int>(witnesses.size());
        for (int i = 0; i < spread; ++i)
            witnesses[static_cast<std::size_t>(i)]->eval(
                "begin [pg:join(bench_all, spawn(fun F() -> receive {bc, From, R} -> From ! "
                "{ack, R}, F() end end)) || _ <- lists:seq(1, " +
                std::to_string(members / spread + (i < members % spread ? 1 : 0)) + ")], ok end");
        const int total = members;
        while (static_cast<int>(pg.members("bench_all"_a).size()) < total)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        beam.eval(wait_stamp("length(pg:get_members(bench_all)) =:= " + std::to_string(total)),
                  std::chrono::minutes(2));
        Mailbox me = node.open_mailbox();
        std::vector<double> ours_rounds, beam_rounds;
        for (int r = 0; r < rounds; ++r) {
            const auto t0 = Clock::now();
            pg.broadcast(me, "bench_all"_a, tuple("bc"_a, me.pid(), r));
            for (int k = 0; k < total; ++k)
                if (!me.receive(std::chrono::seconds(60)))
                    throw FixtureError("an acknowledgement did not arrive");
            ours_rounds.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
            const std::string micros = beam.eval(
                "begin {T, ok} = timer:tc(fun() -> Me = self(), [P ! {bc, Me, " +
                std::to_string(r) + "} || P <- pg:get_members(bench_all)], [receive {ack, " +
                std::to_string(r) + "} -> ok end || _ <- lists:seq(1, " + std::to_string(total) +
                ")], ok end), T end");
            beam_rounds.push_back(std::stod(micros) / 1000.0);
        }
        std::sort(ours_rounds.begin(), ours_rounds.end());
        std::sort(beam_rounds.begin(), beam_rounds.end());
        std::printf("\n| %-34s | %10s | %10s | %10s |\n", "broadcast, ms until all acked", "ours",
                    "BEAM", "ours/BEAM");
        std::printf("|%s|%s|%s|%s|\n", std::string(36, '-').c_str(), std::string(12, '-').c_str(),
                    std::string(12, '-').c_str(), std::string(11, '-').c_str());
        const std::string label =
            "to " + std::to_string(total) + " members (median of " + std::to_string(rounds) + ")";
        row(label.c_str(), ours_rounds[ours_rounds.size() / 2],
            beam_rounds[beam_rounds.size() / 2]);
        std::printf("\nours/BEAM above 1 means ours took less time.\n");
        node.stop();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "membership: %s\n", e.what());
        return 1;
    }
    return 0;
}
