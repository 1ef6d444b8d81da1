// `distribute node`, `distribute ping` and `distribute send`: a C++ node in the foreground, and
// two one-shot clients that start a short-lived hidden node to do one thing. The node is visible
// unless --hidden: it takes part in global and pg as a BEAM node does.
//
//   distribute node (--sname N | --name N) [--cookie C] [--hidden] [--port P[-Q]] [--threads T]
//                   [--net-ticktime S] [--verbose]
//   distribute ping NODE [--cookie C]             prints pong or pang; exit status 0 or 1
//   distribute send NODE NAME TERM [--cookie C]   TERM in Erlang syntax, sent to {NAME, NODE}
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/client_node.hpp"
#include "cli/commands.hpp"
#include "cli/demo_services.hpp"
#include "distribute/node.hpp"

namespace distribute::cli {
namespace {

const char* level_name(LogLevel level) {
    switch (level) {
        case LogLevel::debug:
            return "debug";
        case LogLevel::info:
            return "info";
        case LogLevel::warning:
            return "warning";
        case LogLevel::error:
            return "error";
    }
    return "?";
}

LogSink stderr_log(bool verbose) {
    return [verbose](LogLevel level, std::string_view line) {
        if (level == LogLevel::debug && !verbose) return;
        std::time_t now = std::time(nullptr);
        char stamp[32];
        std::strftime(stamp, sizeof stamp, "%H:%M:%S", std::localtime(&now));
        std::fprintf(stderr, "%s %s: %.*s\n", stamp, level_name(level),
                     static_cast<int>(line.size()), line.data());
    };
}

// "P" or "P-Q".
void parse_ports(const std::string& text, NodeOptions& options) {
    auto dash = text.find('-');
    try {
        options.port_min = static_cast<std::uint16_t>(std::stoul(text.substr(0, dash)));
        options.port_max = dash == std::string::npos
                               ? options.port_min
                               : static_cast<std::uint16_t>(std::stoul(text.substr(dash + 1)));
    } catch (const std::exception&) {
        usage_error("node", "--port wants P or P-Q, not '" + text + "'");
    }
}

struct NodeCommand {
    std::string sname, name, cookie, port;
    unsigned threads = 0;
    unsigned net_ticktime = 60;
    bool hidden = false;
    bool verbose = false;
};

void run_node(const NodeCommand& c) {
    NodeOptions options;
    if (c.sname.empty() == c.name.empty())
        usage_error("node", "give exactly one of --sname and --name");
    options.name = c.sname.empty() ? c.name : c.sname;
    options.long_names = !c.name.empty();
    options.cookie = c.cookie;
    options.hidden = c.hidden;
    options.threads = c.threads;
    options.net_ticktime = std::chrono::seconds(c.net_ticktime);
    if (!c.port.empty()) parse_ports(c.port, options);
    options.log = stderr_log(c.verbose);

    // Signals go to this thread only (the node's threads inherit the mask), which waits for them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    auto node = Node::start(std::move(options));
    if (!node) command_failed("node", node.error().detail);
    if (auto services = start_demo_services(*node); !services)
        command_failed("node", services.error().detail);
    std::printf(
        "%s is up (port %u); it hosts echo, sink, kv, demo, pg group demo and global "
        "name demo_global. Ctrl-C stops it.\n",
        std::string(node->name().name()).c_str(), node->port());
    std::fflush(stdout);
    int received = 0;
    sigwait(&stop_signals, &received);
    std::fprintf(stderr, "stopping on %s\n", received == SIGINT ? "SIGINT" : "SIGTERM");
    node->stop();
}

struct ClientCommand {
    std::string node, name, term, cookie;
};

void run_ping(const ClientCommand& c) {
    Node node = client_node("ping", c.node, c.cookie);
    const bool pong = node.ping(atom_of("ping", c.node));
    std::printf("%s\n", pong ? "pong" : "pang");
    std::fflush(stdout);
    node.stop();
    if (!pong) throw CLI::RuntimeError(1);
}

void run_send(const ClientCommand& c) {
    auto message = parse_term(c.term);
    if (!message) usage_error("send", "TERM: " + message.error().to_string());
    Node node = client_node("send", c.node, c.cookie);
    const Atom peer = atom_of("send", c.node);
    if (auto up = node.connect(peer); !up) command_failed("send", up.error().detail);
    Mailbox me = node.open_mailbox();
    me.send(atom_of("send", c.name), peer, *message);
    // A ping's answer comes back over the same ordered connection, after the message arrived.
    const bool delivered = node.ping(peer);
    node.stop();
    if (!delivered) command_failed("send", "the connection to " + c.node + " went down");
}

}  // namespace

void add_node_commands(CLI::App& app) {
    auto node = std::make_shared<NodeCommand>();
    CLI::App* n = app.add_subcommand("node", "Run a C++ node hosting echo and sink");
    n->add_option("--sname", node->sname, "Short node name (like erl -sname)");
    n->add_option("--name", node->name, "Long node name (like erl -name)");
    n->add_option("--cookie", node->cookie, "Cookie (default: ~/.erlang.cookie)");
    n->add_flag("--hidden", node->hidden,
                "Hidden node: left out of nodes() and global on the BEAM (default: visible)");
    n->add_option("--port", node->port, "Distribution port, or range P-Q (default: any)");
    n->add_option("--threads", node->threads, "Threads running the node (default: one per core)");
    n->add_option("--net-ticktime", node->net_ticktime,
                  "Seconds of silence after which a peer is dropped, as -kernel net_ticktime "
                  "(default: 60)")
        ->check(CLI::Range(1u, 86400u));
    n->add_flag("-v,--verbose", node->verbose, "Also log debug lines");
    n->callback([node] { run_node(*node); });

    auto ping = std::make_shared<ClientCommand>();
    CLI::App* p = app.add_subcommand("ping", "net_adm:ping a node: prints pong or pang");
    p->add_option("NODE", ping->node, "name@host")->required();
    p->add_option("--cookie", ping->cookie, "Cookie (default: ~/.erlang.cookie)");
    p->callback([ping] { run_ping(*ping); });

    auto send = std::make_shared<ClientCommand>();
    CLI::App* s = app.add_subcommand("send", "Send a term to {NAME, NODE}");
    s->add_option("NODE", send->node, "name@host")->required();
    s->add_option("NAME", send->name, "Registered name on that node")->required();
    s->add_option("TERM", send->term, "The message, in Erlang syntax")->required();
    s->add_option("--cookie", send->cookie, "Cookie (default: ~/.erlang.cookie)");
    s->callback([send] { run_send(*send); });
}

}  // namespace distribute::cli
