#include "wire/node_name.hpp"

#include <arpa/inet.h>

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

bool NodeName::host_is_address() const {
    unsigned char bytes[16];
    return inet_pton(AF_INET, host.c_str(), bytes) == 1 ||
           inet_pton(AF_INET6, host.c_str(), bytes) == 1;
}

bool NodeName::is_long() const {
    return host.find('.') != std::string::npos || host_is_address();
}

}  // namespace distribute::wire
