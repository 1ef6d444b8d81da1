// Pool benchmark: acquire/release pairs per second through Pool<T> (blocking, from plain threads;
// and asynchronous, chains of async_acquire on the io_context) with 1, 8 and 64 concurrent
// clients on a pool of 8, against the BEAM's usual pool (a poolboy-style gen_server:
// bench/erl/pool_bench.erl) with as many Erlang processes, in the same run. Reports; asserts
// nothing.
//
//   pool_throughput [--pairs N] [--threads T]
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "distribute/pool.hpp"
#include "erl_fixture.hpp"
#include "net/asio.hpp"

using namespace distribute;
using namespace distribute::bench;
using Clock = std::chrono::steady_clock;
namespace asio = distribute::net::asio;

namespace {

constexpr std::size_t pool_size = 8;

struct Worker {
    int id = 0;
};

Pool<Worker>::Factory workers() {
    auto next = std::make_shared<std::atomic<int>>(0);
    return [next](auto done) { done(Worker{next->fetch_add(1)}); };
}

PoolOptions options(std::size_t clients) {
    PoolOptions o;
    o.max_size = pool_size;
    o.max_waiters = clients;
    o.acquire_timeout = std::chrono::milliseconds(60000);
    o.idle_timeout = std::chrono::milliseconds(0);
    return o;
}

// `clients` threads each acquire and release `pairs / clients` times.
double blocking_rate(asio::io_context& io, long pairs, int clients) {
    Pool<Worker> pool(io, options(clients), workers());
    std::atomic<long> failures{0};
    std::vector<std::thread> threads;
    const auto t0 = Clock::now();
    for (int i = 0; i < clients; ++i)
        threads.emplace_back([&, each = pairs / clients] {
            for (long k = 0; k < each; ++k)
                if (!pool.acquire()) failures.fetch_add(1);
        });
    for (auto& t : threads)
        t.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (failures) throw testing::FixtureError(std::to_string(failures.load()) + " acquires failed");
    return static_cast<double>(pairs / clients * clients) / seconds;
}

// `clients` chains on the io_context: each acquire's callback releases and acquires again.
double async_rate(asio::io_context& io, long pairs, int clients) {
    Pool<Worker> pool(io, options(clients), workers());
    const long total = pairs / clients * clients;
    std::atomic<long> left{total};
    std::atomic<int> ended{0};
    std::atomic<long> failures{0};
    std::promise<void> finished;
    std::function<void()> go = [&] {
        pool.async_acquire([&](Expected<Pool<Worker>::Lease, PoolError> lease) {
            if (!lease) failures.fetch_add(1);
            if (lease) lease->release();
            // Another acquire while more than one per chain is left: `total` in all.
            if (left.fetch_sub(1) > clients)
                go();
            else if (ended.fetch_add(1) + 1 == clients)
                finished.set_value();
        });
    };
    const auto t0 = Clock::now();
    for (int i = 0; i < clients; ++i)
        go();
    finished.get_future().wait();
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (failures) throw testing::FixtureError(std::to_string(failures.load()) + " acquires failed");
    return static_cast<double>(total) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
    long pairs = 200'000;
    unsigned threads = 2;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--pairs" && i + 1 < argc) {
            pairs = std::atol(argv[++i]);
        } else if (a == "--threads" && i + 1 < argc) {
            threads = static_cast<unsigned>(std::atoi(argv[++i]));
        } else {
            std::fprintf(stderr, "usage: pool_throughput [--pairs N] [--threads T]\n");
            return 2;
        }
    }
    try {
        testing::TempDir dir;
        testing::compile_erl(std::string(BENCH_SOURCE_DIR) + "/erl/pool_bench.erl", dir.path());
        asio::io_context io;
        auto work = asio::make_work_guard(io);
        std::vector<std::thread> runners;
        for (unsigned i = 0; i < threads; ++i)
            runners.emplace_back([&] { io.run(); });

        std::printf(
            "Pool acquire/release pairs per second, a pool of %zu (%ld pairs a row; %u "
            "io threads)\n\n",
            pool_size, pairs, threads);
        std::printf(
            "| clients | ours, threads | ours, async | BEAM pool | threads/BEAM | "
            "async/BEAM |\n");
        std::printf(
            "|--------:|--------------:|------------:|----------:|-------------:|"
            "-----------:|\n");
        for (int clients : {1, 8, 64}) {
            const double blocking = blocking_rate(io, pairs, clients);
            const double async = async_rate(io, pairs, clients);
            const std::string micros = testing::run_erl_eval(
                "io:format(\"~p\", [pool_bench:run(" + std::to_string(pool_size) + ", " +
                    std::to_string(clients) + ", " + std::to_string(pairs) + ")])",
                std::chrono::seconds(600), {"-pa", dir.path()});
            const double beam =
                static_cast<double>(pairs / clients * clients) * 1e6 / parse_micros(micros);
            std::printf("| %7d | %13s | %11s | %9s | %11sx | %9sx |\n", clients,
                        rate(blocking).c_str(), rate(async).c_str(), rate(beam).c_str(),
                        num(blocking / beam).c_str(), num(async / beam).c_str());
            std::fflush(stdout);
        }
        work.reset();
        for (auto& t : runners)
            t.join();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pool_throughput: %s\n", e.what());
        return 1;
    }
    return 0;
}
