#include "node/connection.hpp"

#include "wire/capabilities.hpp"

namespace distribute::node {

Connection::Sent Connection::send(const wire::Control& control) {
    std::shared_ptr<net::Session> session;
    {
        std::lock_guard lock(mutex);
        if (down) return Sent::down;
        if (state != State::up) {
            queued.push_back(control);
            return Sent::accepted;
        }
        if (!wire::peer_takes(control, flags)) return Sent::not_offered;
        session = carrier;
    }
    // Outside the lock: the session may hold a sender back while its queue is full, and other
    // senders (the node's own threads among them) must not wait on this mutex meanwhile. Each
    // sender's signals stay in order; the queue was flushed before `up` was set.
    session->send(control);
    return Sent::accepted;
}

Connection::Up Connection::mark_up(std::shared_ptr<net::Session> session, bool peer_hidden,
                                   std::uint32_t creation) {
    std::lock_guard lock(mutex);
    carrier = std::move(session);
    flags = carrier->negotiated();
    hidden = peer_hidden;
    peer_creation = creation;
    Up up;
    for (auto& control : queued) {
        if (wire::peer_takes(control, flags))
            carrier->send(control);
        else
            up.not_offered.push_back(std::move(control));
    }
    queued.clear();
    queued.shrink_to_fit();
    state = State::up;
    up.waiters = std::move(waiters);
    return up;
}

std::uint64_t Connection::negotiated() const {
    std::lock_guard lock(mutex);
    return state == State::up ? flags : 0;
}

std::vector<std::function<void(bool)>> Connection::take_waiters() {
    std::lock_guard lock(mutex);
    down = true;
    queued.clear();
    return std::move(waiters);
}

void Connection::set_failure(NodeError why) {
    std::lock_guard lock(mutex);
    failure = std::move(why);
}

NodeError Connection::failure_or(NodeError otherwise) const {
    std::lock_guard lock(mutex);
    return failure ? *failure : std::move(otherwise);
}

}  // namespace distribute::node
