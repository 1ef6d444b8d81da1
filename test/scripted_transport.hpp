// An in-memory connection for the session tests: two Transports joined back to back, whose reads
// deliver the bytes in the pieces a test chooses and which fail where it says (the Nth read, the
// Nth write after some of its bytes went out, reads that stall, writes held back), as Boost.Beast's
// test streams do for HTTP. Every path of net::Session runs on it without a socket,
// deterministically.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "net/transport.hpp"

namespace distribute::testing {

// What one end does to the bytes it reads and writes. Counts are 1-based; 0 means never.
struct Script {
    // The sizes of the pieces reads deliver, in turn and then again from the first; empty: all
    // that has arrived (up to the reader's buffer).
    std::vector<std::size_t> read_pieces{};
    int fail_read = 0;  // that read completes with connection_reset instead of bytes
    // That write puts fail_write_after of its bytes on the wire, then fails with broken_pipe.
    int fail_write = 0;
    std::size_t fail_write_after = 0;
    int stall_after_reads = 0;  // reads after that many never complete (until a close)
};

// The connection. End 0 and end 1 each have a Transport (make_transport); bytes written on one
// are read on the other.
class ScriptedLink : public std::enable_shared_from_this<ScriptedLink> {
  public:
    using Handler = net::Transport::Handler;

    static std::shared_ptr<ScriptedLink> make(net::asio::io_context& io, Script end0, Script end1) {
        return std::shared_ptr<ScriptedLink>(
            new ScriptedLink(io, std::move(end0), std::move(end1)));
    }

    std::unique_ptr<net::Transport> make_transport(int end);

    net::Strand strand_of(int end) const { return *ends_[end].strand; }

    // Bytes written by `end` that reached the other one, all told.
    std::size_t bytes_written(int end) {
        std::lock_guard lock(mutex_);
        return ends_[end].written;
    }
    // Writes started by `end`, all told (a gathering write counts once).
    int writes(int end) {
        std::lock_guard lock(mutex_);
        return ends_[end].writes;
    }
    // From now on the writes of `end` neither reach the other end nor complete, as on a socket
    // whose peer reads nothing, until release_writes (or a close, which fails them).
    void hold_writes(int end) {
        std::lock_guard lock(mutex_);
        ends_[end].holding = true;
    }
    // The held writes of `end` go through in order, and later ones at once again.
    void release_writes(int end) {
        std::lock_guard lock(mutex_);
        End& e = ends_[end];
        e.holding = false;
        while (!e.held.empty()) {
            End::Held write = std::move(e.held.front());
            e.held.pop_front();
            deliver(end, write.bytes, std::move(write.done), write.fails);
        }
    }

  private:
    friend class ScriptedTransport;

    struct End {
        Script script;
        std::deque<std::uint8_t> inbound;  // written by the other end, not yet read
        bool closed = false;               // this end called close()
        int reads = 0;
        int writes = 0;
        std::size_t piece = 0;  // the next of script.read_pieces
        std::size_t written = 0;
        std::optional<std::pair<std::span<std::uint8_t>, Handler>> parked;  // a read waiting
        std::optional<net::Strand> strand;
        bool holding = false;  // hold_writes
        struct Held {
            std::vector<std::uint8_t> bytes;
            Handler done;
            bool fails;
        };
        std::deque<Held> held;  // writes held back
    };

    ScriptedLink(net::asio::io_context& io, Script end0, Script end1) {
        ends_[0].script = std::move(end0);
        ends_[1].script = std::move(end1);
        for (End& e : ends_)
            e.strand.emplace(net::asio::make_strand(io));
    }

    // On the strand of `end`'s transport, as a socket's completions are.
    void complete(int end, Handler done, boost::system::error_code error, std::size_t n) {
        net::asio::post(*ends_[end].strand, [done = std::move(done), error, n] { done(error, n); });
    }

    // With mutex_ held: completes the parked read of `end` if it can complete now.
    void settle(int end) {
        End& e = ends_[end];
        if (!e.parked) return;
        auto [into, done] = std::move(*e.parked);
        e.parked.reset();
        if (e.closed) return complete(end, std::move(done), net::asio::error::operation_aborted, 0);
        const bool stalled =
            e.script.stall_after_reads != 0 && e.reads > e.script.stall_after_reads;
        if (!stalled && !e.inbound.empty()) {
            std::size_t n = std::min(into.size(), e.inbound.size());
            if (!e.script.read_pieces.empty()) {
                n = std::min(n,
                             std::max<std::size_t>(
                                 1, e.script.read_pieces[e.piece++ % e.script.read_pieces.size()]));
            }
            std::copy_n(e.inbound.begin(), n, into.begin());
            e.inbound.erase(e.inbound.begin(), e.inbound.begin() + static_cast<std::ptrdiff_t>(n));
            return complete(end, std::move(done), {}, n);
        }
        if (!stalled && ends_[1 - end].closed)
            return complete(end, std::move(done), net::asio::error::eof, 0);
        e.parked.emplace(into, std::move(done));
    }

    void read(int end, std::span<std::uint8_t> into, Handler done) {
        std::lock_guard lock(mutex_);
        End& e = ends_[end];
        ++e.reads;
        if (e.reads == e.script.fail_read)
            return complete(end, std::move(done), net::asio::error::connection_reset, 0);
        e.parked.emplace(into, std::move(done));
        settle(end);
    }

    void write(int end, std::span<const std::uint8_t> bytes, Handler done) {
        std::lock_guard lock(mutex_);
        End& e = ends_[end];
        ++e.writes;
        if (e.closed) return complete(end, std::move(done), net::asio::error::bad_descriptor, 0);
        const bool fails = e.writes == e.script.fail_write;
        if (e.holding)
            return e.held.push_back({{bytes.begin(), bytes.end()}, std::move(done), fails});
        deliver(end, bytes, std::move(done), fails);
    }

    // With mutex_ held: the bytes of a write of `end` reach the other end, and it completes.
    void deliver(int end, std::span<const std::uint8_t> bytes, Handler done, bool fails) {
        End& e = ends_[end];
        End& other = ends_[1 - end];
        const std::size_t n =
            fails ? std::min(bytes.size(), e.script.fail_write_after) : bytes.size();
        if (!other.closed)
            other.inbound.insert(other.inbound.end(), bytes.begin(), bytes.begin() + n);
        e.written += n;
        settle(1 - end);
        complete(end, std::move(done),
                 fails ? net::asio::error::broken_pipe : boost::system::error_code{}, n);
    }

    void close(int end) {
        std::lock_guard lock(mutex_);
        ends_[end].closed = true;
        for (auto& write : ends_[end].held)
            complete(end, std::move(write.done), net::asio::error::operation_aborted, 0);
        ends_[end].held.clear();
        settle(end);
        settle(1 - end);
    }

    std::mutex mutex_;
    End ends_[2];
};

class ScriptedTransport final : public net::Transport {
  public:
    ScriptedTransport(std::shared_ptr<ScriptedLink> link, int end)
        : link_(std::move(link)), end_(end) {}
    ~ScriptedTransport() override { link_->close(end_); }

    net::Strand strand() const override { return link_->strand_of(end_); }

    void async_read_some(std::span<std::uint8_t> into, Handler done) override {
        link_->read(end_, into, std::move(done));
    }
    void async_write(std::span<const std::uint8_t> bytes, Handler done) override {
        link_->write(end_, bytes, std::move(done));
    }
    void async_write_parts(std::span<const std::span<const std::uint8_t>> parts,
                           Handler done) override {
        std::vector<std::uint8_t> bytes;
        for (auto part : parts)
            bytes.insert(bytes.end(), part.begin(), part.end());
        link_->write(end_, bytes, std::move(done));
    }
    void close() override { link_->close(end_); }
    std::string peer_address() const override { return "scripted:" + std::to_string(1 - end_); }

  private:
    std::shared_ptr<ScriptedLink> link_;
    int end_;
};

inline std::unique_ptr<net::Transport> ScriptedLink::make_transport(int end) {
    return std::make_unique<ScriptedTransport>(shared_from_this(), end);
}

}  // namespace distribute::testing
