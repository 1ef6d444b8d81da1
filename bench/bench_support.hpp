// What the node benchmarks share: child servers that say when they are ready, CPU time of other
// processes, and number formatting for the tables.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "distribute/node.hpp"
#include "erl_fixture.hpp"
#include "subprocess.hpp"

namespace distribute::bench {

// A child process that prints a line containing `ready` once it serves; killed when this goes.
struct Server {
    testing::Child child;
    std::string out, err;

    Server(const std::vector<std::string>& argv, const std::vector<std::string>& env,
           const std::string& ready);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
};

// The nodes every benchmark run starts, on one private EPMD (the embedded one, in this process):
//   self        a C++ node in this process (our sender and client)
//   cpp         `distribute node`: our sink, echo, kv and demo rpc module
//   recv        erl: a BEAM sink, echo and kv (node_bench.erl, bench_kv.erl), schedulers without
//               busy-waiting so that its CPU time is its work
//   drv         erl: the BEAM sender and client
// Connections between them are made up front, so no measurement pays for a handshake.
struct Cluster {
    explicit Cluster(unsigned threads);

    std::string cookie = "bench_cookie";
    std::uint16_t epmd_port = 0;
    std::vector<std::string> env;  // ERL_EPMD_PORT for children
    std::string host;
    std::optional<Node> self;
    NodeOptions self_options;  // what self was started with: for another node of this process
    std::string cpp_node;
    std::unique_ptr<Server> cpp;
    testing::TempDir dir;
    std::unique_ptr<testing::ErlNode> recv;
    pid_t recv_pid = -1;
    std::unique_ptr<testing::ErlNode> drv;

    // Makes drv and self connect to `node` now.
    void connect(const std::string& node);
};

// CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat.
double cpu_seconds(pid_t pid);

// Resident memory (VmRSS) of a process, in bytes.
double rss_bytes(pid_t pid);
// Our node sending `count` copies of `message` to {sink, Node} (after {start, Self, Count});
// messages per second, once the sink says done.
double sink_burst(Node& self, const std::string& node, const Term& message, long count);
// Microseconds per round trip of `message` through {echo, Node}, `count` times.
double echo_round_trips(Node& self, const std::string& node, const Term& message, long count);

// Microseconds an erl expression answered with.
double parse_micros(const std::string& text);

// The highest of three runs of `measure` (a rate): on a shared machine the lower ones measure
// the other work that ran meanwhile.
template <class Measure>
double best_of(Measure&& measure) {
    double best = 0;
    for (int i = 0; i < 3; ++i)
        best = std::max(best, measure());
    return best;
}

// 1.23M, 456.7k
std::string rate(double per_second);
std::string num(double value, const char* format = "%.2f");

}  // namespace distribute::bench
