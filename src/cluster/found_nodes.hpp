// What every backend does with a name it found: check that it is a node name (alive@host, an atom
// the node can make), drop repeats, and note the bad ones for the backend's warning.
#pragma once

#include <algorithm>
#include <string>

#include "distribute/discovery.hpp"
#include "wire/node_name.hpp"

namespace distribute::cluster {

// Adds `text` to `found` unless it is there already; a name that is not a node name goes into
// `bad` (with `where` it came from) instead.
inline void add_node(Found& found, const std::string& text, const std::string& where,
                     std::string& bad, std::uint16_t port = 0) {
    auto parsed = wire::NodeName::parse(text);
    auto atom = Atom::make(text);
    if (!parsed || !atom) {
        if (!bad.empty()) bad += "; ";
        bad += where + ": '" + text + "' is not a node name (alive@host)";
        return;
    }
    const bool seen = std::any_of(found.nodes.begin(), found.nodes.end(),
                                  [&](const FoundNode& n) { return n.node == *atom; });
    if (!seen) found.nodes.push_back(FoundNode{*atom, parsed->host, port});
}

}  // namespace distribute::cluster
