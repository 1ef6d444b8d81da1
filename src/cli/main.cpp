// The `distribute` command: one subcommand per job, registered in commands.hpp.
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
    CLI::App app{"distribute: C++ peer nodes for Erlang and Elixir clusters", "distribute"};
    app.set_version_flag("--version", DISTRIBUTE_VERSION);
    app.require_subcommand(1);

    distribute::cli::add_term_command(app);
    distribute::cli::add_epmd_command(app);
    distribute::cli::add_names_command(app);
    distribute::cli::add_node_commands(app);
    distribute::cli::add_call_commands(app);
    distribute::cli::add_config_command(app);

    CLI11_PARSE(app, argc, argv);
    return 0;
}
