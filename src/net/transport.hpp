// The byte stream a distribution session runs over: plain TCP, or the encrypted transport between
// two of our nodes (secure_transport.hpp) over it, without the session knowing which.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "net/asio.hpp"

namespace distribute::net {

// A transport and everything that runs over it (the encrypted handshake, then the session) work
// on the transport's one strand.
using Strand = asio::strand<asio::io_context::executor_type>;

class Transport {
  public:
    using Handler = std::function<void(const boost::system::error_code&, std::size_t)>;
    virtual ~Transport() = default;

    // Where every completion runs, and every step of a write that takes several: an asio socket
    // is not for use by two threads at once, and close() runs there too, so a session ending
    // while a large write is half done cannot touch the socket beside that write's next step.
    virtual Strand strand() const = 0;
    // At most one read and one write in flight at a time, both started on the strand.
    virtual void async_read_some(std::span<std::uint8_t> into, Handler done) = 0;
    // Writes every byte (or fails).
    virtual void async_write(std::span<const std::uint8_t> bytes, Handler done) = 0;
    // The same for bytes in several places (gather): fragments of a large message go out as
    // views of its one encoded buffer. `parts` is read before this returns; the bytes it points
    // at must live until `done`.
    virtual void async_write_parts(std::span<const std::span<const std::uint8_t>> parts,
                                   Handler done) = 0;
    // Writes what the socket takes at once, without blocking, from any thread, while no
    // async_write is in flight; the bytes taken (0 when full, failed, or not supported). Lets a
    // program thread put a frame on the wire itself instead of waking a node thread to do it.
    // A transport that transforms the bytes (the encrypted one seals them) may take more than
    // the socket took: it holds the rest and writes it first with the next async_write.
    virtual std::size_t write_now(std::span<const std::uint8_t>) { return 0; }
    // No bytes taken by write_now are held back: an async_write (of no bytes, if need be) is
    // due otherwise.
    virtual bool flushed() const { return true; }
    // Room a read should offer so that the transport can hand over its unit whole: an
    // encrypted record's data, opened straight into the reader's buffer instead of a copy.
    virtual std::size_t read_unit() const { return 0; }
    // Ends both directions; outstanding operations complete with an error.
    virtual void close() = 0;
    // "address:port" of the peer, for log lines.
    virtual std::string peer_address() const = 0;
    // After a failed read: why, when the bytes themselves were bad (an encrypted record that does
    // not authenticate), so that the session reports a bad peer rather than a lost connection.
    virtual std::string integrity_failure() const { return {}; }
    // "plaintext", or "encrypted (Noise_...)": for the log line of each connection.
    virtual std::string security() const { return "plaintext"; }
    // The static key the peer proved it holds (encrypted with pinned keys), to check against the
    // key pinned for the name it gives in the distribution handshake.
    virtual std::optional<std::array<std::uint8_t, 32>> peer_key() const { return std::nullopt; }
};

// `already_read`: bytes taken off the socket before (an acceptor looking at the first bytes),
// handed to the first read.
std::unique_ptr<Transport> make_tcp_transport(Strand strand, tcp::socket socket,
                                              std::vector<std::uint8_t> already_read = {});

// An IPv4 peer of a dual-stack socket as IPv4 (127.0.0.1, not ::ffff:127.0.0.1): one peer has one
// address in log lines and in the limits kept per address.
asio::ip::address unmapped(const asio::ip::address& address);

}  // namespace distribute::net
