#include "wire/node_name.hpp"

namespace distribute::wire {

Expected<NodeName, std::string> NodeName::parse(std::string_view full) {
    auto at = full.find('@');
    if (at == std::string_view::npos)
        return unexpected("no '@' in node name '" + std::string(full) + "'");
    NodeName name{std::string(full.substr(0, at)), std::string(full.substr(at + 1))};
    if (name.alive.empty() || name.host.empty() || name.host.find('@') != std::string::npos)
        return unexpected("node name '" + std::string(full) + "' is not alive@host");
    return name;
}

}  // namespace distribute::wire
