// erl's round trip through our node's `echo` service: proof that a connection works.
#pragma once

#include <string>
#include <string_view>

#include "node_support.hpp"

namespace distribute::testing {

inline std::string echo_round_trip(ErlNode& erl, const Node& node, std::string_view tag) {
    return erl.eval("{echo, " + quoted(node.name()) + "} ! {self(), " + std::string(tag) +
                    "}, receive " + std::string(tag) + " -> ok after 15000 -> timeout end");
}

}  // namespace distribute::testing
