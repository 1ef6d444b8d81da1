// Encrypted transport benchmark: two of our nodes, plaintext against encrypted, in one run.
// Messages per second into a sink (small tuples and 64 KB binaries), CPU per message of the
// sender and the receiver, and round trips through an echo. Reports; asserts nothing.
//
//   crypto_throughput [--scale X]
//
// Processes, all on one private EPMD (the embedded one, in this process):
//   this process    a C++ node in prefer mode: the sender and round-trip client
//   bench_plain     `distribute node --crypto off`: its sink and echo (dialled in plaintext)
//   bench_secure    `distribute node --crypto require`: the same, dialled encrypted
// Targets (issue 15): encrypted throughput at least 0.7x plaintext for small messages and 0.5x
// for 64 KB ones.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "distribute/node.hpp"
#include "erl_fixture.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace distribute::bench;

namespace {

struct Payload {
    std::string label;
    Term term;
    long count;
    double target;  // encrypted / plaintext throughput at least
};

struct Measured {
    double rate = 0;
    double sender_cpu = 0;    // us per message
    double receiver_cpu = 0;  // us per message
};

Measured burst(Node& self, const std::string& node, pid_t receiver, const Payload& p) {
    const double self0 = cpu_seconds(::getpid());
    const double recv0 = cpu_seconds(receiver);
    Measured m;
    m.rate = sink_burst(self, node, p.term, p.count);
    const double per = 1e6 / static_cast<double>(p.count);
    m.sender_cpu = (cpu_seconds(::getpid()) - self0) * per;
    m.receiver_cpu = (cpu_seconds(receiver) - recv0) * per;
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    double scale = 1.0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--scale" && i + 1 < argc) {
            scale = std::atof(argv[++i]);
        } else {
            std::printf(
                "usage: crypto_throughput [--scale X]\n"
                "  --scale X   messages per burst times X (default 1: 500k small, 20k 64 "
                "KB)\n");
            return a == "--help" ? 0 : 2;
        }
    }
    try {
        const std::string cookie = "bench_cookie";
        const std::uint16_t epmd_port = free_port();
        const std::vector<std::string> env = {"ERL_EPMD_PORT=" + std::to_string(epmd_port)};
        const std::string host = short_host();

        NodeOptions options;
        options.name = unique_name("bench_crypto_self");
        options.cookie = cookie;
        options.epmd_mode = EpmdMode::embedded;
        options.epmd.endpoint.port = epmd_port;
        options.crypto.mode = CryptoMode::prefer;
        auto started = Node::start(options);
        if (!started) throw FixtureError("our node did not start: " + started.error().detail);
        Node& self = *started;

        auto receiver = [&](const std::string& prefix, const std::string& mode) {
            const std::string name = unique_name(prefix);
            auto server = std::make_unique<Server>(
                std::vector<std::string>{DISTRIBUTE_EXE, "node", "--sname", name, "--cookie",
                                         cookie, "--crypto", mode},
                env, "is up");
            return std::pair{name + "@" + host, std::move(server)};
        };
        auto [plain_node, plain] = receiver("bench_plain", "off");
        auto [secure_node, secure] = receiver("bench_secure", "require");
        for (const auto& node : {plain_node, secure_node})
            if (!self.connect(Atom::make(node).value()))
                throw FixtureError("cannot connect to " + node);

        auto n = [scale](long base) { return std::max(1000L, static_cast<long>(base * scale)); };
        std::vector<std::uint8_t> kb64(65536, 7);
        const std::vector<Payload> payloads = {
            {"small tuple", tuple("hello"_a, 42, 3.5, list(1, 2)), n(500'000), 0.7},
            {"64 KB binary", binary(kb64), n(20'000), 0.5},
        };

        std::printf(
            "Our node into our sink: plaintext against encrypted (msgs/s; CPU in "
            "us/msg)\n\n");
        std::printf(
            "| payload      |  msgs | plaintext | encrypted | enc/plain | target | met "
            "| send cpu plain | send cpu enc | recv cpu plain | recv cpu enc |\n");
        std::printf(
            "|--------------|------:|----------:|----------:|----------:|-------:|----"
            "|---------------:|-------------:|---------------:|-------------:|\n");
        for (const auto& p : payloads) {
            burst(self, plain_node, plain->child.pid, p);  // warm-up: buffers, caches
            const Measured pm = burst(self, plain_node, plain->child.pid, p);
            const Measured em = burst(self, secure_node, secure->child.pid, p);
            const double ratio = em.rate / pm.rate;
            std::printf(
                "| %-12s | %5s | %9s | %9s | %8.2fx | %5.1fx | %-3s | %14s | %12s | %14s "
                "| %12s |\n",
                p.label.c_str(), rate(static_cast<double>(p.count)).c_str(), rate(pm.rate).c_str(),
                rate(em.rate).c_str(), ratio, p.target, ratio >= p.target ? "yes" : "no",
                num(pm.sender_cpu).c_str(), num(em.sender_cpu).c_str(),
                num(pm.receiver_cpu).c_str(), num(em.receiver_cpu).c_str());
            std::fflush(stdout);
        }

        std::printf("\nRound trips through our echo (us per round trip; lower is better)\n\n");
        std::printf("| payload      | plaintext | encrypted | enc/plain |\n");
        std::printf("|--------------|----------:|----------:|----------:|\n");
        for (const auto& p : payloads) {
            const long trips = std::max(200L, static_cast<long>(20'000 * scale));
            const double pr = echo_round_trips(self, plain_node, p.term, trips);
            const double er = echo_round_trips(self, secure_node, p.term, trips);
            std::printf("| %-12s | %9s | %9s | %8.2fx |\n", p.label.c_str(),
                        num(pr, "%.1f").c_str(), num(er, "%.1f").c_str(), er / pr);
            std::fflush(stdout);
        }
        self.stop();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "crypto_throughput: %s\n", e.what());
        return 1;
    }
    return 0;
}
