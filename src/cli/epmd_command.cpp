// `distribute epmd`: the embedded EPMD server in the foreground, a stand-in for OTP's `epmd`.
//
//   distribute epmd [--port P] [--address A]... [--relaxed] [--max-connections N]
//                   [--idle-timeout SECONDS] [--debug]
//
// The port and addresses default to ERL_EPMD_PORT and ERL_EPMD_ADDRESS, as epmd reads them; as
// with epmd's -address, 127.0.0.1 and ::1 are added to a list that lacks them. It runs until SIGINT
// or SIGTERM, or an accepted KILL request (`epmd -kill`).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "distribute/epmd.hpp"
#include "net/asio.hpp"

namespace distribute::cli {
namespace {

struct EpmdCommandOptions {
    EpmdServerOptions server = EpmdServerOptions::from_environment();
    unsigned idle_seconds = 10;
    bool debug = false;
};

void run_epmd(EpmdCommandOptions& options) {
    net::asio::io_context io;
    net::asio::signal_set signals(io, SIGINT, SIGTERM);
    options.server.idle_timeout = std::chrono::seconds(options.idle_seconds);
    options.server.add_loopback();
    if (options.debug)
        options.server.log = [](const std::string& line) {
            std::fprintf(stderr, "epmd: %s\n", line.c_str());
        };
    options.server.on_stopped = [&signals] { signals.cancel(); };
    EpmdServer server(io, options.server);
    if (auto started = server.start(); !started) {
        std::fprintf(stderr, "distribute epmd: %s\n", started.error().detail.c_str());
        throw CLI::RuntimeError(1);
    }
    signals.async_wait([&server](boost::system::error_code ec, int) {
        if (!ec) server.stop();
    });
    if (options.debug) std::fprintf(stderr, "epmd: listening on port %u\n", server.port());
    io.run();
}

}  // namespace

void add_epmd_command(CLI::App& app) {
    auto options = std::make_shared<EpmdCommandOptions>();
    CLI::App* epmd = app.add_subcommand("epmd", "Run the embedded EPMD server in the foreground");
    epmd->add_option("--port", options->server.port, "Port to listen on (ERL_EPMD_PORT, 4369)")
        ->capture_default_str();
    epmd->add_option("--address", options->server.addresses,
                     "Address to listen on; repeatable (ERL_EPMD_ADDRESS; default: all, IPv4 "
                     "and IPv6)");
    epmd->add_flag("--relaxed", options->server.relaxed,
                   "Accept KILL and STOP while nodes are registered (-relaxed_command_check)");
    epmd->add_option("--max-connections", options->server.max_connections,
                     "Open connections at most")
        ->capture_default_str();
    epmd->add_option("--idle-timeout", options->idle_seconds,
                     "Seconds a connection may stay without a complete request")
        ->capture_default_str();
    epmd->add_flag("-d,--debug", options->debug, "Log registrations and refused requests");
    epmd->footer(
        "Without --address it listens on every address of both families, as epmd; with\n"
        "--address it adds 127.0.0.1 and ::1, as epmd -address does. It runs until Ctrl-C,\n"
        "SIGTERM or an accepted `epmd -kill`.\n"
        "\n"
        "Examples:\n  distribute epmd -d\n  distribute epmd --port 4370 --address 127.0.0.1\n"
        "\n"
        "Exit status: 0 once stopped, 1 when it cannot listen, 2 bad command line.");
    epmd->callback([options] { run_epmd(*options); });
}

}  // namespace distribute::cli
