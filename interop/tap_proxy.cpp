#include "tap_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace distribute::testing {

namespace {

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

bool send_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n <= 0) return false;
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

TapProxy::TapProxy(std::uint16_t target_port) : target_port_(target_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto address = loopback(0);
    address.sin_addr.s_addr = htonl(INADDR_ANY);  // where a node name's host resolves to
    socklen_t length = sizeof address;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(listener_, 8) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
        throw std::runtime_error("the tap proxy cannot listen");
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { run(); });
}

TapProxy::~TapProxy() {
    stopping_.store(true);
    ::shutdown(listener_, SHUT_RDWR);
    {
        std::lock_guard lock(mutex_);
        for (int fd : sockets_)
            ::shutdown(fd, SHUT_RDWR);
    }
    thread_.join();
    ::close(listener_);
}

std::string TapProxy::captured() const {
    std::lock_guard lock(mutex_);
    return captured_;
}

void TapProxy::run() {
    while (!stopping_.load()) {
        const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) return;
        const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        auto target = loopback(target_port_);
        if (::connect(server, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0) {
            ::close(client);
            ::close(server);
            continue;
        }
        {
            std::lock_guard lock(mutex_);
            sockets_ = {client, server};
        }
        std::thread back([this, client, server] { pump(server, client, false); });
        pump(client, server, true);
        back.join();
        {
            std::lock_guard lock(mutex_);
            sockets_.clear();
        }
        ::close(client);
        ::close(server);
    }
}

// Forwards `from` to `to` until either side ends, then ends both.
void TapProxy::pump(int from, int to, bool outbound) {
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::recv(from, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        {
            std::lock_guard lock(mutex_);
            captured_.append(buffer, static_cast<std::size_t>(n));
        }
        const Tamper how = outbound ? armed_.exchange(Tamper::none) : Tamper::none;
        bool ok = true;
        switch (how) {
            case Tamper::none:
                ok = send_all(to, buffer, static_cast<std::size_t>(n));
                break;
            case Tamper::flip_bit:
                buffer[n - 1] ^= 0x01;
                ok = send_all(to, buffer, static_cast<std::size_t>(n));
                break;
            case Tamper::replay:
                ok = send_all(to, buffer, static_cast<std::size_t>(n)) &&
                     send_all(to, buffer, static_cast<std::size_t>(n));
                break;
            case Tamper::truncate:
                send_all(to, buffer, static_cast<std::size_t>(n) - 1);
                ok = false;
                break;
        }
        if (how != Tamper::none) tampered_.store(true);
        if (!ok) break;
    }
    ::shutdown(from, SHUT_RDWR);
    ::shutdown(to, SHUT_RDWR);
}

}  // namespace distribute::testing
