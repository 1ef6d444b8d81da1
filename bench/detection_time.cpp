// Failure detection benchmark: a BEAM node is frozen with SIGSTOP; how long until our cluster's
// detector calls it suspect (two detector settings), until it calls it dead, and until a BEAM
// node watching the same node with monitor_node/2 gets nodedown (net_ticktime), all for the same
// failure, on one private EPMD. Reports; asserts nothing.
//
//   detection_time [--ticktime S] [--trials N]
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "bench_support.hpp"
#include "distribute/cluster.hpp"
#include "erl_fixture.hpp"

using namespace distribute;
using namespace distribute::bench;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// When the member first reached each state after arm(). The callback owns the times: it may
// run after the Watch is gone.
struct Times {
    std::mutex mutex;
    bool armed = false;
    std::optional<Clock::time_point> suspect, dead;
};

std::shared_ptr<Times> watch(distribute::Cluster& cluster) {
    auto times = std::make_shared<Times>();
    cluster.subscribe([times](const ClusterEvent& e) {
        if (e.kind != ClusterEvent::Kind::state_changed) return;
        std::lock_guard lock(times->mutex);
        if (!times->armed) return;
        if (e.member.state == MemberState::suspect && !times->suspect)
            times->suspect = Clock::now();
        if (e.member.state == MemberState::dead && !times->dead) times->dead = Clock::now();
    });
    return times;
}

void arm(Times& times) {
    std::lock_guard lock(times.mutex);
    times.armed = true;
}

std::string seconds_after(const std::optional<Clock::time_point>& t, Clock::time_point t0) {
    if (!t) return "-";
    return num(std::chrono::duration<double>(*t - t0).count(), "%.1f");
}

}  // namespace

int main(int argc, char** argv) {
    int ticktime = 10;
    int trials = 3;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--ticktime" && i + 1 < argc) {
            ticktime = std::atoi(argv[++i]);
        } else if (a == "--trials" && i + 1 < argc) {
            trials = std::atoi(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: detection_time [--ticktime S] [--trials N]\n");
            return 2;
        }
    }
    try {
        testing::EpmdProcess epmd(testing::free_port());
        NodeOptions options;
        options.name = testing::unique_name("bench_detect");
        options.cookie = "bench_cookie";
        options.epmd_mode = EpmdMode::use_running;
        options.epmd.endpoint = {"127.0.0.1", epmd.port()};
        options.net_ticktime = std::chrono::seconds(ticktime);
        auto node = Node::start(options);
        if (!node) throw testing::FixtureError(node.error().detail);
        testing::ErlNodeOptions erl_options;
        erl_options.cookie = "bench_cookie";
        erl_options.epmd_port = epmd.port();
        erl_options.extra_args = {"-kernel", "net_ticktime", std::to_string(ticktime)};
        erl_options.name_prefix = "watcher";
        testing::ErlNode watcher(erl_options);

        std::printf(
            "Failure detection: a BEAM node frozen with SIGSTOP (net_ticktime %d s on "
            "every node)\n\n",
            ticktime);
        std::printf(
            "| trial | BEAM nodedown | ours suspect (1 s, 3 s pause) | ours suspect "
            "(250 ms, 500 ms pause) | ours dead | nodedown/suspect |\n");
        std::printf(
            "|------:|--------------:|------------------------------:|------------------"
            "-------------------:|----------:|-----------------:|\n");
        for (int trial = 1; trial <= trials; ++trial) {
            erl_options.name_prefix = "victim";
            testing::ErlNode victim(erl_options);
            const std::string quoted = "'" + victim.node_name() + "'";
            ClusterOptions standard;
            standard.seeds = {victim.node_name()};
            standard.reconnect_interval = 600s;
            ClusterOptions fast = standard;
            fast.detector.heartbeat_interval = 250ms;
            fast.detector.acceptable_pause = 500ms;
            distribute::Cluster slow_cluster(*node, standard);
            distribute::Cluster fast_cluster(*node, fast);
            auto slow = watch(slow_cluster);
            auto quick = watch(fast_cluster);
            if (!slow_cluster.join(20s) || !fast_cluster.join(20s))
                throw testing::FixtureError("cannot join " + victim.node_name());
            watcher.eval("true = net_kernel:connect_node(" + quoted + ")");
            std::this_thread::sleep_for(5s);  // the detectors learn the usual gap
            // The watcher tells us its nodedown as a message: its arrival is timed here.
            Mailbox inbox = node->open_mailbox();
            if (!node->register_name(Atom::make("detect_inbox").value(), inbox.pid()))
                throw testing::FixtureError("cannot register detect_inbox");
            watcher.eval("Me = self(), spawn(fun() -> monitor_node(" + quoted +
                         ", true), receive {nodedown, _} -> {detect_inbox, '" +
                         std::string(node->name().name()) + "'} ! nodedown end end), ok");
            const pid_t pid =
                static_cast<pid_t>(std::stol(victim.eval("list_to_integer(os:getpid())")));
            arm(*slow);
            arm(*quick);
            const auto t0 = Clock::now();
            ::kill(pid, SIGSTOP);
            auto got = inbox.receive(std::chrono::seconds(ticktime * 3 + 30));
            const auto beam = got ? std::optional(Clock::now()) : std::nullopt;
            // Our own connection times out at about the same time; dead follows dead_after later.
            const auto deadline = Clock::now() + 30s;
            while (Clock::now() < deadline) {
                std::lock_guard lock(slow->mutex);
                if (slow->dead) break;
                std::this_thread::sleep_for(50ms);
            }
            ::kill(pid, SIGCONT);
            node->unregister_name(Atom::make("detect_inbox").value());
            std::lock_guard a(slow->mutex), b(quick->mutex);
            const double ratio =
                beam && quick->suspect
                    ? std::chrono::duration<double>(*beam - t0).count() /
                          std::chrono::duration<double>(*quick->suspect - t0).count()
                    : 0;
            std::printf("| %5d | %12ss | %28ss | %34ss | %8ss | %15sx |\n", trial,
                        seconds_after(beam, t0).c_str(), seconds_after(slow->suspect, t0).c_str(),
                        seconds_after(quick->suspect, t0).c_str(),
                        seconds_after(slow->dead, t0).c_str(), num(ratio, "%.1f").c_str());
            std::fflush(stdout);
        }
        node->stop();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "detection_time: %s\n", e.what());
        return 1;
    }
    return 0;
}
