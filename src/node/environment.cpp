#include "node/environment.hpp"

#include <netdb.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace distribute::node {

Expected<std::string, NodeError> local_host_name(bool long_names) {
    char buffer[256] = {};
    if (gethostname(buffer, sizeof buffer - 1) != 0)
        return unexpected(
            NodeError{NodeErrc::bad_name, std::string("gethostname: ") + std::strerror(errno)});
    std::string host = buffer;
    if (!long_names) return host.substr(0, host.find('.'));
    if (host.find('.') != std::string::npos) return host;
    addrinfo hints{};
    hints.ai_flags = AI_CANONNAME;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &found) == 0 && found) {
        std::string canonical = found->ai_canonname ? found->ai_canonname : "";
        freeaddrinfo(found);
        if (canonical.find('.') != std::string::npos) return canonical;
    }
    return unexpected(
        NodeError{NodeErrc::bad_name, "long names need a fully qualified host name, and '" + host +
                                          "' has no domain: give the host in the name "
                                          "(alive@host.domain)"});
}

}  // namespace distribute::node
