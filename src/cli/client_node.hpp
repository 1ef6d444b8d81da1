// What the one-shot subcommands (ping, send, call, rpc) share: the short-lived hidden node they
// talk through, and reporting a bad command line (exit status 2) or a failure (1) alike.
#pragma once

#include <string>

#include "distribute/node.hpp"

namespace distribute::cli {

[[noreturn]] void usage_error(const std::string& command, const std::string& why);
[[noreturn]] void command_failed(const std::string& command, const std::string& why);

// `text` as an atom, or a usage error naming the command.
Atom atom_of(const std::string& command, const std::string& text);

// A hidden node named after the command and this process, with the same name length as
// `target` (a short-names node cannot talk to a long-names one).
Node client_node(const std::string& command, const std::string& target, const std::string& cookie);

}  // namespace distribute::cli
