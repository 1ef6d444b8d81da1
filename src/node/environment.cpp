#include "node/environment.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace distribute::node {

Expected<std::string, std::string> local_host_name(bool long_names) {
    char buffer[256] = {};
    if (gethostname(buffer, sizeof buffer - 1) != 0)
        return unexpected(std::string("gethostname: ") + std::strerror(errno));
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
    return unexpected("long names need a fully qualified host name, and '" + host +
                      "' has no domain: give the host in the name (alive@host.domain)");
}

Expected<std::string, std::string> home_cookie() {
    const char* home = std::getenv("HOME");
    if (!home || !*home) return unexpected(std::string("HOME is not set"));
    const std::string path = std::string(home) + "/.erlang.cookie";
    std::ifstream in(path);
    if (!in) {
        std::string cookie;
        for (int i = 0; i < 20; ++i)
            cookie += static_cast<char>('A' + randombytes_uniform(26));
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0400);
        if (fd < 0) {
            // Somebody else may have just created it: read theirs.
            if (errno == EEXIST) return home_cookie();
            return unexpected("cannot create " + path + ": " + std::strerror(errno));
        }
        const bool written =
            ::write(fd, cookie.data(), cookie.size()) == static_cast<ssize_t>(cookie.size());
        ::close(fd);
        if (!written) return unexpected("cannot write " + path);
        return cookie;
    }
    std::stringstream text;
    text << in.rdbuf();
    std::string cookie = text.str();
    while (!cookie.empty() && std::isspace(static_cast<unsigned char>(cookie.back())))
        cookie.pop_back();
    if (cookie.empty()) return unexpected(path + " is empty");
    return cookie;
}

}  // namespace distribute::node
