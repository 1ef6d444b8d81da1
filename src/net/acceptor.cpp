#include "net/acceptor.hpp"

#include <unistd.h>

#include "net/close_on_exec.hpp"

namespace distribute::net {

namespace {

constexpr auto accept_backoff = std::chrono::milliseconds(100);

// One socket listening on `ip`, on the first free port of the range.
Expected<tcp::acceptor, std::string> bind_first_free(asio::io_context& io,
                                                     const asio::ip::address& ip,
                                                     std::uint16_t port_min,
                                                     std::uint16_t port_max) {
    boost::system::error_code e;
    for (unsigned port = port_min; port <= port_max; ++port) {
        tcp::acceptor acceptor(io);
        tcp::endpoint endpoint(ip, static_cast<std::uint16_t>(port));
        if (!acceptor.open(endpoint.protocol(), e) &&
            // Every address of both families on one socket: inet_tcp and inet6_tcp peers alike.
            !(ip.is_v6() && ip.is_unspecified() &&
              acceptor.set_option(asio::ip::v6_only(false), e)) &&
            !acceptor.set_option(tcp::acceptor::reuse_address(true), e) &&
            !acceptor.bind(endpoint, e) &&
            !acceptor.listen(asio::socket_base::max_listen_connections, e)) {
            close_on_exec(acceptor.native_handle());
            return acceptor;
        }
        // Without IPv6 no port will do: say so at once.
        if (e == asio::error::address_family_not_supported) break;
    }
    return unexpected(e.message());
}

}  // namespace

Acceptor::Acceptor(tcp::acceptor acceptor)
    : acceptor_(std::move(acceptor)), backoff_(acceptor_.get_executor()) {
    boost::system::error_code ignored;
    port_ = acceptor_.local_endpoint(ignored).port();
}

Expected<std::shared_ptr<Acceptor>, std::string> Acceptor::listen(asio::io_context& io,
                                                                  const std::string& address,
                                                                  std::uint16_t port_min,
                                                                  std::uint16_t port_max) {
    if (port_max < port_min) port_max = port_min;
    const std::string shown = address.empty() ? "every interface" : address;
    boost::system::error_code e;
    auto ip = address.empty() ? asio::ip::address(asio::ip::address_v6::any())
                              : asio::ip::make_address(address, e);
    if (e) return unexpected("bad listen address '" + address + "': " + e.message());
    auto bound = bind_first_free(io, ip, port_min, port_max);
    // A machine without IPv6: every interface is every IPv4 one.
    if (!bound && address.empty())
        bound = bind_first_free(io, asio::ip::address_v4::any(), port_min, port_max);
    if (!bound)
        return unexpected("cannot listen on " + shown + " port " + std::to_string(port_min) +
                          (port_max != port_min ? ".." + std::to_string(port_max) : "") + ": " +
                          bound.error());
    return std::make_shared<Acceptor>(std::move(*bound));
}

Expected<tcp::socket, std::string> move_socket(tcp::socket socket, asio::io_context& to) {
    boost::system::error_code e;
    const auto protocol = socket.local_endpoint(e).protocol();
    if (e) return unexpected(e.message());
    const auto handle = socket.release(e);
    if (e) return unexpected(e.message());
    tcp::socket moved(to);
    moved.assign(protocol, handle, e);
    if (e) {
        ::close(handle);
        return unexpected(e.message());
    }
    return moved;
}

void Acceptor::start(std::function<void(tcp::socket)> on_accept) {
    on_accept_ = std::move(on_accept);
    accept();
}

void Acceptor::accept() {
    acceptor_.async_accept(
        [self = shared_from_this()](const boost::system::error_code& e, tcp::socket socket) {
            if (e == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
            if (!e) {
                // At once: the connection may wait for its first bytes while a child starts.
                close_on_exec(socket.native_handle());
                self->on_accept_(std::move(socket));
                self->accept();
                return;
            }
            self->backoff_.expires_after(accept_backoff);
            self->backoff_.async_wait([self](const boost::system::error_code& waited) {
                if (!waited && self->acceptor_.is_open()) self->accept();
            });
        });
}

void Acceptor::close() {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
        boost::system::error_code ignored;
        self->acceptor_.close(ignored);
        self->backoff_.cancel();
    });
}

}  // namespace distribute::net
