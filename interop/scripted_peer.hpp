// A peer node written with the wire layer's handshake and frame codec over a raw socket: it can
// say anything, including what a BEAM never would, offer any set of flags, and show exactly
// which control messages our node sent it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "distribute/term.hpp"
#include "wire/control.hpp"
#include "wire/flags.hpp"
#include "wire/framing.hpp"
#include "wire/handshake.hpp"

namespace distribute::testing {

// A TCP connection to 127.0.0.1:port with blocking writes and polled reads; from `source` (a
// loopback address such as 127.0.0.3) when one is given.
class RawSocket {
  public:
    explicit RawSocket(std::uint16_t port, const char* source = nullptr);
    ~RawSocket();
    RawSocket(const RawSocket&) = delete;
    RawSocket& operator=(const RawSocket&) = delete;

    void write(std::span<const std::uint8_t> bytes);
    // Appends what arrives within `limit` to `into`. 0: the peer closed (EOF or reset); -1:
    // nothing in time; otherwise the count of bytes read.
    long read_some(std::vector<std::uint8_t>& into, std::chrono::milliseconds limit);
    // True when the peer closes the connection within `limit`; what it sends before is dropped.
    bool closed_within(std::chrono::milliseconds limit);

  private:
    int fd_ = -1;
};

class ScriptedPeer {
  public:
    // Dials our node at `port` as `name`, offering `offered` (wire::offered: what we offer),
    // from the loopback address `source` when one is given.
    ScriptedPeer(std::uint16_t port, std::string name, std::string dial, std::string cookie,
                 std::uint32_t creation = 0x5c21, std::uint64_t offered = wire::offered,
                 const char* source = nullptr);

    // Runs the handshake to the end; false when it failed or stalled.
    bool handshake(std::chrono::milliseconds limit = std::chrono::seconds(15));
    // Sends the name, reads the status and the challenge, and then says nothing more.
    bool stall_after_challenge(std::chrono::milliseconds limit = std::chrono::seconds(15));

    // Why the handshake failed, when it did.
    const wire::HandshakeFailure& failure() const { return handshake_.failure(); }
    Pid pid(std::uint32_t id) const;
    std::uint64_t negotiated() const { return handshake_.negotiated_flags(); }
    void send(const wire::Control& control);
    void send_raw(std::span<const std::uint8_t> bytes);
    bool closed_within(std::chrono::milliseconds limit) { return socket_.closed_within(limit); }

    // The next control message (ticks skipped), or nullopt when none came in time. Every frame
    // is also kept, with its op, for ops_received().
    std::optional<wire::Control> next_control(
        std::chrono::milliseconds limit = std::chrono::seconds(15));
    // The ops of every control message read so far, in order.
    const std::vector<wire::Op>& ops_received() const { return ops_; }
    // Ticks read so far.
    std::size_t ticks_received() const { return ticks_; }

  private:
    bool run_handshake(std::chrono::milliseconds limit, bool stop_after_challenge);
    bool read_before(std::chrono::steady_clock::time_point deadline);

    RawSocket socket_;
    std::string name_;
    std::uint32_t creation_;
    wire::Handshake handshake_;
    std::vector<std::uint8_t> in_;
    std::optional<wire::FrameDecoder> decoder_;
    std::optional<wire::FrameEncoder> encoder_;
    std::vector<wire::Op> ops_;
    wire::IncomingAtomCache op_cache_;  // for the ops: the decoder's own is not visible
    std::vector<Atom> op_atoms_;
    std::size_t ticks_ = 0;
};

// Sends {Pid, tag} to our node's `echo` service from `peer` and checks that tag comes back.
void expect_echo(ScriptedPeer& peer, Atom tag);

}  // namespace distribute::testing
