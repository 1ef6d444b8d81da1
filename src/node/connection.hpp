// The node's view of one peer: a logical connection that exists from the first attempt to reach
// the peer (or the peer's first handshake message) until it goes down. Sends made while it is
// still being set up queue here in order and go out when it comes up, as on the BEAM. A
// simultaneous connect may swap the session underneath; the connection, its id and its queue stay.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "distribute/node.hpp"
#include "distribute/term.hpp"
#include "net/session.hpp"
#include "wire/control.hpp"

namespace distribute::node {

class Connection {
  public:
    enum class State { connecting, up };

    Connection(Atom peer, std::uint64_t id) : peer(peer), id(id) {}

    enum class Sent {
        accepted,  // out now, or queued until the connection is up
        down,      // the connection is down: the control goes nowhere
        // The peer did not offer a flag this control needs (wire::peer_takes): it is not sent,
        // and the runtime emulates what the BEAM does instead (Runtime::not_offered).
        not_offered,
    };

    // Any thread: out now when up, queued while connecting, and only when the peer takes it
    // (wire/capabilities.hpp; queued ones are checked when the flags are known). `down`: a
    // caller that recorded a link or monitor over this connection must fire it itself, since the
    // sweep of connection_down may have run already.
    Sent send(const wire::Control& control);

    struct Up {
        std::vector<std::function<void(bool)>> waiters;  // to call with true
        std::vector<wire::Control> not_offered;          // queued controls the peer cannot take
    };
    // Up: flushes the queue through `session` before any later send.
    Up mark_up(std::shared_ptr<net::Session> carrier, bool hidden, std::uint32_t creation);
    // The flags agreed with the peer; 0 until the connection is up.
    std::uint64_t negotiated() const;
    // Down or never up: marks it down and returns the waiters to call with false.
    std::vector<std::function<void(bool)>> take_waiters();
    // Why it never came up, recorded before the waiters are called; `otherwise` when nothing
    // more precise was recorded.
    void set_failure(NodeError why);
    NodeError failure_or(NodeError otherwise) const;

    const Atom peer;
    // Links and monitors remember the id of the connection they crossed: when it goes down,
    // exactly those fire noconnection, not ones made over a later connection to the same node.
    const std::uint64_t id;

    // Guarded by the registry's mutex: which session carries the connection, whether our own
    // dial is still under way, and whether the peer's name is one this node gave it (with the
    // creation it got), to be given again once the connection is gone.
    std::shared_ptr<net::Session> session;
    bool dialling = false;
    bool named_by_us = false;
    std::uint32_t given_creation = 0;

    mutable std::mutex mutex;  // guards the rest
    State state = State::connecting;
    bool down = false;
    std::shared_ptr<net::Session> carrier;  // the session sends go through, once up
    std::uint64_t flags = 0;                // negotiated, once up
    bool hidden = false;
    std::uint32_t peer_creation = 0;
    std::vector<wire::Control> queued;
    std::vector<std::function<void(bool)>> waiters;  // connect() callers: true once up
    std::optional<NodeError> failure;
};

}  // namespace distribute::node
