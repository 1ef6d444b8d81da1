// Subscribers and the ordered delivery of events to them, for the modules that report what
// happens (discovery, cluster membership, circuit breakers, settings). The owner pushes events in
// the order they happen (under its own lock, so that order is its state's order) and calls
// deliver() once it has let go of that lock: whichever thread holds the delivery lock drains the
// queue, so subscribers see the events in order, one at a time, never under the owner's lock.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace distribute::support {

template <class Event>
class EventQueue {
  public:
    using Callback = std::function<void(const Event&)>;

    std::uint64_t subscribe(Callback callback) {
        std::lock_guard lock(mutex_);
        const auto id = next_++;
        subscribers_.emplace_back(id, std::move(callback));
        return id;
    }
    // A delivery already under way on another thread may still reach the callback.
    void unsubscribe(std::uint64_t id) {
        std::lock_guard lock(mutex_);
        std::erase_if(subscribers_, [id](const auto& entry) { return entry.first == id; });
    }

    void push(Event event) {
        std::lock_guard lock(mutex_);
        if (!closed_) pending_.push_back(std::move(event));
    }

    // Delivers what is queued, and what others queue meanwhile, in order. A callback may push
    // and deliver again (the delivery lock is recursive): the inner call finds the queue being
    // drained and returns.
    void deliver() {
        std::lock_guard order(delivery_);
        if (delivering_) return;
        delivering_ = true;
        for (;;) {
            Event event;
            std::vector<Callback> callbacks;
            {
                std::lock_guard lock(mutex_);
                if (pending_.empty()) break;
                event = std::move(pending_.front());
                pending_.pop_front();
                for (auto& [id, callback] : subscribers_)
                    callbacks.push_back(callback);
            }
            for (auto& callback : callbacks)
                callback(event);
        }
        delivering_ = false;
    }

    // Drops what is queued; nothing is delivered afterwards. Waits for a delivery under way on
    // another thread (called from a callback, it returns at once).
    void close() {
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
            pending_.clear();
            subscribers_.clear();
        }
        std::lock_guard order(delivery_);
    }

  private:
    std::mutex mutex_;
    std::recursive_mutex delivery_;
    bool delivering_ = false;  // under delivery_
    bool closed_ = false;
    std::deque<Event> pending_;
    std::vector<std::pair<std::uint64_t, Callback>> subscribers_;
    std::uint64_t next_ = 1;
};

}  // namespace distribute::support
