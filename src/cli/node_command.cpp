// `distribute node`, `distribute ping` and `distribute send`: a C++ node in the foreground, and
// two one-shot clients that start a short-lived hidden node to do one thing.
//
//   distribute node (--sname N | --name N) [--cookie C | --cookie-file PATH] [--listen ADDRESS]
//                   [--port MIN[-MAX]] [--hidden] [--threads T] [--net-ticktime S] [--verbose]
//   distribute ping NODE [client options]             prints pong or pang
//   distribute send NODE NAME TERM [client options]   TERM in Erlang syntax, sent to {NAME, NODE}
#include <signal.h>

#include <charconv>
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

// A port number 0..65535, all digits.
bool parse_port(std::string_view text, std::uint16_t& port) {
    unsigned value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() || value > 65535)
        return false;
    port = static_cast<std::uint16_t>(value);
    return true;
}

// "MIN" or "MIN-MAX", as inet_dist_listen_min and inet_dist_listen_max.
void parse_ports(const std::string& text, NodeOptions& options) {
    const auto dash = text.find('-');
    const std::string_view all(text);
    const bool ok =
        parse_port(all.substr(0, dash), options.port_min) &&
        (dash == std::string::npos ? (options.port_max = options.port_min, true)
                                   : parse_port(all.substr(dash + 1), options.port_max)) &&
        options.port_min <= options.port_max;
    if (!ok)
        usage_error("node",
                    "--port wants MIN or MIN-MAX (0..65535, MIN <= MAX), not '" + text + "'");
}

struct NodeCommand {
    std::string sname, name, cookie, cookie_file, listen, port;
    unsigned threads = 0;
    unsigned net_ticktime = 60;
    bool hidden = true;
    bool verbose = false;
    CryptoArgs crypto;
};

void run_node(const NodeCommand& c) {
    NodeOptions options;
    if (c.sname.empty() == c.name.empty())
        usage_error("node", "give exactly one of --sname and --name");
    if (!c.cookie.empty() && !c.cookie_file.empty())
        usage_error("node", "give at most one of --cookie and --cookie-file");
    options.name = c.sname.empty() ? c.name : c.sname;
    options.long_names = !c.name.empty();
    options.cookie = c.cookie;
    options.cookie_file = c.cookie_file;
    options.listen_address = c.listen;
    options.hidden = c.hidden;
    options.threads = c.threads;
    options.net_ticktime = std::chrono::seconds(c.net_ticktime);
    if (!c.port.empty()) parse_ports(c.port, options);
    options.crypto = crypto_options("node", c.crypto);
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
    std::printf("%s is up (port %u); it hosts echo, sink, kv and demo. Ctrl-C stops it.\n",
                std::string(node->name().name()).c_str(), node->port());
    std::fflush(stdout);
    int received = 0;
    sigwait(&stop_signals, &received);
    std::fprintf(stderr, "stopping on %s\n", received == SIGINT ? "SIGINT" : "SIGTERM");
    node->stop();
}

struct ClientCommand {
    std::string node, name, term;
    ClientOptions client;
};

void run_ping(const ClientCommand& c) {
    const Atom peer = atom_of("ping", c.node);
    Node node = client_node("ping", c.node, c.client);
    connect_or_exit(node, "ping", peer, true);
    const bool pong = node.ping(peer);
    std::printf("%s\n", pong ? "pong" : "pang");
    std::fflush(stdout);
    node.stop();
    if (!pong) command_failed("ping", c.node + " did not answer the ping");
}

void run_send(const ClientCommand& c) {
    auto message = parse_term(c.term);
    if (!message) usage_error("send", "TERM: " + message.error().to_string());
    const Atom peer = atom_of("send", c.node);
    const Atom name = atom_of("send", c.name);
    Node node = client_node("send", c.node, c.client);
    connect_or_exit(node, "send", peer);
    Mailbox me = node.open_mailbox();
    me.send(name, peer, *message);
    // A ping's answer comes back over the same ordered connection, after the message arrived.
    const bool delivered = node.ping(peer);
    node.stop();
    if (!delivered) command_failed("send", "the connection to " + c.node + " went down");
}

const char* const node_footer =
    "It hosts:\n"
    "  echo   {Pid, Msg} sends Msg back to Pid\n"
    "  sink   {start, Pid, N} counts the next N messages, then sends done to Pid\n"
    "  kv     a gen_server: {put, K, V} -> ok, {get, K} -> {ok, V} | not_found,\n"
    "         {delete, K} -> ok, keys -> [K]; casts of {put, K, V} store without a reply\n"
    "  demo   an rpc module: echo/1, add/2, node/0, fail/1, raise/2, sleep/1, spawn_worker/0\n"
    "It runs until Ctrl-C or SIGTERM, logging connections and refusals on stderr.\n"
    "\n"
    "Examples:\n"
    "  distribute node --sname cpp --cookie secret\n"
    "  distribute node --name cpp@127.0.0.1 --listen 127.0.0.1 --port 9100-9105\n"
    "  distribute node --sname cpp --crypto require   (then: distribute ping cpp@HOST --crypto "
    "require)\n"
    "  erl -sname e -setcookie secret, then:\n"
    "    net_adm:ping('cpp@HOST'), gen_server:call({kv, 'cpp@HOST'}, {put, k, 1}),\n"
    "    rpc:call('cpp@HOST', demo, add, [1, 2])\n"
    "\n"
    "Exit status: 0 after Ctrl-C or SIGTERM, 1 when the node cannot start, 2 for a bad command "
    "line.";

}  // namespace

void add_node_commands(CLI::App& app) {
    auto node = std::make_shared<NodeCommand>();
    CLI::App* n = app.add_subcommand(
        "node", "Run a C++ node in the foreground hosting echo, sink, kv and the rpc module demo");
    n->add_option("--sname", node->sname, "Short node name (like erl -sname)")->option_text("NAME");
    n->add_option("--name", node->name, "Long node name, NAME or NAME@HOST (like erl -name)")
        ->option_text("NAME");
    n->add_option("--cookie", node->cookie, "Cookie (default: erl's cookie file)");
    n->add_option("--cookie-file", node->cookie_file,
                  "Read the cookie from PATH, with erl's checks (owner-only, one line)")
        ->option_text("PATH");
    n->add_option("--listen", node->listen,
                  "Listen on ADDRESS only, e.g. 127.0.0.1 or ::1 (erl's -kernel "
                  "inet_dist_use_interface; default: every interface, IPv4 and IPv6)")
        ->option_text("ADDRESS");
    n->add_option("--port", node->port,
                  "Distribution port, or the first free one of MIN-MAX (erl's -kernel "
                  "inet_dist_listen_min/inet_dist_listen_max; default: any)")
        ->option_text("MIN[-MAX]");
    n->add_flag("--hidden", node->hidden,
                "Hidden node (the default: visible mode waits for the global protocol)");
    n->add_option("--threads", node->threads, "Threads running the node (default: one per core)");
    n->add_option("--net-ticktime", node->net_ticktime,
                  "Seconds of silence after which a peer is dropped, as -kernel net_ticktime "
                  "(default: 60)")
        ->option_text("SECONDS")
        ->check(CLI::Range(1u, 86400u));
    add_crypto_options(*n, node->crypto);
    n->add_flag("-v,--verbose", node->verbose, "Also log debug lines");
    n->footer(node_footer);
    n->callback([node] { run_node(*node); });

    auto ping = std::make_shared<ClientCommand>();
    CLI::App* p =
        app.add_subcommand("ping", "net_adm:ping a node: prints pong, or pang and why on stderr");
    p->add_option("NODE", ping->node, "name@host")->required();
    add_client_options(*p, ping->client);
    p->footer(std::string("Example:\n  distribute ping e@myhost --cookie secret\n\n") +
              exit_status_help);
    p->callback([ping] { run_ping(*ping); });

    auto send = std::make_shared<ClientCommand>();
    CLI::App* s =
        app.add_subcommand("send", "Send a term to {NAME, NODE}, returning once the node has it");
    s->add_option("NODE", send->node, "name@host")->required();
    s->add_option("NAME", send->name, "Registered name on that node")->required();
    s->add_option("TERM", send->term, "The message, in Erlang syntax")->required();
    add_client_options(*s, send->client);
    s->footer(std::string("Example:\n  distribute send e@myhost shell '{hello, [1, 2]}' --cookie "
                          "secret\n\n") +
              exit_status_help);
    s->callback([send] { run_send(*send); });
}

}  // namespace distribute::cli
