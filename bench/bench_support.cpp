#include "bench_support.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string_view>

#include "erl_fixture.hpp"

namespace distribute::bench {

using testing::FixtureError;

Server::Server(const std::vector<std::string>& argv, const std::vector<std::string>& env,
               const std::string& ready) {
    child = testing::spawn_child(argv, env);
    std::string_view none;
    const auto deadline = testing::Clock::now() + std::chrono::seconds(20);
    while (out.find(ready) == std::string::npos) {
        if (testing::pump(child, none, false, out, err, deadline) ==
                testing::PumpResult::timed_out ||
            testing::try_reap(child))
            throw FixtureError(argv[0] + " did not start: " + err);
    }
}

Server::~Server() {
    testing::kill_child(child);
}

Cluster::Cluster(unsigned threads) {
    epmd_port = testing::free_port();
    env = {"ERL_EPMD_PORT=" + std::to_string(epmd_port)};
    host = testing::short_host();
    NodeOptions options;
    options.name = testing::unique_name("bench_self");
    options.cookie = cookie;
    options.epmd_mode = EpmdMode::embedded;
    options.epmd.endpoint.port = epmd_port;
    options.threads = threads;
    self_options = options;
    auto node = Node::start(options);
    if (!node) throw FixtureError("our node did not start: " + node.error().detail);
    self.emplace(std::move(*node));

    const std::string cpp_name = testing::unique_name("bench_cpp");
    cpp_node = cpp_name + "@" + host;
    cpp = std::make_unique<Server>(
        std::vector<std::string>{DISTRIBUTE_EXE, "node", "--sname", cpp_name, "--cookie", cookie,
                                 "--threads", std::to_string(threads)},
        env, "is up");

    testing::compile_erl(BENCH_SOURCE_DIR "/erl/node_bench.erl", dir.path());
    testing::compile_erl(BENCH_SOURCE_DIR "/erl/bench_kv.erl", dir.path());
    testing::compile_erl(BENCH_SOURCE_DIR "/erl/bench_procs.erl", dir.path());
    testing::compile_erl(BENCH_SOURCE_DIR "/erl/bench_proxy.erl", dir.path());
    testing::ErlNodeOptions recv_options;
    recv_options.name_prefix = "bench_recv";
    recv_options.cookie = cookie;
    recv_options.epmd_port = epmd_port;
    recv_options.extra_args = {"-pa",       dir.path(), "+sbwt",    "none",
                               "+sbwtdcpu", "none",     "+sbwtdio", "none"};
    recv = std::make_unique<testing::ErlNode>(recv_options);
    recv->eval("node_bench:start_services()");
    recv->eval("bench_kv:start()");
    recv_pid = static_cast<pid_t>(std::stol(recv->eval("list_to_integer(os:getpid())")));
    testing::ErlNodeOptions drv_options = recv_options;
    drv_options.name_prefix = "bench_drv";
    drv_options.extra_args = {"-pa", dir.path()};
    drv = std::make_unique<testing::ErlNode>(drv_options);
    connect(cpp_node);
    connect(recv->node_name());
}

void Cluster::connect(const std::string& node) {
    drv->eval("net_kernel:connect_node('" + node + "')");
    (void)self->connect(Atom::make(node).value());
}

double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close = text.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    unsigned long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i == 14) utime = std::stoul(field);
        if (i == 15) stime = std::stoul(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double rss_bytes(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string key;
    while (in >> key) {
        if (key == "VmRSS:") {
            double kb = 0;
            in >> kb;
            return kb * 1024;
        }
        std::getline(in, key);
    }
    return 0;
}

double sink_burst(Node& self, const std::string& node, const Term& message, long count) {
    static const Atom sink = Atom::make("sink").value();
    static const Atom start = Atom::make("start").value();
    const Atom peer = Atom::make(node).value();
    Mailbox me = self.open_mailbox();
    me.send(sink, peer, tuple(start, me.pid(), count));
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < count; ++i)
        me.send(sink, peer, message);
    auto done = me.receive(std::chrono::seconds(600));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!done) throw FixtureError("no done from " + node);
    return static_cast<double>(count) / seconds;
}

double echo_round_trips(Node& self, const std::string& node, const Term& message, long count) {
    static const Atom echo = Atom::make("echo").value();
    const Atom peer = Atom::make(node).value();
    Mailbox me = self.open_mailbox();
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < count; ++i) {
        me.send(echo, peer, tuple(me.pid(), message));
        if (!me.receive(std::chrono::seconds(30))) throw FixtureError("no echo from " + node);
    }
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
               .count() /
           static_cast<double>(count);
}

double parse_micros(const std::string& text) {
    try {
        return std::stod(text);
    } catch (const std::exception&) {
        throw FixtureError("the erl side answered '" + text + "'");
    }
}

std::string rate(double r) {
    char b[32];
    if (r >= 1e6)
        std::snprintf(b, sizeof b, "%.2fM", r / 1e6);
    else
        std::snprintf(b, sizeof b, "%.1fk", r / 1e3);
    return b;
}

std::string num(double v, const char* format) {
    char b[32];
    std::snprintf(b, sizeof b, format, v);
    return b;
}

}  // namespace distribute::bench
