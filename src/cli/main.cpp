// The `distribute` command: one subcommand per job, registered in commands.hpp.
#include <cstdio>
#include <cstring>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/client_node.hpp"
#include "cli/commands.hpp"

namespace {

const char* const overview =
    "Examples:\n"
    "  distribute node --sname cpp --cookie secret\n"
    "  distribute ping e@myhost --cookie secret\n"
    "  distribute call cpp@myhost kv '{get, k}'\n"
    "  distribute stats cpp@myhost\n"
    "  distribute term --from text --to etf < term.txt > term.etf\n"
    "`distribute COMMAND --help` tells what each command does.\n"
    "\n";

// A first argument that is neither an option nor a command: say so, and which commands exist,
// rather than CLI11's "A subcommand is required".
bool is_unknown_command(const CLI::App& app, const char* first) {
    if (first[0] == '-') return false;
    for (const CLI::App* command : app.get_subcommands({}))
        if (command->check_name(first)) return false;
    return true;
}

std::string command_names(const CLI::App& app) {
    std::string names;
    for (const CLI::App* command : app.get_subcommands({}))
        names += (names.empty() ? "" : ", ") + command->get_name();
    return names;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace distribute::cli;
    CLI::App app{"distribute: C++ peer nodes for Erlang and Elixir clusters", "distribute"};
    app.set_version_flag("--version", DISTRIBUTE_VERSION);
    app.require_subcommand(1);

    add_term_command(app);
    add_epmd_command(app);
    add_names_command(app);
    add_node_commands(app);
    add_call_commands(app);
    add_config_command(app);
    add_stats_command(app);
    add_keygen_command(app);
    // Set after the commands: CLI11 gives a subcommand the footer its parent has when it is added.
    app.footer(std::string(overview) + exit_status_help);

    if (argc > 1 && is_unknown_command(app, argv[1])) {
        std::fprintf(stderr, "distribute: '%s' is not a command; the commands are %s\n", argv[1],
                     command_names(app).c_str());
        return exit_usage;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::RuntimeError& e) {
        // Our own exits: the message is printed already.
        return e.get_exit_code();
    } catch (const CLI::ParseError& e) {
        // --help and --version exit 0; every command line error exits 2, whatever CLI11's code.
        app.exit(e);
        return e.get_exit_code() == 0 ? exit_ok : exit_usage;
    }
    return exit_ok;
}
