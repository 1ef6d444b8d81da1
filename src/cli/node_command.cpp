// `distribute node`, `distribute ping` and `distribute send`: a C++ node in the foreground, and
// two one-shot clients that start a short-lived hidden node to do one thing.
//
//   distribute node [--config FILE] [--sname N | --name N] [--cookie C] [--hidden] [--port P[-Q]]
//                   [--listen ADDR] [--threads T] [--net-ticktime S] [--seed NODE]...
//                   [--log-level L | --verbose]
//   (settings: defaults < FILE < DISTRIBUTE_* and ERL_EPMD_* variables < flags; see settings.md)
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
#include "cli/setting_flags.hpp"
#include "distribute/node.hpp"
#include "distribute/settings.hpp"

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

void run_node(const SettingFlags& flags) {
    const LoadedSettings loaded = flags.load("node", /*for_start=*/true);

    // Signals go to this thread only (the node's threads inherit the mask), which waits for them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    const LogSink log = stderr_log();
    auto running = start_from_settings(loaded.settings, log);
    if (!running) command_failed("node", running.error());
    if (auto services = start_demo_services(running->node); !services)
        command_failed("node", services.error().detail);
    std::unique_ptr<SettingsWatch> watch;
    if (!flags.config.empty()) {
        SettingsSources sources{flags.config, process_environment(), flags.values(), true};
        watch = std::make_unique<SettingsWatch>(running->node.io(), sources, loaded);
        watch->subscribe([&running, log](const SettingsUpdate& update) {
            log_update(log, update);
            running->apply(update);
        });
    }
    std::printf("%s is up (port %u); it hosts echo, sink, kv and demo. Ctrl-C stops it.\n",
                std::string(running->node.name().name()).c_str(), running->node.port());
    std::fflush(stdout);
    int received = 0;
    sigwait(&stop_signals, &received);
    std::fprintf(stderr, "stopping on %s\n", received == SIGINT ? "SIGINT" : "SIGTERM");
    watch.reset();
    running->node.stop();
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
    CLI::App* n = app.add_subcommand("node", "Run a C++ node hosting echo, sink, kv and demo");
    auto flags = add_setting_flags(n);
    n->callback([flags] { run_node(*flags); });

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
