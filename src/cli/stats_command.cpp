// `distribute stats NODE`: a node's counters over distribution, from any machine that can reach
// it, as key=value lines (stats_lines.hpp):
//   node=NAME machine=... otp_release=... uptime_ms=... processes=... atoms=...
//        registered_names=... connected_nodes=... io_input=... io_output=... memory_total=...
//   counters ...           (our nodes only: distribute:stats/0)
//   connection ...         (our nodes only: one per connection that is up)
// The first line comes from the calls every node answers (erlang:system_info/1,
// erlang:statistics/1, erlang:memory/1, ...), so a BEAM node gets it too.
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/client_node.hpp"
#include "cli/commands.hpp"
#include "cli/stats_lines.hpp"
#include "distribute/node.hpp"
#include "distribute/rpc.hpp"
#include "node/log_fields.hpp"

namespace distribute::cli {
namespace {

struct StatsCommand {
    std::string node;
    ClientOptions client;
    unsigned timeout_ms = 5000;
};

class Asker {
  public:
    Asker(Node& node, Atom peer, std::chrono::milliseconds timeout)
        : node_(node), peer_(peer), timeout_(timeout) {}

    // M:F(Args) on the peer; a failure ends the command, unless `optional` (nullopt then).
    std::optional<Term> ask(std::string_view module, std::string_view function,
                            std::vector<Term> args, bool optional = false) {
        auto result = rpc(node_, peer_, Atom::make(module).value(), Atom::make(function).value(),
                          std::move(args), timeout_);
        if (result) return *result;
        if (optional) return std::nullopt;
        command_failed("stats", std::string(module) + ":" + std::string(function) + ": " +
                                    result.error().detail);
    }
    std::optional<Term> system_info(std::string_view key) {
        return ask("erlang", "system_info", {Term(Atom::make(key).value())});
    }

  private:
    Node& node_;
    Atom peer_;
    std::chrono::milliseconds timeout_;
};

void run_stats(const StatsCommand& c) {
    const Atom peer = atom_of("stats", c.node);
    Node node = client_node("stats", c.node, c.client);
    connect_or_exit(node, "stats", peer);
    Asker asker(node, peer, std::chrono::milliseconds(c.timeout_ms));

    std::string line = node::log_field("node", c.node);
    auto add = [&line](std::string_view key, const std::string& value) {
        line += ' ' + node::log_field(key, value);
    };
    add("machine", value_text(*asker.system_info("machine")));
    add("otp_release", value_text(*asker.system_info("otp_release")));
    // {Total, SinceLastCall}
    const Term wall = *asker.ask("erlang", "statistics", {Term("wall_clock"_a)});
    add("uptime_ms", value_text(wall.is_tuple(2) ? wall[0] : wall));
    add("processes", value_text(*asker.system_info("process_count")));
    add("atoms", value_text(*asker.system_info("atom_count")));
    add("registered_names",
        std::to_string(asker.ask("erlang", "registered", {})->elements().size()));
    add("connected_nodes",
        std::to_string(asker.ask("erlang", "nodes", {Term("connected"_a)})->elements().size()));
    // {{input, In}, {output, Out}}
    const Term io = *asker.ask("erlang", "statistics", {Term("io"_a)});
    if (io.is_tuple(2) && io[0].is_tuple(2) && io[1].is_tuple(2)) {
        add("io_input", value_text(io[0][1]));
        add("io_output", value_text(io[1][1]));
    }
    if (auto memory = asker.ask("erlang", "memory", {Term("total"_a)}, true))
        add("memory_total", value_text(*memory));
    std::printf("%s\n", line.c_str());
    // Our nodes: the counters and each connection. A BEAM has no distribute module (undef).
    if (auto stats = asker.ask("distribute", "stats", {}, true))
        for (const std::string& more : stats_lines(*stats))
            std::printf("%s\n", more.c_str());
    std::fflush(stdout);
    node.stop();
}

}  // namespace

void add_stats_command(CLI::App& app) {
    auto c = std::make_shared<StatsCommand>();
    CLI::App* stats = app.add_subcommand(
        "stats",
        "A node's counters over distribution, as key=value lines: any node; for ours "
        "also messages, bytes and queues per connection");
    stats->add_option("NODE", c->node, "name@host")->required();
    add_client_options(*stats, c->client);
    stats->add_option("--timeout", c->timeout_ms, "Milliseconds to wait for each answer (5000)");
    stats->footer(
        std::string("Lines: node=NAME machine= otp_release= uptime_ms= processes= atoms= "
                    "registered_names= connected_nodes= io_input= io_output= memory_total=;\n"
                    "then, from nodes of this library, `counters ...` and one `connection ...` "
                    "per connection (messages_in/out, bytes_in/out, ticks_in/out, queued_bytes, "
                    "busy_waits, reassembly_bytes, since_last_received_ms).\n\n"
                    "Example:\n  distribute stats cpp@myhost --cookie secret\n\n") +
        exit_status_help);
    stats->callback([c] { run_stats(*c); });
}

}  // namespace distribute::cli
