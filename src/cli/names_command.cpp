// `distribute names`: the names registered at an EPMD, printed as `epmd -names` prints them.
//
//   distribute names [HOST] [--port P] [--timeout MS]
//
// HOST defaults to 127.0.0.1 and the port to ERL_EPMD_PORT (4369 without it). Exit status 1 when
// no EPMD answers.
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

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
        std::fprintf(stderr, "distribute names: %s:%u: %s (%s)\n", options.endpoint.host.c_str(),
                     options.endpoint.port, make_error_code(names.error().code).message().c_str(),
                     names.error().detail.c_str());
        throw CLI::RuntimeError(1);
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
    names->callback([options] { run_names(*options); });
}

}  // namespace distribute::cli
