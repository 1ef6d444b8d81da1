// The chaos soak (docs/soak.md): C++ processes of one node of ours and processes of several real
// erl nodes exchange sequence-numbered messages both ways while a driver kills, stops and
// disconnects the erl nodes and restarts the EPMD. Prints a summary; exits 1 on any violation,
// 2 when the set-up itself failed.
//
//   soak [--seconds N] [--erl-nodes N] [--processes N] [--workers N] [--seed N]
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "chaos.hpp"
#include "distribute/node.hpp"
#include "erl_fixture.hpp"
#include "worker.hpp"

namespace distribute::soak {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Options {
    std::chrono::seconds duration{120};
    std::size_t erl_nodes = 3;
    std::size_t processes = 2;
    std::size_t workers = 3;
    std::uint64_t seed = std::random_device{}();
};

// What the node and this process hold; compared before and after.
struct Footprint {
    std::size_t fds = 0;
    std::size_t processes = 0;
    std::size_t registered_names = 0;
    std::size_t connections = 0;
    std::size_t atoms = 0;
    std::size_t rss_kib = 0;
};

// Open descriptors other than pipes: the pipes are the fixture's, to the erl nodes and the EPMD
// it runs (their number follows the faults); the node's own are sockets, epoll and eventfds.
std::size_t open_fds() {
    std::size_t n = 0;
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) return 0;
    const std::string self = std::to_string(::dirfd(dir));
    while (dirent* entry = ::readdir(dir)) {
        const std::string name = entry->d_name;
        if (name == "." || name == ".." || name == self) continue;
        char target[256] = {};
        const auto length =
            ::readlink(("/proc/self/fd/" + name).c_str(), target, sizeof target - 1);
        if (length > 0 && std::strncmp(target, "pipe:", 5) == 0) continue;
        ++n;
    }
    ::closedir(dir);
    return n;
}

std::size_t rss_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
    return 0;
}

Footprint footprint(const Node& node) {
    const NodeStats s = node.stats();
    return {open_fds(), s.processes, s.registered_names, s.connections.size(), s.atoms, rss_kib()};
}

std::string describe(const Footprint& f) {
    return "fds " + std::to_string(f.fds) + ", processes " + std::to_string(f.processes) +
           ", registered names " + std::to_string(f.registered_names) + ", connections " +
           std::to_string(f.connections) + ", atoms " + std::to_string(f.atoms) + ", RSS " +
           std::to_string(f.rss_kib / 1024) + " MiB";
}

// Polls `condition` every 100 ms until it holds or `limit` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (!condition()) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(100ms);
    }
    return true;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) {
            std::fprintf(stderr,
                         "usage: soak [--seconds N] [--erl-nodes N] [--processes N] "
                         "[--workers N] [--seed N]\n");
            std::exit(2);
        }
        const auto value = std::strtoull(argv[++i], nullptr, 10);
        if (arg == "--seconds")
            o.duration = std::chrono::seconds(value);
        else if (arg == "--erl-nodes")
            o.erl_nodes = std::max<std::size_t>(value, 1);
        else if (arg == "--processes")
            o.processes = std::max<std::size_t>(value, 1);
        else if (arg == "--workers")
            o.workers = std::max<std::size_t>(value, 1);
        else if (arg == "--seed")
            o.seed = value;
        else {
            std::fprintf(stderr, "soak: unknown option %s\n", arg.c_str());
            std::exit(2);
        }
    }
    return o;
}

class Soak {
  public:
    explicit Soak(Options options) : options_(options), random_(options.seed) {}

    int run() {
        testing::TempDir dir;
        testing::compile_erl(INTEROP_SOURCE_DIR "/erl/soak_peer.erl", dir.path());
        const std::string violation_log = dir.file("violations.log");

        NodeOptions o;
        o.name = testing::unique_name("soak_cxx");
        o.cookie = "interop_cookie";
        o.net_ticktime = ticktime_;
        o.threads = 2;
        o.epmd_mode = EpmdMode::use_running;
        o.epmd.endpoint.host = "127.0.0.1";
        // The EPMD is BeamSide's; its port is known only once it runs, so the node starts after.
        std::vector<std::string> names;
        for (std::size_t i = 0; i < options_.workers; ++i)
            names.push_back("soak_worker_" + std::to_string(i + 1));
        const std::string our_node = o.name + "@" + testing::short_host();
        BeamSideOptions beam{options_.erl_nodes, options_.processes, names,    our_node,
                             dir.path(),         violation_log,      ticktime_};
        // The erl nodes start first and ask for the workers until they answer.
        BeamSide erl(beam);
        o.epmd.endpoint.port = erl.epmd_port();
        o.epmd.reregister_retry = {RetryPolicy::unlimited, 50ms, 500ms, 2.0, Jitter::full};
        o.log = [this](LogLevel level, std::string_view line) {
            if (level < LogLevel::warning) return;
            std::lock_guard lock(log_mutex_);
            ++warnings_;
            last_warning_ = line;
        };
        auto started = Node::start(std::move(o));
        if (!started) {
            std::fprintf(stderr, "soak: our node did not start: %s\n",
                         started.error().detail.c_str());
            return 2;
        }
        Node& node = *started;
        const Footprint before = footprint(node);

        std::vector<std::unique_ptr<Worker>> workers;
        for (auto& name : names)
            workers.push_back(std::make_unique<Worker>(node, Atom::make(name).value()));

        std::printf(
            "soak: %s, %zu workers, %zu erl nodes x %zu processes, %llds of faults, "
            "seed %llu\n",
            our_node.c_str(), options_.workers, options_.erl_nodes, options_.processes,
            static_cast<long long>(options_.duration.count()),
            static_cast<unsigned long long>(options_.seed));
        std::fflush(stdout);
        require(meshed(erl, workers), "the first full mesh did not form within 60 s");
        const Footprint warmed = footprint(node);

        std::map<std::string, unsigned> faults;
        const auto end = Clock::now() + options_.duration;
        std::uniform_int_distribution<int> pause_ms(500, 3000);
        auto next_report = Clock::now() + report_every;
        unsigned done = 0;
        while (Clock::now() < end) {
            ++faults[erl.random_fault(node, random_)];
            ++done;
            std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(random_)));
            if (Clock::now() >= next_report) {
                // For a long run: the footprint over time, where a slow leak shows.
                std::printf("  %u faults: %s\n", done, describe(footprint(node)).c_str());
                std::fflush(stdout);
                next_report += report_every;
            }
        }

        // Quiet again: every pair must find each other, and then every number sent arrives.
        require(meshed(erl, workers), "the mesh did not heal within 60 s of the last fault");
        std::this_thread::sleep_for(2s);
        for (auto& w : workers)
            w->finish();
        for (std::size_t i = 0; i < erl.size(); ++i)
            erl.finish(i);
        const std::size_t beam_processes = options_.erl_nodes * options_.processes;
        require(eventually(
                    [&] {
                        for (auto& w : workers)
                            if (w->finals_from_peers() < beam_processes) return false;
                        for (std::size_t i = 0; i < erl.size(); ++i)
                            if (erl.totals(i).finals < options_.processes * options_.workers)
                                return false;
                        return true;
                    },
                    30s),
                "the final numbers were not all received and matched within 30 s");
        BeamSide::Totals beam_totals;
        for (std::size_t i = 0; i < erl.size(); ++i) {
            const auto t = erl.totals(i);
            beam_totals.received += t.received;
            beam_totals.sent += t.sent;
            beam_totals.violations += t.violations;
        }

        // Every link and monitor still standing fires once when the erl nodes go.
        erl.kill_all();
        require(eventually(
                    [&] {
                        for (auto& w : workers) {
                            const auto c = w->counts();
                            if (c.monitors_active > 0 || c.links_active > 0) return false;
                        }
                        return true;
                    },
                    30s),
                "links or monitors had not fired 30 s after the erl nodes were killed");
        WorkerCounts total;
        for (auto& w : workers) {
            const auto c = w->counts();
            require(c.downs == c.monitors_made, "a worker's DOWNs differ from its monitors");
            require(c.exits == c.links_made, "a worker's exit signals differ from its links");
            total.sent += c.sent;
            total.received += c.received;
            total.gaps_across_nodedown += c.gaps_across_nodedown;
            total.finals_checked += c.finals_checked;
            total.monitors_made += c.monitors_made;
            total.downs += c.downs;
            total.links_made += c.links_made;
            total.exits += c.exits;
            for (auto& v : w->violations())
                failures_.push_back(v);
        }
        for (auto& w : workers)
            w->stop();
        workers.clear();
        require(eventually([&] { return node.stats().connections.empty(); }, 20s),
                "connections still up 20 s after the erl nodes were killed");

        // Back to where it started, RSS within the tolerance (allocator caches stay).
        std::this_thread::sleep_for(1s);
        const Footprint after = footprint(node);
        require(after.fds == before.fds, "file descriptors: " + std::to_string(before.fds) +
                                             " before, " + std::to_string(after.fds) + " after");
        require(after.processes == before.processes, "processes differ from the baseline");
        require(after.registered_names == before.registered_names,
                "registered names differ from the baseline");
        require(after.atoms <= warmed.atoms + atom_tolerance, "the atom table grew by more than " +
                                                                  std::to_string(atom_tolerance) +
                                                                  " atoms during the faults");
        require(after.rss_kib <= warmed.rss_kib + rss_tolerance_kib,
                "RSS grew by more than " + std::to_string(rss_tolerance_kib / 1024) +
                    " MiB over the warmed-up figure");

        std::ifstream beam_log(violation_log);
        for (std::string line; std::getline(beam_log, line);)
            failures_.push_back("erl: " + line);

        std::printf("faults:");
        unsigned all = 0;
        for (auto& [name, count] : faults) {
            std::printf(" %s %u;", name.c_str(), count);
            all += count;
        }
        std::printf(" %u in all\n", all);
        std::printf("C++ -> erl: %llu sent; erl received %llu (surviving nodes' processes)\n",
                    ull(total.sent), ull(beam_totals.received));
        std::printf("erl -> C++: %llu sent (surviving nodes' processes); C++ received %llu\n",
                    ull(beam_totals.sent), ull(total.received));
        std::printf("gaps across a nodedown (allowed): %llu; final numbers matched: %llu\n",
                    ull(total.gaps_across_nodedown), ull(total.finals_checked));
        std::printf("monitors %llu, DOWNs %llu; links %llu, exit signals %llu\n",
                    ull(total.monitors_made), ull(total.downs), ull(total.links_made),
                    ull(total.exits));
        std::printf("before:  %s\nwarmed:  %s\nafter:   %s\n", describe(before).c_str(),
                    describe(warmed).c_str(), describe(after).c_str());
        std::printf("node warnings and errors logged: %llu\n", ull(warnings_));
        if (failures_.empty()) {
            std::printf("soak: passed, no violation\n");
            return 0;
        }
        std::printf("soak: %zu violations\n", failures_.size());
        for (std::size_t i = 0; i < failures_.size() && i < 50; ++i)
            std::printf("  %s\n", failures_[i].c_str());
        std::lock_guard lock(log_mutex_);
        if (!last_warning_.empty()) std::printf("last node warning: %s\n", last_warning_.c_str());
        return 1;
    }

  private:
    static unsigned long long ull(std::uint64_t v) { return v; }

    void require(bool holds, const std::string& what) {
        if (!holds) failures_.push_back(what);
    }

    // Every worker watches every BEAM process and every BEAM process knows every worker.
    bool meshed(BeamSide& erl, const std::vector<std::unique_ptr<Worker>>& workers) {
        const std::size_t beam_processes = options_.erl_nodes * options_.processes;
        return eventually(
            [&] {
                for (auto& w : workers)
                    if (w->counts().peers_watched < beam_processes) return false;
                for (std::size_t i = 0; i < erl.size(); ++i)
                    if (erl.totals(i).fewest_workers_known < options_.workers) return false;
                return true;
            },
            60s);
    }

    static constexpr auto report_every = std::chrono::seconds(60);
    static constexpr std::size_t rss_tolerance_kib = 32 * 1024;
    // The first time a fault path runs it may bring the rest of the protocol's vocabulary (a
    // global or net_kernel message not seen before); growth with every fault would go past it.
    static constexpr std::size_t atom_tolerance = 64;
    const std::chrono::seconds ticktime_{4};
    Options options_;
    std::mt19937_64 random_;
    std::vector<std::string> failures_;
    std::mutex log_mutex_;
    std::uint64_t warnings_ = 0;
    std::string last_warning_;
};

}  // namespace
}  // namespace distribute::soak

int main(int argc, char** argv) {
    try {
        return distribute::soak::Soak(distribute::soak::parse(argc, argv)).run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "soak: the set-up failed: %s\n", e.what());
        return 2;
    }
}
