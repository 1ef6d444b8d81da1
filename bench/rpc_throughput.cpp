// Call benchmark: gen_server calls and erpc calls per second, both ways, and a proxy (a server
// that serves each call by calling another), against the BEAM doing the same in the same run.
// Every rate is the best of three runs, ours and the BEAM's alike: on a shared machine the
// worst runs measure the neighbours.
// Our callers are coroutine processes on our node's threads, as many as the BEAM's caller
// processes: no OS thread per caller. Reports; asserts nothing.
//
//   rpc_throughput [--calls N] [--threads T]
//
// gen_server rows: {get, key} to `kv` (our demo actor, or bench_kv.erl on the BEAM), with 1, 50
// and 1,000 concurrent callers.
// rpc rows: erpc:call of an identity function (our demo:echo/1, or bench_kv:echo/1).
// proxy rows: the BEAM calls `proxy`, which calls the BEAM's kv with {get, key} and replies: our
// proxy actor (call_async), or bench_proxy.erl on a BEAM node of its own (send_request).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "distribute/actor.hpp"
#include "distribute/coroutine.hpp"
#include "distribute/rpc.hpp"

using namespace distribute;
using namespace distribute::bench;
using Clock = std::chrono::steady_clock;

namespace {

// `callers` coroutine processes make `n` calls in all; calls per second.
template <class Call>
double cpp_rate_once(Node& node, long n, int callers, Call call) {
    struct Done {
        std::atomic<long> failures{0};
        std::atomic<int> left;
        std::promise<void> all;
    };
    auto done = std::make_shared<Done>();
    done->left = callers;
    const auto t0 = Clock::now();
    for (int i = 0; i < callers; ++i)
        spawn_coroutine(node, [done, call, each = n / callers](CoProcess self) -> Task<> {
            for (long k = 0; k < each; ++k)
                if (!co_await call(self)) done->failures.fetch_add(1);
            if (done->left.fetch_sub(1) == 1) done->all.set_value();
        });
    done->all.get_future().wait();
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (done->failures.load() > 0)
        throw testing::FixtureError(std::to_string(done->failures.load()) + " calls failed");
    return static_cast<double>(n / callers * callers) / seconds;
}

template <class Call>
double cpp_rate(Node& node, long n, int callers, Call call) {
    return best_of([&] { return cpp_rate_once(node, n, callers, call); });
}

// Serves each call by calling `backend` without waiting, and replies when its answer comes.
class Proxy : public Actor {
  public:
    explicit Proxy(ServerRef backend) : backend_(std::move(backend)) {}
    CallResult handle_call(const Term& request, From from) override {
        call_async(backend_, request, infinity_timeout,
                   [from](Expected<Term, CallError> reply) -> HandleResult {
                       from.reply(reply ? *reply : tuple(atoms::error, reply.error().reason));
                       return NoReply{};
                   });
        return NoReply{};
    }

  private:
    ServerRef backend_;
};

double erl_rate(testing::ErlNode& drv, const std::string& expression, long n) {
    return best_of([&] {
        return static_cast<double>(n) * 1e6 /
               parse_micros(drv.eval(expression, std::chrono::seconds(600)));
    });
}

}  // namespace

int main(int argc, char** argv) {
    long calls = 20'000;
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
                "  --calls N    calls per timing run (default 20000; each rate is the best of 3)\n"
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
        for (int callers : {1, 50, 1000}) {
            const std::string tail = ", " + erl_request + ", " + std::to_string(calls) + ", " +
                                     std::to_string(callers) + ")";
            const double into_ours =
                erl_rate(*c.drv, "node_bench:calls({kv, '" + c.cpp_node + "'}" + tail, calls);
            const double beam = erl_rate(
                *c.drv, "node_bench:calls({kv, '" + c.recv->node_name() + "'}" + tail, calls);
            const double from_ours = cpp_rate(self, calls, callers, [=](const CoProcess& me) {
                return call(me, ServerRef(kv, recv), request);
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
            const double from_ours = cpp_rate(self, calls, callers, [=](const CoProcess& me) {
                return rpc(me, recv, bench_kv, echo,
                           std::vector<Term>{Term(Atom::make("x").value())});
            });
            std::printf("| %7d | %12s | %12s | %8.2fx | %12s | %12s | %8.2fx |\n", callers,
                        rate(into_ours).c_str(), rate(beam).c_str(), into_ours / beam,
                        rate(from_ours).c_str(), rate(beam).c_str(), from_ours / beam);
            std::fflush(stdout);
        }
        std::printf("\nproxied gen_server calls per second (BEAM -> proxy -> BEAM's kv)\n\n");
        std::printf("| callers | our proxy | BEAM proxy | ours/BEAM |\n");
        std::printf("|--------:|----------:|-----------:|----------:|\n");
        auto proxy = spawn_actor(self, std::make_unique<Proxy>(ServerRef(kv, recv)),
                                 {.name = Atom::make("proxy").value()});
        if (!proxy) throw testing::FixtureError("the proxy actor did not start");
        testing::ErlNodeOptions mid_options;
        mid_options.name_prefix = "bench_mid";
        mid_options.cookie = c.cookie;
        mid_options.epmd_port = c.epmd_port;
        mid_options.extra_args = {"-pa", c.dir.path()};
        testing::ErlNode mid(mid_options);
        mid.eval("bench_proxy:start({kv, '" + c.recv->node_name() + "'})");
        c.connect(mid.node_name());
        c.drv->eval("net_kernel:connect_node('" + std::string(self.name().name()) + "')");
        mid.eval("net_kernel:connect_node('" + c.recv->node_name() + "')");
        for (int callers : {1, 50, 1000}) {
            const std::string tail = ", " + erl_request + ", " + std::to_string(calls) + ", " +
                                     std::to_string(callers) + ")";
            const double ours = erl_rate(
                *c.drv,
                "node_bench:calls({proxy, '" + std::string(self.name().name()) + "'}" + tail,
                calls);
            const double beam = erl_rate(
                *c.drv, "node_bench:calls({proxy, '" + mid.node_name() + "'}" + tail, calls);
            std::printf("| %7d | %9s | %10s | %8.2fx |\n", callers, rate(ours).c_str(),
                        rate(beam).c_str(), ours / beam);
            std::fflush(stdout);
        }
        std::printf("\nratios > 1 mean ours is faster\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rpc_throughput: %s\n", e.what());
        return 1;
    }
    return 0;
}
