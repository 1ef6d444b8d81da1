// Call benchmark: gen_server calls and erpc calls per second, with 1 and with 50 concurrent
// callers, both ways, against the BEAM calling the BEAM in the same run. Reports; asserts
// nothing.
//
//   rpc_throughput [--calls N] [--threads T]
//
// gen_server rows: {get, key} to `kv` (our demo actor, or bench_kv.erl on the BEAM).
// rpc rows: erpc:call of an identity function (our demo:echo/1, or bench_kv:echo/1).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "distribute/rpc.hpp"

using namespace distribute;
using namespace distribute::bench;
using Clock = std::chrono::steady_clock;

namespace {

// `callers` threads, each with its own process, make `n` calls in all; calls per second.
template <class Call>
double cpp_rate(Node& node, long n, int callers, Call call) {
    std::atomic<long> failures{0};
    std::vector<std::thread> threads;
    const auto t0 = Clock::now();
    for (int i = 0; i < callers; ++i)
        threads.emplace_back([&, each = n / callers] {
            Mailbox me = node.open_mailbox();
            for (long k = 0; k < each; ++k)
                if (!call(me)) failures.fetch_add(1);
        });
    for (auto& t : threads)
        t.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (failures.load() > 0)
        throw interop::FixtureError(std::to_string(failures.load()) + " calls failed");
    return static_cast<double>(n / callers * callers) / seconds;
}

double erl_rate(interop::ErlNode& drv, const std::string& expression, long n) {
    return static_cast<double>(n) * 1e6 /
           parse_micros(drv.eval(expression, std::chrono::seconds(600)));
}

}  // namespace

int main(int argc, char** argv) {
    long calls = 50'000;
    unsigned threads = 0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--calls" && i + 1 < argc) {
            calls = std::atol(argv[++i]);
        } else if (a == "--threads" && i + 1 < argc) {
            threads = static_cast<unsigned>(std::atoi(argv[++i]));
        } else {
            std::printf(
                "usage: rpc_throughput [--calls N] [--threads T]\n"
                "  --calls N    calls per row (default 50000)\n"
                "  --threads T  threads of our nodes (default 0: one per core)\n");
            return a == "--help" ? 0 : 2;
        }
    }
    try {
        Cluster c(threads);
        Node& self = *c.self;
        const Atom kv = Atom::make("kv").value();
        const Atom get = Atom::make("get").value();
        const Atom recv = Atom::make(c.recv->node_name()).value();
        const Term request = tuple(get, Atom::make("key").value());
        const std::string erl_request = "{get, key}";

        std::printf("gen_server calls per second ({get, key} to kv)\n\n");
        std::printf(
            "| callers | BEAM -> ours | BEAM -> BEAM | ours/BEAM | ours -> BEAM "
            "| BEAM -> BEAM | ours/BEAM |\n");
        std::printf(
            "|--------:|-------------:|-------------:|----------:|-------------:"
            "|-------------:|----------:|\n");
        for (int callers : {1, 50}) {
            const std::string tail = ", " + erl_request + ", " + std::to_string(calls) + ", " +
                                     std::to_string(callers) + ")";
            const double into_ours =
                erl_rate(*c.drv, "node_bench:calls({kv, '" + c.cpp_node + "'}" + tail, calls);
            const double beam = erl_rate(
                *c.drv, "node_bench:calls({kv, '" + c.recv->node_name() + "'}" + tail, calls);
            const double from_ours = cpp_rate(self, calls, callers, [&](Mailbox& me) {
                return call(me, ServerRef(kv, recv), request).has_value();
            });
            std::printf("| %7d | %12s | %12s | %8.2fx | %12s | %12s | %8.2fx |\n", callers,
                        rate(into_ours).c_str(), rate(beam).c_str(), into_ours / beam,
                        rate(from_ours).c_str(), rate(beam).c_str(), from_ours / beam);
            std::fflush(stdout);
        }

        std::printf("\nerpc calls per second (an identity function)\n\n");
        std::printf(
            "| callers | BEAM -> ours | BEAM -> BEAM | ours/BEAM | ours -> BEAM "
            "| BEAM -> BEAM | ours/BEAM |\n");
        std::printf(
            "|--------:|-------------:|-------------:|----------:|-------------:"
            "|-------------:|----------:|\n");
        const Atom bench_kv = Atom::make("bench_kv").value();
        const Atom echo = Atom::make("echo").value();
        for (int callers : {1, 50}) {
            const std::string tail =
                ", [x], {" + std::to_string(calls) + ", " + std::to_string(callers) + "})";
            const double into_ours =
                erl_rate(*c.drv, "node_bench:rpcs('" + c.cpp_node + "', demo, echo" + tail, calls);
            const double beam = erl_rate(
                *c.drv, "node_bench:rpcs('" + c.recv->node_name() + "', bench_kv, echo" + tail,
                calls);
            const double from_ours = cpp_rate(self, calls, callers, [&](Mailbox&) {
                return rpc(self, recv, bench_kv, echo, {Term(Atom::make("x").value())}).has_value();
            });
            std::printf("| %7d | %12s | %12s | %8.2fx | %12s | %12s | %8.2fx |\n", callers,
                        rate(into_ours).c_str(), rate(beam).c_str(), into_ours / beam,
                        rate(from_ours).c_str(), rate(beam).c_str(), from_ours / beam);
            std::fflush(stdout);
        }
        std::printf("\nratios > 1 mean ours is faster\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rpc_throughput: %s\n", e.what());
        return 1;
    }
    return 0;
}
