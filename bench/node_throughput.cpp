// Node benchmark: messages per second and receiver CPU per message on loopback, ours against the
// BEAM and an erl_interface C node, all in one run. Reports; asserts nothing.
//
//   node_throughput [--scale X] [--only PAYLOAD] [--threads T]
//
// Processes it starts, all on one private EPMD (the embedded one, in this process):
//   this process   a C++ node (the "ours" sender and round-trip client)
//   bench_cpp      `distribute node`: our sink and echo
//   bench_recv     erl: a BEAM sink and echo (node_bench.erl), schedulers without busy-waiting
//   bench_drv      erl: the BEAM sender and round-trip client
//   bench_ei       ei_sink: an erl_interface C node sink
// Receiver CPU comes from /proc/<pid>/stat (user + system) over each burst.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "distribute/node.hpp"
#include "erl_fixture.hpp"
#include "subprocess.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace distribute::bench;
using Clock = std::chrono::steady_clock;

namespace {

struct Payload {
    std::string label;
    std::string erl;  // node_bench:payload/1 argument
    Term term;        // the same term built here
    long count;       // messages per burst
};

std::vector<Payload> payloads(double scale) {
    auto n = [scale](long base) { return std::max(1000L, static_cast<long>(base * scale)); };
    std::vector<std::uint8_t> kb(1024, 7), kb64(65536, 7);
    return {
        {"small tuple", "small", tuple("hello"_a, 42, 3.5, list(1, 2)), n(1'000'000)},
        {"1 KB binary", "{binary, 1024}", binary(kb), n(300'000)},
        {"64 KB binary", "{binary, 65536}", binary(kb64), n(20'000)},
    };
}

struct Burst {
    double rate = 0;          // messages per second
    double cpu_per_msg = -1;  // receiver microseconds per message; < 0: not measured
};

// The BEAM sender bursting into {sink, Node}.
Burst beam_burst(ErlNode& drv, const std::string& node, const Payload& p, pid_t receiver) {
    const double cpu0 = cpu_seconds(receiver);
    const double micros = parse_micros(drv.eval(
        "node_bench:burst({sink, '" + node + "'}, " + p.erl + ", " + std::to_string(p.count) + ")",
        std::chrono::seconds(600)));
    const double cpu = cpu_seconds(receiver) - cpu0;
    return {p.count * 1e6 / micros, cpu * 1e6 / static_cast<double>(p.count)};
}

// Our sender bursting into {sink, Node}.
Burst our_burst(Node& self, const std::string& node, const Payload& p) {
    return {sink_burst(self, node, p.term, p.count), -1};
}

double beam_round_trip(ErlNode& drv, const std::string& node, const Payload& p, long n) {
    return parse_micros(drv.eval("node_bench:round_trips({echo, '" + node + "'}, " + p.erl + ", " +
                                     std::to_string(n) + ")",
                                 std::chrono::seconds(600))) /
           static_cast<double>(n);
}

double our_round_trip(Node& self, const std::string& node, const Payload& p, long n) {
    return echo_round_trips(self, node, p.term, n);
}

}  // namespace

int main(int argc, char** argv) {
    double scale = 1.0;
    std::string only;
    std::string threads = "0";
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--scale" && i + 1 < argc) {
            scale = std::atof(argv[++i]);
        } else if (a == "--only" && i + 1 < argc) {
            only = argv[++i];
        } else if (a == "--threads" && i + 1 < argc) {
            threads = argv[++i];
        } else {
            std::printf(
                "usage: node_throughput [--scale X] [--only PAYLOAD] [--threads T]\n"
                "  --scale X   messages per burst times X (default 1: 1M small, 300k 1 KB, 20k 64 "
                "KB)\n"
                "  --only P    just the payload whose label starts with P\n"
                "  --threads T threads of our nodes (default 0: one per core)\n");
            return a == "--help" ? 0 : 2;
        }
    }
    try {
        Cluster c(static_cast<unsigned>(std::stoul(threads)));
        const std::string ei_name = unique_name("bench_ei");
        const std::string ei_node = ei_name + "@" + c.host;
        Server ei({EI_SINK_EXE, ei_name, c.cookie}, c.env, "ready");
        c.connect(ei_node);
        ErlNode& drv = *c.drv;
        ErlNode& recv = *c.recv;
        Node& self = *c.self;
        const std::string& cpp_node = c.cpp_node;
        const pid_t recv_pid = c.recv_pid;

        std::printf("Into a sink, sent by a BEAM node (msgs/s; receiver CPU in us/msg)\n\n");
        std::printf(
            "| payload      |  msgs | into ours | into BEAM |  into ei | ours/BEAM "
            "| cpu ours | cpu BEAM | cpu ei | cpu ours/ei |\n");
        std::printf(
            "|--------------|------:|----------:|----------:|---------:|----------:"
            "|---------:|---------:|-------:|------------:|\n");
        std::vector<Payload> list = payloads(scale);
        for (auto& p : list) {
            if (!only.empty() && p.label.rfind(only, 0) != 0) continue;
            Burst ours = beam_burst(drv, cpp_node, p, c.cpp->child.pid);
            Burst beam = beam_burst(drv, recv.node_name(), p, recv_pid);
            Burst cnode = beam_burst(drv, ei_node, p, ei.child.pid);
            std::printf("| %-12s | %5s | %9s | %9s | %8s | %8.2fx | %8s | %8s | %6s | %10.2fx |\n",
                        p.label.c_str(), rate(static_cast<double>(p.count)).c_str(),
                        rate(ours.rate).c_str(), rate(beam.rate).c_str(), rate(cnode.rate).c_str(),
                        ours.rate / beam.rate, num(ours.cpu_per_msg).c_str(),
                        num(beam.cpu_per_msg).c_str(), num(cnode.cpu_per_msg).c_str(),
                        cnode.cpu_per_msg > 0 ? ours.cpu_per_msg / cnode.cpu_per_msg : 0.0);
            std::fflush(stdout);
        }

        // A second sender of ours that writes every atom as text (NodeOptions::atom_cache off).
        NodeOptions plain_options = c.self_options;
        plain_options.name = unique_name("bench_plain");
        plain_options.atom_cache = false;
        plain_options.epmd_mode = EpmdMode::use_running;  // self's embedded one
        auto plain = Node::start(plain_options);
        if (!plain) throw FixtureError("the no-cache node did not start: " + plain.error().detail);
        // Connected before anything is timed, as the others are: a burst sent while connecting
        // queues whole in the connection (with --only 64, 1.3 GB of it).
        for (const std::string& node : {cpp_node, recv.node_name()})
            if (!plain->connect(Atom::make(node).value()))
                throw FixtureError("the no-cache node did not connect to " + node);

        std::printf(
            "\nSenders (msgs/s into a sink; ours with the atom cache unless 'no cache')\n\n");
        std::printf(
            "| payload      | ours -> BEAM | BEAM -> BEAM | ours/BEAM | ours -> ours "
            "| ours -> ours, no cache | ours -> BEAM, no cache |\n");
        std::printf(
            "|--------------|-------------:|-------------:|----------:|-------------:"
            "|-----------------------:|-----------------------:|\n");
        for (auto& p : list) {
            if (!only.empty() && p.label.rfind(only, 0) != 0) continue;
            Burst ours = our_burst(self, recv.node_name(), p);
            Burst beam = beam_burst(drv, recv.node_name(), p, recv_pid);
            Burst pair = our_burst(self, cpp_node, p);
            Burst pair_plain = our_burst(*plain, cpp_node, p);
            Burst ours_plain = our_burst(*plain, recv.node_name(), p);
            std::printf("| %-12s | %12s | %12s | %8.2fx | %12s | %22s | %22s |\n", p.label.c_str(),
                        rate(ours.rate).c_str(), rate(beam.rate).c_str(), ours.rate / beam.rate,
                        rate(pair.rate).c_str(), rate(pair_plain.rate).c_str(),
                        rate(ours_plain.rate).c_str());
            std::fflush(stdout);
        }

        std::printf("\nRound trips through an echo (us per round trip; lower is better)\n\n");
        std::printf("| payload      | BEAM -> ours | BEAM -> BEAM | BEAM/ours | ours -> ours |\n");
        std::printf("|--------------|-------------:|-------------:|----------:|-------------:|\n");
        for (auto& p : list) {
            if (!only.empty() && p.label.rfind(only, 0) != 0) continue;
            const long n = std::max(200L, static_cast<long>(20'000 * scale));
            double ours = beam_round_trip(drv, cpp_node, p, n);
            double beam = beam_round_trip(drv, recv.node_name(), p, n);
            double pair = our_round_trip(self, cpp_node, p, n);
            std::printf("| %-12s | %12s | %12s | %8.2fx | %12s |\n", p.label.c_str(),
                        num(ours, "%.1f").c_str(), num(beam, "%.1f").c_str(), beam / ours,
                        num(pair, "%.1f").c_str());
            std::fflush(stdout);
        }
        std::printf("\nratios > 1 mean ours is faster; cpu ours/ei < 1 means ours uses less CPU\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "node_throughput: %s\n", e.what());
        return 1;
    }
    return 0;
}
