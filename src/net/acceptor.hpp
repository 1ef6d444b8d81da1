// The listening socket of a node's distribution port, on a fixed port or the first free one of a
// range (like inet_dist_listen_min/max).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "distribute/expected.hpp"
#include "net/asio.hpp"

namespace distribute::net {

// The same connection on `to` (its reads, writes and timers then run there): the acceptor takes
// every socket on its own io_context, and a node spreads its connections over several.
[[nodiscard]] Expected<tcp::socket, std::string> move_socket(tcp::socket socket,
                                                             asio::io_context& to);

class Acceptor : public std::enable_shared_from_this<Acceptor> {
  public:
    // Binds and listens now; port_min 0 takes any free port. An empty address is every
    // interface of both families (one dual-stack socket), or every IPv4 one without IPv6.
    [[nodiscard]] static Expected<std::shared_ptr<Acceptor>, std::string> listen(
        asio::io_context& io, const std::string& address, std::uint16_t port_min,
        std::uint16_t port_max);

    // Each accepted socket goes to `on_accept`, on the io_context, until close().
    void start(std::function<void(tcp::socket)> on_accept);
    void close();
    std::uint16_t port() const { return port_; }

    explicit Acceptor(tcp::acceptor acceptor);

  private:
    void accept();

    tcp::acceptor acceptor_;
    // After a failed accept (out of file descriptors, say) the next waits a moment instead of
    // failing again at once in a loop that would take a whole thread.
    asio::steady_timer backoff_;
    std::uint16_t port_ = 0;
    std::function<void(tcp::socket)> on_accept_;
};

}  // namespace distribute::net
