#include "cluster/discovery_file.hpp"

#include "cluster/found_nodes.hpp"

namespace distribute::cluster {

Found parse_discovery_file(std::string_view content, const std::string& path) {
    Found found;
    std::string bad;
    unsigned number = 0;
    while (!content.empty()) {
        ++number;
        const auto newline = content.find('\n');
        const std::string_view line = content.substr(0, newline);
        content.remove_prefix(newline == std::string_view::npos ? content.size() : newline + 1);
        const auto begin = line.find_first_not_of(" \t\r");
        if (begin == std::string_view::npos || line[begin] == '#') continue;
        const auto end = line.find_last_not_of(" \t\r");
        add_node(found, std::string(line.substr(begin, end - begin + 1)),
                 path + ":" + std::to_string(number), bad);
    }
    if (!bad.empty()) found.warning = bad;
    return found;
}

}  // namespace distribute::cluster
