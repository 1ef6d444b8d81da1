// The byte stream a distribution session runs over. Plain TCP today; the encrypted C++-to-C++
// transport plugs in here without the session knowing.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "net/asio.hpp"

namespace distribute::net {

class Transport {
  public:
    using Handler = std::function<void(const boost::system::error_code&, std::size_t)>;
    virtual ~Transport() = default;

    // At most one read and one write in flight at a time, both started on the session's strand.
    virtual void async_read_some(std::span<std::uint8_t> into, Handler done) = 0;
    // Writes every byte (or fails).
    virtual void async_write(std::span<const std::uint8_t> bytes, Handler done) = 0;
    // Writes what the socket takes at once, without blocking, from any thread, while no
    // async_write is in flight; the bytes written (0 when full, failed, or not supported). Lets a
    // program thread put a frame on the wire itself instead of waking a node thread to do it.
    virtual std::size_t write_now(std::span<const std::uint8_t>) { return 0; }
    // Ends both directions; outstanding operations complete with an error.
    virtual void close() = 0;
    // "address:port" of the peer, for log lines.
    virtual std::string peer_address() const = 0;
};

std::unique_ptr<Transport> make_tcp_transport(tcp::socket socket);

// An IPv4 peer of a dual-stack socket as IPv4 (127.0.0.1, not ::ffff:127.0.0.1): one peer has one
// address in log lines and in the limits kept per address.
asio::ip::address unmapped(const asio::ip::address& address);

}  // namespace distribute::net
