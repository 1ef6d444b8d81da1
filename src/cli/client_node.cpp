#include "cli/client_node.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>

namespace distribute::cli {

namespace {

[[noreturn]] void exit_with(int status, const std::string& command, const std::string& why) {
    std::fprintf(stderr, "distribute %s: %s\n", command.c_str(), why.c_str());
    std::fflush(stderr);
    throw CLI::RuntimeError(status);
}

}  // namespace

void usage_error(const std::string& command, const std::string& why) {
    exit_with(2, command, why);
}

void command_failed(const std::string& command, const std::string& why) {
    exit_with(1, command, why);
}

Atom atom_of(const std::string& command, const std::string& text) {
    auto atom = Atom::make(text);
    if (!atom) usage_error(command, "'" + text + "' cannot be an atom");
    return *atom;
}

Node client_node(const std::string& command, const std::string& target, const std::string& cookie) {
    auto at = target.find('@');
    if (at == std::string::npos)
        usage_error(command, "'" + target + "' is not a node name (name@host)");
    NodeOptions options;
    options.name = "distribute_" + command + "_" + std::to_string(::getpid());
    options.long_names = target.find('.', at) != std::string::npos;
    options.cookie = cookie;
    options.setup_timeout = std::chrono::milliseconds(5000);
    // In and out in a moment: not worth a place in the cluster's global and nodes().
    options.hidden = true;
    auto node = Node::start(std::move(options));
    if (!node) command_failed(command, node.error().detail);
    return std::move(*node);
}

}  // namespace distribute::cli
