// The distribution handshake (version 6, with the old 'n' + 'c' variant accepted from peers) as a
// state machine without I/O: feed it the bytes that arrived, write out what it queued, and answer
// the two questions only the node can answer (which status to give a peer that names itself, and
// whether to replace a connection the peer says is alive). Dynamic node names work both ways: a
// peer that asks for a name (DFLAG_NAME_ME) is given one with the `named:` status, and a node
// without a name yet asks its peer for one, as dist_util.erl does.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "distribute/error.hpp"

namespace distribute::wire {

enum class HandshakeStatus {
    ok,               // go on
    ok_simultaneous,  // go on; the acceptor drops its own attempt to the same node
    nok,              // the acceptor's own attempt wins: stop
    not_allowed,      // refused
    alive,            // a connection to this name exists: ask the initiator whether to replace it
    named,            // the peer asked for a name: assign_peer_name() gave it one; go on
};

enum class HandshakeErrc {
    bad_message = 1,    // a malformed or unexpected handshake message
    message_too_large,  // more than max_message_bytes
    refused,            // the peer answered nok or not_allowed, or closed
    missing_flags,      // the peer lacks flags we require
    bad_name,           // not alive@host, or not the name we dialled
    bad_digest,         // the peer does not know the cookie
    gave_up,            // the peer (or we) declined to replace a live connection
    lost_race,          // the peer answered nok: its own attempt to reach us wins
};

const std::error_category& handshake_category() noexcept;
std::error_code make_error_code(HandshakeErrc e) noexcept;

using HandshakeFailure = CodedError<HandshakeErrc>;

struct HandshakeSettings {
    std::string node_name;  // ours, alive@host; only the host when ask_for_name is set
    std::uint32_t creation = 0;
    // We have no name yet (erl -sname undefined): send_name carries the host and NAME_ME, and the
    // peer answers with the name and creation it gives us (Handshake::assigned()).
    bool ask_for_name = false;
    std::uint64_t offered_flags = 0;
    std::uint64_t required_flags = 0;
    // The cookie to use with a peer (per-peer cookies, like erlang:set_cookie/2).
    std::function<std::string(const std::string& peer)> cookie_for;
    // Challenges: a cryptographic random source in production, a fixed one in tests.
    std::function<std::uint32_t()> random_challenge;
};

struct HandshakePeer {
    std::string name;         // a peer that wants a name: its host until assign_peer_name()
    std::uint64_t flags = 0;  // as offered, expanded from the digest bit
    std::uint32_t creation = 0;
    bool wants_name = false;  // it set NAME_ME: answer named after assign_peer_name()
};

// The name and creation a peer gave us in its `named:` status.
struct AssignedName {
    std::string name;
    std::uint32_t creation = 0;
};

class Handshake {
  public:
    static constexpr std::size_t max_message_bytes = 4096;

    enum class Event {
        none,             // nothing new: feed more bytes
        peer_named,       // acceptor: call decide(status) for peer()
        peer_says_alive,  // initiator: call replace_alive(true or false)
        established,      // done: negotiated_flags() and peer() are final
        failed,           // failure() says why; close the socket
    };
    struct Progress {
        std::size_t used = 0;  // bytes of the input consumed; the rest belong to the next phase
        Event event = Event::none;
    };

    // We dial `peer_name`; the send_name message is queued at once.
    static Handshake initiate(HandshakeSettings settings, std::string peer_name);
    // A peer dialled us.
    static Handshake accept(HandshakeSettings settings);

    Progress feed(std::span<const std::uint8_t> input);
    // The bytes to write now (handshake messages with their 2-byte lengths).
    std::vector<std::uint8_t> take_output();

    // Both return failed when the answer ends the handshake: write take_output(), then close.
    Event decide(HandshakeStatus status);
    Event replace_alive(bool replace);
    // The peer closed the connection before the handshake ended. A BEAM refuses a challenge
    // reply made with another cookie by closing at once: while we wait for the ack, that is a
    // bad_digest failure (returns failed). Any other step returns none and changes nothing.
    Event peer_closed();
    // Acceptor, before decide(named) for a peer that wants a name: the full name (alive@its host)
    // and creation it is given.
    void assign_peer_name(std::string name, std::uint32_t creation);

    const HandshakePeer& peer() const { return peer_; }
    // Initiator with ask_for_name: what the peer named us, once its status arrived.
    const std::optional<AssignedName>& assigned() const { return assigned_; }
    std::uint64_t negotiated_flags() const { return settings_.offered_flags & peer_.flags; }
    const HandshakeFailure& failure() const { return failure_; }
    bool is_initiator() const { return initiator_; }

  private:
    enum class Step {
        // acceptor
        await_name,
        await_decision,
        await_alive_answer,
        await_complement,
        await_reply,
        // initiator
        await_status,
        await_alive_decision,
        await_challenge,
        await_ack,
        done,
        broken,
    };

    Handshake(HandshakeSettings settings, bool initiator);
    Event on_message(std::span<const std::uint8_t> message);
    Event on_name(std::span<const std::uint8_t> m);
    Event on_alive_answer(std::span<const std::uint8_t> m);
    Event on_complement(std::span<const std::uint8_t> m);
    Event on_reply(std::span<const std::uint8_t> m);
    Event on_status(std::span<const std::uint8_t> m);
    Event on_named(std::span<const std::uint8_t> m);
    Event on_challenge(std::span<const std::uint8_t> m);
    Event on_ack(std::span<const std::uint8_t> m);
    void send_challenge();
    void queue(std::span<const std::uint8_t> message);
    Event fail(HandshakeErrc code, std::string detail);
    std::string cookie() const;

    HandshakeSettings settings_;
    bool initiator_;
    Step step_;
    std::string dialled_;
    HandshakePeer peer_;
    std::uint32_t our_challenge_ = 0;
    std::uint32_t peer_challenge_ = 0;
    bool old_send_name_ = false;
    std::optional<AssignedName> assigned_;
    std::vector<std::uint8_t> output_;
    HandshakeFailure failure_;
};

// MD5(cookie ++ decimal(challenge)), the proof that a side knows the cookie.
std::array<std::uint8_t, 16> handshake_digest(std::string_view cookie, std::uint32_t challenge);

}  // namespace distribute::wire

template <>
struct std::is_error_code_enum<distribute::wire::HandshakeErrc> : std::true_type {};
