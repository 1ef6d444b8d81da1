// `distribute node`, `distribute ping` and `distribute send`: a C++ node in the foreground, and
// two one-shot clients that start a short-lived hidden node to do one thing. The node is visible
// unless --hidden: it takes part in global and pg as a BEAM node does.
//
//   distribute node [--config FILE] [--sname N | --name N] [--cookie C | --cookie-file PATH]
//                   [--listen ADDRESS] [--port MIN[-MAX]] [--hidden] [--threads T]
//                   [--net-ticktime S] [--seed NODE]... [--log-level L | --verbose]
//   (settings: defaults < FILE < DISTRIBUTE_* and ERL_EPMD_* variables < flags; see settings.md)
//   distribute ping NODE [client options]             prints pong or pang
//   distribute send NODE NAME TERM [client options]   TERM in Erlang syntax, sent to {NAME, NODE}
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
#include "cli/setting_flags.hpp"
#include "cli/stats_lines.hpp"
#include "distribute/node.hpp"
#include "distribute/settings.hpp"
#include "net/asio.hpp"
#include "otp/builtins.hpp"

namespace distribute::cli {
namespace {

LogSink stderr_log() {
    return [](LogLevel level, std::string_view line) {
        std::time_t now = std::time(nullptr);
        char stamp[32];
        std::strftime(stamp, sizeof stamp, "%H:%M:%S", std::localtime(&now));
        std::fprintf(stderr, "%s %s: %.*s\n", stamp, std::string(to_string(level)).c_str(),
                     static_cast<int>(line.size()), line.data());
    };
}

// What a watched settings file changed, on the log.
void log_update(const LogSink& log, const SettingsUpdate& update) {
    for (const auto& e : update.errors)
        log(LogLevel::error, "settings file refused, nothing changed: " + e.to_string());
    for (const auto& c : update.applied)
        log(LogLevel::info, "setting " + c.key + " changed: " + c.before + " -> " + c.after);
    for (const auto& c : update.refused)
        log(LogLevel::warning, "setting " + c.key + " cannot change while the node runs (" +
                                   c.before + " kept, " + c.after + " asked): restart to apply");
}

// The counters as `distribute stats` prints them, on stdout.
void print_summary(const Node& node) {
    for (const std::string& line : stats_lines(otp::stats_to_term(node.stats())))
        std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

// SIGUSR1 prints the summary while the node runs (on one of its threads), as often as it comes.
class SummaryOnSignal {
  public:
    explicit SummaryOnSignal(Node& node) : node_(node), signals_(node.io(), SIGUSR1) { arm(); }

  private:
    void arm() {
        signals_.async_wait([this](const boost::system::error_code& error, int) {
            if (error) return;
            print_summary(node_);
            arm();
        });
    }
    Node& node_;
    net::asio::signal_set signals_;
};

void run_node(const SettingFlags& flags) {
    const LoadedSettings loaded = flags.load("node", /*for_start=*/true);
    const LogSink log = stderr_log();
    auto running = start_from_settings(loaded.settings, log);
    if (!running) command_failed("node", running.error().detail);
    if (auto services = start_demo_services(running->node); !services)
        command_failed("node", services.error().detail);
    std::unique_ptr<SettingsWatch> watch;
    if (!flags.config.empty()) {
        SettingsSources sources{flags.config, process_environment(), flags.values(), true};
        watch = std::make_unique<SettingsWatch>(running->node.io(), sources, loaded,
                                                [&running, log](const SettingsUpdate& update) {
                                                    log_update(log, update);
                                                    running->apply(update);
                                                });
    }
    std::printf(
        "%s is up (port %u); it hosts echo, sink, kv, demo, pg group demo and global "
        "name demo_global. Ctrl-C stops it.\n",
        std::string(running->node.name().name()).c_str(), running->node.port());
    std::fflush(stdout);
    {
        SummaryOnSignal summary(running->node);
        const int received = running->node.wait();
        std::fprintf(stderr, "stopped on %s\n", received == SIGINT ? "SIGINT" : "SIGTERM");
    }
    watch.reset();
    print_summary(running->node);  // the totals since the node started
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
    "It runs until Ctrl-C or SIGTERM, logging connections and refusals on stderr as key=value\n"
    "lines. SIGUSR1 prints its counters on stdout (`counters ...` and one `connection ...` per\n"
    "peer, as `distribute stats` does), and so does the exit, with the totals.\n"
    "\n"
    "Examples:\n"
    "  distribute node --sname cpp --cookie secret\n"
    "  distribute node --name cpp@127.0.0.1 --listen 127.0.0.1 --port 9100-9105\n"
    "  distribute node --config /etc/app/node.toml   (watched: see distribute config show)\n"
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
    CLI::App* n = app.add_subcommand(
        "node", "Run a C++ node in the foreground hosting echo, sink, kv and the rpc module demo");
    auto flags = add_setting_flags(n);
    n->footer(node_footer);
    n->callback([flags] { run_node(*flags); });

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
