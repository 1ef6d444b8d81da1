// The untyped core of Pool<T>: the waiter queue, the count that keeps the capacity exact, health
// checks on checkout, creation for waiters, idle eviction. One mutex guards the state; every
// callback (the acquirer's, the factory, the check, destroy) runs outside it, on the io_context.
#include <exception>
#include <list>
#include <mutex>
#include <vector>

#include "distribute/pool.hpp"
#include "support/asio.hpp"

namespace distribute {

namespace asio = boost::asio;

namespace {

const char* message_of(PoolErrc e) noexcept {
    switch (e) {
        case PoolErrc::timeout:
            return "no resource came free in time";
        case PoolErrc::overloaded:
            return "too many acquirers are waiting";
        case PoolErrc::closed:
            return "the pool is closed";
        case PoolErrc::create_failed:
            return "a resource could not be made";
    }
    return nullptr;
}

}  // namespace

const std::error_category& pool_category() noexcept {
    static const ErrorCategory<PoolErrc> category("distribute.pool", message_of);
    return category;
}

std::error_code make_error_code(PoolErrc e) noexcept {
    return {static_cast<int>(e), pool_category()};
}

namespace pool_detail {

using Clock = std::chrono::steady_clock;
using Done = std::function<void(Expected<Slot, PoolError>)>;
using Actions = std::vector<std::function<void()>>;

class Core : public std::enable_shared_from_this<Core> {
  public:
    Core(asio::io_context& io, PoolOptions options, Hooks hooks)
        : io_(io),
          options_(options),
          hooks_(std::move(hooks)),
          strand_(asio::make_strand(io)),
          eviction_(strand_) {}

    asio::io_context& io() { return io_; }

    void start() {
        if (options_.idle_timeout.count() > 0)
            asio::post(strand_, [self = shared_from_this()] { self->schedule_eviction(); });
    }

    void acquire(std::chrono::milliseconds timeout, Done done) {
        Actions after;
        {
            std::lock_guard lock(mutex_);
            if (closed_) {
                post_error(std::move(done), PoolErrc::closed, "the pool is closed");
            } else if (waiters_.size() >= options_.max_waiters) {
                ++counters_.rejected;
                post_error(std::move(done), PoolErrc::overloaded,
                           std::to_string(waiters_.size()) + " acquirers wait already (the limit)");
            } else {
                auto waiter = std::make_shared<Waiter>(io_);
                waiter->done = std::move(done);
                waiter->position = waiters_.insert(waiters_.end(), waiter);
                arm(waiter, timeout);
                dispatch(after);
            }
        }
        run(after);
    }

    // On the calling thread: the newest idle resource when nobody waits, checked here.
    std::optional<Slot> try_take() {
        std::shared_ptr<void> object;
        {
            std::lock_guard lock(mutex_);
            if (closed_ || !waiters_.empty() || idle_.empty()) return std::nullopt;
            object = std::move(idle_.back().object);
            idle_.pop_back();
            ++checking_;
        }
        const bool healthy = check(object);
        Actions after;
        {
            std::lock_guard lock(mutex_);
            --checking_;
            if (healthy && !closed_) {
                ++in_use_;
                ++counters_.acquired;
            } else {
                ++counters_.destroyed;
                counters_.failed_checks += !healthy;
                after.push_back(destroyer(std::move(object)));
                dispatch(after);  // a waiter that came meanwhile may need a resource made
            }
        }
        run(after);
        if (!object) return std::nullopt;
        return Slot(shared_from_this(), std::move(object));
    }

    void give_back(std::shared_ptr<void> object, bool discarded) {
        Actions after;
        {
            std::lock_guard lock(mutex_);
            --in_use_;
            if (closed_ || discarded) {
                ++counters_.destroyed;
                after.push_back(destroyer(std::move(object)));
            } else {
                idle_.push_back({std::move(object), Clock::now()});
                dispatch(after);
            }
        }
        run(after);
    }

    PoolStats stats() const {
        std::lock_guard lock(mutex_);
        PoolStats out = counters_;
        out.max_size = options_.max_size;
        out.in_use = in_use_;
        out.idle = idle_.size();
        out.creating = creating_;
        out.checking = checking_;
        out.waiting = waiters_.size();
        out.size = size();
        return out;
    }

    void close() {
        Actions after;
        {
            std::lock_guard lock(mutex_);
            if (closed_) return;
            closed_ = true;
            for (auto& waiter : waiters_) {
                waiter->timer.cancel();
                waiter->queued = false;
                post_error(std::move(waiter->done), PoolErrc::closed, "the pool was closed");
            }
            waiters_.clear();
            for (auto& entry : idle_) {
                ++counters_.destroyed;
                after.push_back(destroyer(std::move(entry.object)));
            }
            idle_.clear();
        }
        asio::post(strand_, [self = shared_from_this()] { self->eviction_.cancel(); });
        for (auto& action : after)
            asio::post(io_, std::move(action));
    }

  private:
    struct Waiter {
        explicit Waiter(asio::io_context& io) : timer(io) {}
        Done done;
        asio::steady_timer timer;
        std::list<std::shared_ptr<Waiter>>::iterator position;
        bool queued = true;    // in waiters_; false while its resource is being checked
        bool expired = false;  // the timeout passed while it was not queued
    };
    struct IdleEntry {
        std::shared_ptr<void> object;
        Clock::time_point since;
    };

    std::size_t size() const { return in_use_ + idle_.size() + creating_ + checking_; }

    void arm(const std::shared_ptr<Waiter>& waiter, std::chrono::milliseconds timeout) {
        if (timeout == std::chrono::milliseconds::max()) return;
        waiter->timer.expires_after(timeout);
        waiter->timer.async_wait(
            [weak = weak_from_this(), waiter, timeout](const boost::system::error_code& e) {
                auto self = weak.lock();
                if (e || !self) return;
                std::lock_guard lock(self->mutex_);
                if (!waiter->done) return;
                if (!waiter->queued) {
                    waiter->expired = true;
                    return;
                }
                self->waiters_.erase(waiter->position);
                waiter->queued = false;
                ++self->counters_.timeouts;
                self->post_error(std::move(waiter->done), PoolErrc::timeout,
                                 "no resource within " + std::to_string(timeout.count()) + " ms");
            });
    }

    // Under the mutex: hands idle resources to waiters at the head of the queue, then starts
    // making resources for the waiters left, as far as the capacity allows.
    void dispatch(Actions& after) {
        while (!waiters_.empty() && !idle_.empty()) {
            auto waiter = waiters_.front();
            waiters_.pop_front();
            waiter->queued = false;
            auto object = std::move(idle_.back().object);  // the most recently used: warm
            idle_.pop_back();
            ++checking_;
            after.push_back([self = shared_from_this(), waiter, object = std::move(object)] {
                self->check_out(waiter, object);
            });
        }
        while (waiters_.size() > creating_ && size() < options_.max_size) {
            ++creating_;
            after.push_back([self = shared_from_this()] { self->create(); });
        }
    }

    // On the io_context: the health check, then the lease or another try for the waiter.
    void check_out(const std::shared_ptr<Waiter>& waiter, const std::shared_ptr<void>& object) {
        const bool healthy = check(object);
        Actions after;
        Done done;
        {
            std::lock_guard lock(mutex_);
            --checking_;
            if (closed_) {
                ++counters_.destroyed;
                after.push_back(destroyer(object));
                post_error(std::move(waiter->done), PoolErrc::closed, "the pool was closed");
            } else if (healthy) {
                ++in_use_;
                ++counters_.acquired;
                done = std::move(waiter->done);
            } else {
                ++counters_.failed_checks;
                ++counters_.destroyed;
                after.push_back(destroyer(object));
                requeue_front(waiter);
                dispatch(after);
            }
        }
        if (done) {
            waiter->timer.cancel();
            done(Slot(shared_from_this(), object));
        }
        run(after);
    }

    // Outside the mutex: the health check, an exception counting as a failure.
    bool check(const std::shared_ptr<void>& object) const {
        if (!hooks_.check) return true;
        try {
            return hooks_.check(object.get());
        } catch (const std::exception&) {
            return false;
        }
    }

    // Under the mutex: a waiter whose resource failed its check keeps its place at the head.
    void requeue_front(const std::shared_ptr<Waiter>& waiter) {
        if (waiter->expired) {
            ++counters_.timeouts;
            post_error(std::move(waiter->done), PoolErrc::timeout, "no healthy resource in time");
            return;
        }
        waiter->position = waiters_.insert(waiters_.begin(), waiter);
        waiter->queued = true;
    }

    void create() {
        auto made = [weak = weak_from_this()](Expected<std::shared_ptr<void>, PoolError> object) {
            if (auto self = weak.lock()) self->made(std::move(object));
        };
        try {
            hooks_.create(std::move(made));
        } catch (const std::exception& e) {
            this->made(unexpected(
                PoolError{PoolErrc::create_failed, std::string("the factory threw: ") + e.what()}));
        }
    }

    void made(Expected<std::shared_ptr<void>, PoolError> object) {
        Actions after;
        {
            std::lock_guard lock(mutex_);
            --creating_;
            if (!object) {
                ++counters_.create_failures;
                if (!waiters_.empty() && !closed_) {
                    auto waiter = waiters_.front();
                    waiters_.pop_front();
                    waiter->queued = false;
                    waiter->timer.cancel();
                    post_error(std::move(waiter->done), object.error().code, object.error().detail);
                }
            } else if (closed_) {
                ++counters_.destroyed;
                after.push_back(destroyer(std::move(*object)));
            } else {
                ++counters_.created;
                idle_.push_back({std::move(*object), Clock::now()});
            }
            if (!closed_) dispatch(after);
        }
        run(after);
    }

    // On the strand: closes what has been idle too long, oldest first, down to min_idle.
    void schedule_eviction() {
        const auto every = std::max(options_.idle_timeout / 4, std::chrono::milliseconds(10));
        eviction_.expires_after(every);
        eviction_.async_wait([weak = weak_from_this()](const boost::system::error_code& e) {
            auto self = weak.lock();
            if (e || !self) return;
            self->evict();
            self->schedule_eviction();
        });
    }

    void evict() {
        Actions after;
        {
            std::lock_guard lock(mutex_);
            if (closed_) return;
            const auto limit = Clock::now() - options_.idle_timeout;
            while (idle_.size() > options_.min_idle && idle_.front().since <= limit) {
                ++counters_.destroyed;
                after.push_back(destroyer(std::move(idle_.front().object)));
                idle_.erase(idle_.begin());
            }
        }
        run(after);
    }

    std::function<void()> destroyer(std::shared_ptr<void> object) {
        return [destroy = hooks_.destroy, object = std::move(object)] {
            if (destroy) destroy(object.get());
        };
    }

    void post_error(Done done, PoolErrc code, std::string detail) {
        if (!done) return;
        asio::post(io_, [done = std::move(done), error = PoolError{code, std::move(detail)}] {
            done(unexpected(error));
        });
    }

    // Outside the mutex, on the io_context.
    void run(Actions& actions) {
        for (auto& action : actions)
            asio::post(io_, std::move(action));
    }

    asio::io_context& io_;
    const PoolOptions options_;
    const Hooks hooks_;
    asio::strand<asio::io_context::executor_type> strand_;
    asio::steady_timer eviction_;

    mutable std::mutex mutex_;
    std::list<std::shared_ptr<Waiter>> waiters_;
    std::vector<IdleEntry> idle_;  // oldest first; checkouts take the newest
    std::size_t in_use_ = 0;
    std::size_t creating_ = 0;
    std::size_t checking_ = 0;
    bool closed_ = false;
    PoolStats counters_;
};

Slot& Slot::operator=(Slot&& other) noexcept {
    if (this != &other) {
        release();
        core_ = std::move(other.core_);
        object_ = std::move(other.object_);
        discarded_ = other.discarded_;
    }
    return *this;
}

Slot::~Slot() {
    release();
}

void Slot::release() {
    if (!core_ || !object_) return;
    auto core = std::move(core_);
    core->give_back(std::move(object_), discarded_);
    object_.reset();
}

std::shared_ptr<Core> make_core(asio::io_context& io, PoolOptions options, Hooks hooks) {
    auto core = std::make_shared<Core>(io, options, std::move(hooks));
    core->start();
    return core;
}

void async_acquire(const std::shared_ptr<Core>& core, std::chrono::milliseconds timeout,
                   std::function<void(Expected<Slot, PoolError>)> done) {
    // An idle resource and nobody ahead: taken now, and the callback deferred (from one of the
    // io_context's threads, it runs next on that thread: no other thread is woken for it).
    if (auto slot = core->try_take())
        return asio::defer(core->io(), [done = std::move(done), slot = std::move(*slot)]() mutable {
            done(std::move(slot));
        });
    core->acquire(timeout, std::move(done));
}

std::optional<Slot> try_acquire(const std::shared_ptr<Core>& core) {
    return core->try_take();
}

PoolStats stats(const Core& core) {
    return core.stats();
}

void close(Core& core) {
    core.close();
}

}  // namespace pool_detail

}  // namespace distribute
