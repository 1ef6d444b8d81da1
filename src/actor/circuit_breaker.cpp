// Per-peer circuit breakers: closed, open after N failures in a row, half-open after a delay,
// closed again after M successes.
#include "distribute/messaging.hpp"

namespace distribute {

std::string_view to_string(BreakerState state) {
    switch (state) {
        case BreakerState::closed:
            return "closed";
        case BreakerState::open:
            return "open";
        case BreakerState::half_open:
            return "half_open";
    }
    return "?";
}

PeerBreakers::PeerBreakers(BreakerOptions options, std::function<Clock::time_point()> now)
    : options_(options), now_(now ? std::move(now) : [] { return Clock::now(); }) {
    if (options_.failures_to_open == 0) options_.failures_to_open = 1;
    if (options_.successes_to_close == 0) options_.successes_to_close = 1;
    if (options_.half_open_trials == 0) options_.half_open_trials = 1;
}

void PeerBreakers::move_to(Breaker& b, Atom node, BreakerState to, std::string reason,
                           std::vector<BreakerTransition>& out) {
    out.push_back({node, b.stats.state, to, std::move(reason)});
    b.stats.state = to;
    b.trials = 0;
    b.stats.half_open_successes = 0;
    if (to == BreakerState::open) {
        b.opened_at = now_();
        ++b.stats.opened;
    }
    if (to == BreakerState::closed) b.stats.consecutive_failures = 0;
}

bool PeerBreakers::allow(Atom node) {
    std::lock_guard order(delivery_);  // transitions reach subscribers in the order made
    std::vector<BreakerTransition> changes;
    bool allowed = true;
    {
        std::lock_guard lock(mutex_);
        auto& b = breakers_[node.index()];
        if (b.stats.state == BreakerState::open && now_() - b.opened_at >= options_.open_for)
            move_to(b, node, BreakerState::half_open,
                    "open for " + std::to_string(options_.open_for.count()) + " ms", changes);
        switch (b.stats.state) {
            case BreakerState::closed:
                break;
            case BreakerState::open:
                allowed = false;
                break;
            case BreakerState::half_open:
                allowed = b.trials < options_.half_open_trials;
                if (allowed) ++b.trials;
                break;
        }
        if (!allowed) ++b.stats.rejected;
    }
    notify(changes);
    return allowed;
}

void PeerBreakers::record_success(Atom node) {
    std::lock_guard order(delivery_);  // transitions reach subscribers in the order made
    std::vector<BreakerTransition> changes;
    {
        std::lock_guard lock(mutex_);
        auto& b = breakers_[node.index()];
        b.stats.consecutive_failures = 0;
        if (b.stats.state == BreakerState::half_open) {
            if (b.trials > 0) --b.trials;
            if (++b.stats.half_open_successes >= options_.successes_to_close)
                move_to(b, node, BreakerState::closed,
                        std::to_string(options_.successes_to_close) + " successes", changes);
        }
    }
    notify(changes);
}

void PeerBreakers::record_failure(Atom node, const std::string& why) {
    std::lock_guard order(delivery_);  // transitions reach subscribers in the order made
    std::vector<BreakerTransition> changes;
    {
        std::lock_guard lock(mutex_);
        auto& b = breakers_[node.index()];
        ++b.stats.consecutive_failures;
        if (b.stats.state == BreakerState::half_open)
            move_to(b, node, BreakerState::open, "a trial failed: " + why, changes);
        else if (b.stats.state == BreakerState::closed &&
                 b.stats.consecutive_failures >= options_.failures_to_open)
            move_to(b, node, BreakerState::open,
                    std::to_string(b.stats.consecutive_failures) + " failures in a row: " + why,
                    changes);
    }
    notify(changes);
}

void PeerBreakers::release(Atom node) {
    std::lock_guard lock(mutex_);
    auto& b = breakers_[node.index()];
    if (b.stats.state == BreakerState::half_open && b.trials > 0) --b.trials;
}

BreakerState PeerBreakers::state(Atom node) const {
    return stats(node).state;
}

BreakerStats PeerBreakers::stats(Atom node) const {
    std::lock_guard lock(mutex_);
    auto it = breakers_.find(node.index());
    if (it == breakers_.end()) return {};
    BreakerStats out = it->second.stats;
    // Reported as it would be decided now: an open breaker past its delay is half-open.
    if (out.state == BreakerState::open && now_() - it->second.opened_at >= options_.open_for)
        out.state = BreakerState::half_open;
    return out;
}

std::uint64_t PeerBreakers::subscribe(std::function<void(const BreakerTransition&)> callback) {
    std::lock_guard lock(mutex_);
    const auto id = next_subscriber_++;
    subscribers_.emplace_back(id, std::move(callback));
    return id;
}

void PeerBreakers::unsubscribe(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    std::erase_if(subscribers_, [id](const auto& entry) { return entry.first == id; });
}

void PeerBreakers::notify(const std::vector<BreakerTransition>& transitions) {
    if (transitions.empty()) return;
    std::vector<std::function<void(const BreakerTransition&)>> callbacks;
    {
        std::lock_guard lock(mutex_);
        for (auto& [id, callback] : subscribers_)
            callbacks.push_back(callback);
    }
    for (auto& transition : transitions)
        for (auto& callback : callbacks)
            callback(transition);
}

}  // namespace distribute
