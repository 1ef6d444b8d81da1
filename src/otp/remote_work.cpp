#include "otp/remote_work.hpp"

namespace distribute::otp {

RemoteWork::Ticket RemoteWork::begin(Atom peer, std::size_t limit) {
    {
        std::lock_guard lock(mutex_);
        std::size_t& count = by_peer_[peer.index()];
        if (count >= limit) return nullptr;
        ++count;
    }
    // The ticket points at the counter and keeps it alive: a call may finish after the node's
    // services are gone.
    return Ticket(static_cast<void*>(this),
                  [self = shared_from_this(), peer](void*) { self->end(peer); });
}

void RemoteWork::end(Atom peer) {
    std::lock_guard lock(mutex_);
    auto it = by_peer_.find(peer.index());
    if (it != by_peer_.end() && --it->second == 0) by_peer_.erase(it);
}

}  // namespace distribute::otp
