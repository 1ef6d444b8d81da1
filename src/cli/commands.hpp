// The subcommands of the `distribute` command. Each adds itself to the app; main.cpp calls them.
#pragma once

#include <CLI/CLI.hpp>

namespace distribute::cli {

// `distribute term`: converts terms between the external term format and Erlang text.
void add_term_command(CLI::App& app);
// `distribute epmd`: the embedded EPMD server in the foreground.
void add_epmd_command(CLI::App& app);
// `distribute names [HOST]`: the names registered at an EPMD.
void add_names_command(CLI::App& app);
// `distribute node`, `distribute ping NODE` and `distribute send NODE NAME TERM`.
void add_node_commands(CLI::App& app);
// `distribute call NODE NAME REQUEST` and `distribute rpc NODE M F [ARG...]`.
void add_call_commands(CLI::App& app);
// `distribute config check FILE` and `distribute config show`.
void add_config_command(CLI::App& app);
// `distribute stats NODE`: a node's counters over distribution.
void add_stats_command(CLI::App& app);
// `distribute keygen FILE`: a node key pair for the encrypted transport.
void add_keygen_command(CLI::App& app);

}  // namespace distribute::cli
