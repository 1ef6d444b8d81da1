// What every example's main does first: a node from `NAME [COOKIE [LISTEN_ADDRESS]]`.
//   NAME            a short node name (inventory becomes inventory@<short host>), as erl -sname
//   COOKIE          without one, ~/.erlang.cookie, read as erl reads it
//   LISTEN_ADDRESS  without one, every interface, as erl
// ERL_EPMD_PORT is honoured as erl honours it.
#pragma once

#include <distribute.hpp>

#include <cstdio>
#include <optional>
#include <utility>

// The node, or nullopt once the reason is on stderr.
inline std::optional<distribute::Node> start_example_node(const char* program, int argc,
                                                          char** argv) {
    if (argc < 2 || argc > 4) {
        std::fprintf(stderr, "usage: %s NAME [COOKIE [LISTEN_ADDRESS]]\n", program);
        return std::nullopt;
    }
    distribute::NodeOptions options;
    options.name = argv[1];
    if (argc > 2) options.cookie = argv[2];
    if (argc > 3) options.listen_address = argv[3];
    auto node = distribute::Node::start(options);
    if (!node) {
        std::fprintf(stderr, "%s: %s\n", program, node.error().detail.c_str());
        return std::nullopt;
    }
    return std::move(*node);
}
