// `distribute names`: the names registered at an EPMD, printed as `epmd -names` prints them.
//
//   distribute names [HOST] [--port P] [--timeout MS]
//
// HOST defaults to 127.0.0.1 and the port to ERL_EPMD_PORT (4369 without it). Exit status 3 when
// no EPMD answers, as for the client commands.
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/client_node.hpp"
#include "cli/commands.hpp"
#include "distribute/epmd.hpp"

namespace distribute::cli {
namespace {

struct NamesOptions {
    EpmdEndpoint endpoint = EpmdEndpoint::from_environment();
    unsigned timeout_ms = 5000;
};

void run_names(const NamesOptions& options) {
    auto names = epmd_names(options.endpoint, std::chrono::milliseconds(options.timeout_ms));
    if (!names) {
        // Exit status 3, as the client commands have it for an EPMD that does not answer.
        command_failed("names",
                       "no EPMD on " + options.endpoint.host + ":" +
                           std::to_string(options.endpoint.port) + ": " +
                           make_error_code(names.error().code).message() + " (" +
                           names.error().detail + ")",
                       exit_no_epmd);
    }
    std::printf("epmd: up and running on port %u with data:\n", options.endpoint.port);
    for (const auto& n : *names)
        std::printf("name %s at port %u\n", n.name.c_str(), n.port);
}

}  // namespace

void add_names_command(CLI::App& app) {
    auto options = std::make_shared<NamesOptions>();
    CLI::App* names = app.add_subcommand("names", "List the names registered at an EPMD");
    names->add_option("HOST", options->endpoint.host, "Host of the EPMD")->capture_default_str();
    names->add_option("--port", options->endpoint.port, "EPMD port (ERL_EPMD_PORT, 4369)")
        ->capture_default_str();
    names->add_option("--timeout", options->timeout_ms, "Milliseconds to wait for the answer")
        ->capture_default_str();
    names->footer(
        "Example:\n  distribute names              # like epmd -names\n"
        "  distribute names myhost --port 4370\n"
        "\n"
        "Exit status: 0 done, 2 bad command line, 3 no EPMD answered.");
    names->callback([options] { run_names(*options); });
}

}  // namespace distribute::cli
