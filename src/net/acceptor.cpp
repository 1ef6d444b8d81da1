#include "net/acceptor.hpp"

namespace distribute::net {

namespace {
constexpr auto accept_backoff = std::chrono::milliseconds(100);
}

Acceptor::Acceptor(tcp::acceptor acceptor)
    : acceptor_(std::move(acceptor)), backoff_(acceptor_.get_executor()) {
    boost::system::error_code ignored;
    port_ = acceptor_.local_endpoint(ignored).port();
}

Expected<std::shared_ptr<Acceptor>, std::string> Acceptor::listen(asio::io_context& io,
                                                                  const std::string& address,
                                                                  std::uint16_t port_min,
                                                                  std::uint16_t port_max) {
    boost::system::error_code e;
    auto ip = asio::ip::make_address(address, e);
    if (e) return unexpected("bad listen address '" + address + "': " + e.message());
    if (port_max < port_min) port_max = port_min;
    std::string last_error;
    for (unsigned port = port_min; port <= port_max; ++port) {
        tcp::acceptor acceptor(io);
        tcp::endpoint endpoint(ip, static_cast<std::uint16_t>(port));
        if (!acceptor.open(endpoint.protocol(), e) &&
            !acceptor.set_option(tcp::acceptor::reuse_address(true), e) &&
            !acceptor.bind(endpoint, e) &&
            !acceptor.listen(asio::socket_base::max_listen_connections, e))
            return std::make_shared<Acceptor>(std::move(acceptor));
        last_error = e.message();
    }
    return unexpected("cannot listen on " + address + " port " + std::to_string(port_min) +
                      (port_max != port_min ? ".." + std::to_string(port_max) : "") + ": " +
                      last_error);
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
