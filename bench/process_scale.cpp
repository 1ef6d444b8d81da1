// Process benchmark: spawn and exit, memory per idle process and a 1,000,000-process run, and a
// nodedown among 100,000 processes of which 10 are linked to the peer, each beside the BEAM
// doing the same in the same run. Rates and times are the best of three runs (the memory run is
// made once). Reports; asserts nothing.
//
//   process_scale [--spawns N] [--idle N] [--threads T]
//
// Ours runs in this program's node (`self`); the BEAM's in an erl node started with +P, so that
// it may hold the same number of processes.
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "distribute/coroutine.hpp"
#include "distribute/rpc.hpp"
#include "node/access.hpp"
#include "node/runtime.hpp"

using namespace distribute;
using namespace distribute::bench;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::size_t process_count(Node& node) {
    return node::Access::runtime(node).process_count();
}

void wait_until_count(Node& node, std::size_t count) {
    while (process_count(node) > count)
        std::this_thread::yield();
}

// Counts down to zero from other threads; the waiter wakes once.
class Countdown {
  public:
    explicit Countdown(long n) : left_(n) {}
    void done() {
        if (left_.fetch_sub(1) == 1) {
            std::lock_guard lock(mutex_);
            zero_.notify_all();
        }
    }
    void wait() {
        std::unique_lock lock(mutex_);
        zero_.wait(lock, [&] { return left_.load() <= 0; });
    }

  private:
    std::atomic<long> left_;
    std::mutex mutex_;
    std::condition_variable zero_;
};

// `linked` processes of `self` trapping exits and linked to processes of `peer`; then a process
// of `self` disconnects `peer`. Timed inside the node, as the BEAM times itself: from the
// disconnect to the last 'EXIT' handled by a linked process, in microseconds.
double nodedown_us(Node& self, Atom peer, int linked) {
    auto remote = rpc(self, peer, Atom::make("bench_procs").value(), Atom::make("waiters").value(),
                      {Term(linked)}, std::chrono::seconds(60));
    if (!remote) throw testing::FixtureError("waiters: " + remote.error().detail);
    struct Timing {
        Clock::time_point start;
        std::mutex mutex;
        Clock::time_point last_exit;
    };
    auto timing = std::make_shared<Timing>();
    auto exits = std::make_shared<Countdown>(linked);
    std::vector<ProcessHandle> watchers;
    for (const Term& pid : remote->elements()) {
        watchers.push_back(self.spawn(
            [exits, timing](const ProcessHandle& me, Term m) {
                if (!m.is_tuple(3) || !m[0].is_atom(atoms::EXIT)) return;
                {
                    std::lock_guard lock(timing->mutex);
                    timing->last_exit = std::max(timing->last_exit, Clock::now());
                }
                exits->done();
                me.exit_self(Term(atoms::normal));
            },
            true));
        watchers.back().link(*pid.to<Pid>());
    }
    // The links are in place at the peer once a later request over the same connection is
    // answered.
    (void)rpc(self, peer, Atom::make("erlang").value(), Atom::make("node").value(), {});
    ProcessHandle trigger = self.spawn([&self, peer, timing](const ProcessHandle& me, Term) {
        timing->start = Clock::now();
        self.disconnect(peer);
        me.exit_self(Term(atoms::normal));
    });
    trigger.send(trigger.pid(), Term(atoms::ok));
    exits->wait();
    std::lock_guard lock(timing->mutex);
    return std::chrono::duration<double, std::micro>(timing->last_exit - timing->start).count();
}

}  // namespace

int main(int argc, char** argv) {
    long spawns = 200'000;
    long idle = 1'000'000;
    unsigned threads = 0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--spawns" && i + 1 < argc) {
            spawns = std::atol(argv[++i]);
        } else if (a == "--idle" && i + 1 < argc) {
            idle = std::atol(argv[++i]);
        } else if (a == "--threads" && i + 1 < argc) {
            threads = static_cast<unsigned>(std::atoi(argv[++i]));
        } else {
            std::printf(
                "usage: process_scale [--spawns N] [--idle N] [--threads T]\n"
                "  --spawns N   processes spawned and ended in the spawn rows (default 200000)\n"
                "  --idle N     idle processes in the memory run (default 1000000)\n"
                "  --threads T  threads of our node (default 0: one per core)\n");
            return a == "--help" ? 0 : 2;
        }
    }
    try {
        Cluster c(threads);
        Node& self = *c.self;
        testing::ErlNodeOptions procs_options;
        procs_options.name_prefix = "bench_procs";
        procs_options.cookie = c.cookie;
        procs_options.epmd_port = c.epmd_port;
        procs_options.extra_args = {"-pa", c.dir.path(), "+P", "4000000"};
        testing::ErlNode procs(procs_options);
        const pid_t procs_pid =
            static_cast<pid_t>(std::stol(procs.eval("list_to_integer(os:getpid())")));
        const std::size_t base = process_count(self);

        // -------------------------------------------------------------------------------------
        std::printf("spawn and exit, %ld processes\n\n", spawns);
        std::printf("| what | per second | BEAM spawn(fun() -> ok end) | ours/BEAM |\n");
        std::printf("|---|---:|---:|---:|\n");
        const double beam_spawn = best_of([&] {
            return static_cast<double>(spawns) * 1e6 /
                   parse_micros(procs.eval("bench_procs:spawn_exit(" + std::to_string(spawns) + ")",
                                           std::chrono::seconds(600)));
        });
        const double coroutines = best_of([&] {
            const auto t0 = Clock::now();
            for (long i = 0; i < spawns; ++i)
                spawn_coroutine(self, [](CoProcess) -> Task<> { co_return; });
            wait_until_count(self, base);
            return static_cast<double>(spawns) / seconds_since(t0);
        });
        std::printf("| coroutine process that runs and returns | %s | %s | %.2fx |\n",
                    rate(coroutines).c_str(), rate(beam_spawn).c_str(), coroutines / beam_spawn);
        const double handlers = best_of([&] {
            const auto t0 = Clock::now();
            for (long i = 0; i < spawns; ++i)
                self.spawn([](const ProcessHandle&, Term) {}).exit_self(Term(atoms::normal));
            wait_until_count(self, base);
            return static_cast<double>(spawns) / seconds_since(t0);
        });
        std::printf("| handler process spawned and ended | %s | %s | %.2fx |\n",
                    rate(handlers).c_str(), rate(beam_spawn).c_str(), handlers / beam_spawn);
        std::fflush(stdout);

        // -------------------------------------------------------------------------------------
        std::printf(
            "\n%ld idle processes, each with a mailbox, then a message to each that "
            "ends it\n\n",
            idle);
        std::printf("| | spawn all | bytes per process (RSS) | end all (a message each) |\n");
        std::printf("|---|---:|---:|---:|\n");
        {
            const double rss0 = rss_bytes(procs_pid);
            const std::string answer =
                procs.eval("{R, M, B} = bench_procs:idle(" + std::to_string(idle) +
                               "), put(runner, R), {M, B}",
                           std::chrono::seconds(600));
            // {SpawnMicros, ProcessesBytes}; the RSS is read while they are all there.
            const auto comma = answer.find(',');
            const double spawn_us = std::stod(answer.substr(1, comma - 1));
            const double memory_bytes = std::stod(answer.substr(comma + 1));
            const double rss1 = rss_bytes(procs_pid);
            const double ended_us = parse_micros(
                procs.eval("get(runner) ! {measured, self()}, receive {ended, E} -> E end",
                           std::chrono::seconds(600)));
            std::printf("| BEAM | %.2f s | %.0f (erlang:memory(processes): %.0f) | %.2f s |\n",
                        spawn_us / 1e6, (rss1 - rss0) / static_cast<double>(idle),
                        memory_bytes / static_cast<double>(idle), ended_us / 1e6);
        }
        {
            std::vector<Pid> pids;
            pids.reserve(static_cast<std::size_t>(idle));
            const double rss0 = rss_bytes(getpid());
            const auto t0 = Clock::now();
            for (long i = 0; i < idle; ++i)
                pids.push_back(self.spawn([](const ProcessHandle& me, Term) {
                                       me.exit_self(Term(atoms::normal));
                                   })
                                   .pid());
            const double spawn_s = seconds_since(t0);
            const double rss1 = rss_bytes(getpid());
            Mailbox me = self.open_mailbox();
            const auto t1 = Clock::now();
            for (const Pid& pid : pids)
                me.send(pid, Term(Atom::make("stop").value()));
            wait_until_count(self, base + 1);
            const double end_s = seconds_since(t1);
            std::printf("| ours | %.2f s | %.0f | %.2f s |\n", spawn_s,
                        (rss1 - rss0) / static_cast<double>(idle), end_s);
            std::printf("\n%ld of ours: %.0f MiB in all (target: under 1024 MiB)\n", idle,
                        (rss1 - rss0) / (1024.0 * 1024.0));
        }
        std::fflush(stdout);

        // -------------------------------------------------------------------------------------
        constexpr long bystanders = 100'000;
        constexpr int linked = 10;
        std::printf(
            "\nnodedown with %ld local processes, %d of them linked to the peer: time "
            "until every linked one has its exit\n\n",
            bystanders, linked);
        const Atom recv = Atom::make(c.recv->node_name()).value();
        // Times are turned into rates for best_of: the best run is the shortest.
        const double beam_us = 1e6 / best_of([&] {
                                   return 1e6 / parse_micros(c.drv->eval(
                                                    "bench_procs:nodedown('" + c.recv->node_name() +
                                                        "', " + std::to_string(bystanders) + ", " +
                                                        std::to_string(linked) + ")",
                                                    std::chrono::seconds(600)));
                               });
        std::vector<Pid> idle_pids;
        for (long i = 0; i < bystanders; ++i)
            idle_pids.push_back(
                self.spawn([](const ProcessHandle& me, Term) { me.exit_self(Term(atoms::normal)); })
                    .pid());
        const double ours_us = 1e6 / best_of([&] { return 1e6 / nodedown_us(self, recv, linked); });
        Mailbox me = self.open_mailbox();
        for (const Pid& pid : idle_pids)
            me.send(pid, Term(atoms::normal));
        std::printf("| BEAM | ours | BEAM/ours |\n|---:|---:|---:|\n");
        std::printf("| %.0f us | %.0f us | %.2fx |\n", beam_us, ours_us, beam_us / ours_us);
        std::printf("\nratios > 1 mean ours is faster (for times: BEAM's time over ours)\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "process_scale: %s\n", e.what());
        return 1;
    }
    return 0;
}
