#include "node/connection.hpp"

namespace distribute::node {

bool Connection::send(const wire::Control& control) {
    std::shared_ptr<net::Session> session;
    {
        std::lock_guard lock(mutex);
        if (down) return false;
        if (state != State::up) {
            queued.push_back(control);
            return true;
        }
        session = carrier;
    }
    // Outside the lock: the session may hold a sender back while its queue is full, and other
    // senders (the node's own threads among them) must not wait on this mutex meanwhile. Each
    // sender's signals stay in order; the queue was flushed before `up` was set.
    session->send(control);
    return true;
}

std::vector<std::function<void(bool)>> Connection::mark_up(std::shared_ptr<net::Session> session,
                                                           bool peer_hidden,
                                                           std::uint32_t creation) {
    std::lock_guard lock(mutex);
    carrier = std::move(session);
    hidden = peer_hidden;
    peer_creation = creation;
    for (auto& control : queued)
        carrier->send(control);
    queued.clear();
    queued.shrink_to_fit();
    state = State::up;
    return std::move(waiters);
}

std::vector<std::function<void(bool)>> Connection::take_waiters() {
    std::lock_guard lock(mutex);
    down = true;
    queued.clear();
    return std::move(waiters);
}

bool Connection::add_crossing(std::uint64_t key, std::weak_ptr<Process> process) {
    std::lock_guard lock(mutex);
    if (down) return false;
    crossing.try_emplace(key, std::move(process));
    return true;
}

void Connection::remove_crossing(std::uint64_t key) {
    std::lock_guard lock(mutex);
    crossing.erase(key);
}

std::unordered_map<std::uint64_t, std::weak_ptr<Process>> Connection::take_crossing() {
    std::lock_guard lock(mutex);
    down = true;
    queued.clear();
    return std::move(crossing);
}

}  // namespace distribute::node
