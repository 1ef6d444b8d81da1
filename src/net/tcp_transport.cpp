#include "net/transport.hpp"

#include "net/close_on_exec.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace distribute::net {
namespace {

// 127.0.0.1:4370, [::1]:4370; an IPv4 peer of a dual-stack socket shows as IPv4.
std::string printable(const tcp::endpoint& endpoint) {
    const auto address = unmapped(endpoint.address());
    const std::string host =
        address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
    return host + ":" + std::to_string(endpoint.port());
}

// Every read and write of a session is started on one of the node's threads, by the completion
// of the one before it or by work on the session's strand. Said so to asio (a continuation), an
// operation that completes at once (the bytes were there, the socket took them) has its handler
// queued on that same thread, after the work in hand, instead of waking another thread for it:
// one futex wake less per read and per write.
class Continuation {
  public:
    using executor_type = Strand;
    Continuation(Strand strand, Transport::Handler done)
        : strand_(std::move(strand)), done_(std::move(done)) {}
    executor_type get_executor() const noexcept { return strand_; }
    void operator()(const boost::system::error_code& error, std::size_t n) { done_(error, n); }
    friend bool asio_handler_is_continuation(Continuation*) { return true; }

  private:
    Strand strand_;
    Transport::Handler done_;
};

class TcpTransport final : public Transport {
  public:
    TcpTransport(Strand strand, tcp::socket socket, std::vector<std::uint8_t> already_read)
        : strand_(std::move(strand)),
          socket_(std::move(socket)),
          already_read_(std::move(already_read)) {
        close_on_exec(socket_.native_handle());
        boost::system::error_code ignored;
        // Distribution frames are often tiny and latency matters: the BEAM sets nodelay too.
        socket_.set_option(tcp::no_delay(true), ignored);
        auto endpoint = socket_.remote_endpoint(ignored);
        if (!ignored) address_ = printable(endpoint);
    }

    Strand strand() const override { return strand_; }

    void async_read_some(std::span<std::uint8_t> into, Handler done) override {
        if (!already_read_.empty()) {
            const std::size_t n = std::min(into.size(), already_read_.size());
            std::memcpy(into.data(), already_read_.data(), n);
            already_read_.erase(already_read_.begin(),
                                already_read_.begin() + static_cast<std::ptrdiff_t>(n));
            asio::post(strand_, [done = std::move(done), n] { done({}, n); });
            return;
        }
        socket_.async_read_some(asio::buffer(into.data(), into.size()),
                                Continuation(strand_, std::move(done)));
    }
    void async_write(std::span<const std::uint8_t> bytes, Handler done) override {
        // The handler's executor is where asio runs each further write_some of a partial write.
        asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()),
                          Continuation(strand_, std::move(done)));
    }
    void async_write_parts(std::span<const std::span<const std::uint8_t>> parts,
                           Handler done) override {
        std::vector<asio::const_buffer> buffers;
        buffers.reserve(parts.size());
        for (auto part : parts)
            buffers.emplace_back(part.data(), part.size());
        asio::async_write(socket_, std::move(buffers), Continuation(strand_, std::move(done)));
    }
    std::size_t write_now(std::span<const std::uint8_t> bytes) override {
        // The raw descriptor: asio's socket object is not for concurrent use, and the only
        // operation that may be pending on it here is the strand's read. An error is left for
        // the async_write that follows to report.
        const ssize_t n = ::send(socket_.native_handle(), bytes.data(), bytes.size(),
                                 MSG_DONTWAIT | MSG_NOSIGNAL);
        return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    void close() override {
        boost::system::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
    }
    std::string peer_address() const override { return address_; }

  private:
    Strand strand_;
    tcp::socket socket_;
    std::vector<std::uint8_t> already_read_;
    std::string address_ = "?";
};

}  // namespace

asio::ip::address unmapped(const asio::ip::address& address) {
    if (address.is_v6() && address.to_v6().is_v4_mapped())
        return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    return address;
}

std::unique_ptr<Transport> make_tcp_transport(Strand strand, tcp::socket socket,
                                              std::vector<std::uint8_t> already_read) {
    return std::make_unique<TcpTransport>(std::move(strand), std::move(socket),
                                          std::move(already_read));
}

}  // namespace distribute::net
