// libFuzzer target for the discovery file (src/cluster/discovery_file.cpp): the node names a file
// backend reads, one per line. No input may crash; every node found is a valid node name
// (alive@host) found once, and a file with lines that are not names says so in the warning.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string_view>

#include "cluster/discovery_file.hpp"
#include "wire/node_name.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace distribute;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const Found found = cluster::parse_discovery_file(text, "fuzz.nodes");
    std::set<std::string> seen;
    for (const auto& node : found.nodes) {
        const std::string name(node.node.name());
        auto parsed = wire::NodeName::parse(name);
        if (!parsed || parsed->host != node.host) __builtin_trap();
        if (!seen.insert(name).second) __builtin_trap();
        if (text.find(name) == std::string_view::npos) __builtin_trap();
    }
    return 0;
}
