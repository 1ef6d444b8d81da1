// A generic asynchronous resource pool: at most max_size resources (in use, idle and being made,
// counted together: the capacity is exact), handed out as leases that go back when they are
// dropped. Acquirers wait in a first-come, first-served queue of at most max_waiters, each with a
// timeout; one more gets `overloaded` at once, so an overloaded service sheds load instead of
// queueing without bound. Each checkout runs a health check; idle resources are closed after
// idle_timeout. Callbacks run on the io_context given, never under the pool's lock.
//
//   Pool<Connection> pool(io, {.max_size = 8}, [](auto done) { done(Connection::open()); },
//                         [](Connection& c) { return c.alive(); });
//   pool.async_acquire([](Expected<Pool<Connection>::Lease, PoolError> lease) {
//       if (lease) (*lease)->query("...");   // back in the pool when `lease` goes
//   });
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "distribute/error.hpp"
#include "distribute/expected.hpp"

namespace boost::asio {
class io_context;
}

namespace distribute {

enum class PoolErrc {
    timeout = 1,    // no resource came free within the acquire timeout
    overloaded,     // max_waiters acquirers wait already: refused at once (backpressure)
    closed,         // the pool was closed
    create_failed,  // making a resource failed: PoolError::detail says why
};
const std::error_category& pool_category() noexcept;
std::error_code make_error_code(PoolErrc e) noexcept;

using PoolError = CodedError<PoolErrc>;

struct PoolOptions {
    std::size_t max_size = 10;  // resources at most: in use, idle and being made
    // Acquirers waiting at most (one whose resource is still being made counts); one more is
    // refused at once.
    std::size_t max_waiters = 64;
    std::chrono::milliseconds acquire_timeout{5000};  // when acquire is given none
    // Idle resources unused this long are closed, down to min_idle. 0: never.
    std::chrono::milliseconds idle_timeout{60000};
    std::size_t min_idle = 0;
};

struct PoolStats {
    std::size_t max_size = 0;
    std::size_t size = 0;  // in_use + idle + creating + checking
    std::size_t in_use = 0;
    std::size_t idle = 0;
    std::size_t creating = 0;
    std::size_t checking = 0;  // being health-checked on their way out
    std::size_t waiting = 0;
    std::uint64_t acquired = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t rejected = 0;  // overloaded
    std::uint64_t created = 0;
    std::uint64_t create_failures = 0;
    std::uint64_t failed_checks = 0;
    std::uint64_t destroyed = 0;
};

namespace pool_detail {

class Core;

// The untyped part every Pool<T> shares (src/support/pool.cpp).
struct Hooks {
    using Made = std::function<void(Expected<std::shared_ptr<void>, PoolError>)>;
    std::function<void(Made)> create;
    std::function<bool(void*)> check;    // empty: every resource is healthy
    std::function<void(void*)> destroy;  // empty: dropping it is enough
};

// One checked-out resource; returns it to its pool when destroyed.
class Slot {
  public:
    Slot() = default;
    Slot(std::shared_ptr<Core> core, std::shared_ptr<void> object)
        : core_(std::move(core)), object_(std::move(object)) {}
    Slot(Slot&& other) noexcept = default;
    Slot& operator=(Slot&& other) noexcept;
    ~Slot();
    void* get() const { return object_.get(); }
    void discard() { discarded_ = true; }
    void release();

  private:
    std::shared_ptr<Core> core_;
    std::shared_ptr<void> object_;
    bool discarded_ = false;
};

std::shared_ptr<Core> make_core(boost::asio::io_context& io, PoolOptions options, Hooks hooks);
void async_acquire(const std::shared_ptr<Core>& core, std::chrono::milliseconds timeout,
                   std::function<void(Expected<Slot, PoolError>)> done);
// An idle resource taken on the calling thread (its check run there) when nobody waits; none
// when it would have to wait, be made, or failed its check.
std::optional<Slot> try_acquire(const std::shared_ptr<Core>& core);
PoolStats stats(const Core& core);
void close(Core& core);

}  // namespace pool_detail

template <class T>
class Pool {
  public:
    // Makes one resource and calls `done` once, from any thread, with it or why it failed:
    // PoolError{PoolErrc::create_failed, why}, which the acquirer waiting for it gets as it is.
    using Factory = std::function<void(std::function<void(Expected<T, PoolError>)> done)>;
    // Run on each checkout, outside the pool's lock: false closes the resource and the acquirer
    // gets another (keeping its place in the queue).
    using Check = std::function<bool(T&)>;
    // Run when a resource is closed (evicted, discarded, failed its check, the pool closed).
    using Destroy = std::function<void(T&)>;

    // A checked-out resource. Dropping it returns the resource; discard() first closes it
    // instead (it is broken).
    class Lease {
      public:
        Lease() = default;
        explicit Lease(pool_detail::Slot slot) : slot_(std::move(slot)) {}
        T& operator*() const { return *static_cast<T*>(slot_.get()); }
        T* operator->() const { return static_cast<T*>(slot_.get()); }
        explicit operator bool() const { return slot_.get() != nullptr; }
        void discard() { slot_.discard(); }
        // Returns it now rather than when the lease goes.
        void release() { slot_.release(); }

      private:
        pool_detail::Slot slot_;
    };

    Pool(boost::asio::io_context& io, PoolOptions options, Factory create, Check check = {},
         Destroy destroy = {})
        : options_(options),
          core_(pool_detail::make_core(
              io, options, hooks(std::move(create), std::move(check), std::move(destroy)))) {}
    // Closes the pool: waiters get `closed`; leases still out are closed when they come back.
    ~Pool() { close(); }
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    // `done` runs once on the io_context: a lease, or timeout, overloaded (at once), closed, or
    // create_failed (the waiter at the head of the queue gets a failed creation's error, so a
    // pool whose resources cannot be made fails fast instead of timing out).
    void async_acquire(std::function<void(Expected<Lease, PoolError>)> done,
                       std::optional<std::chrono::milliseconds> timeout = std::nullopt) {
        pool_detail::async_acquire(
            core_, timeout.value_or(options().acquire_timeout),
            [done = std::move(done)](Expected<pool_detail::Slot, PoolError> slot) {
                if (slot)
                    done(Lease(std::move(*slot)));
                else
                    done(unexpected(slot.error()));
            });
    }

    // Blocks the calling thread until a resource is there: at once, on this thread, when one is
    // idle and nobody waits; else until async_acquire answers. Not from one of the io_context's
    // threads when it has only one: the answer could never be delivered.
    [[nodiscard]] Expected<Lease, PoolError> acquire(
        std::optional<std::chrono::milliseconds> timeout = std::nullopt) {
        // An idle resource and nobody ahead: taken here, without a trip through the io_context.
        if (auto slot = pool_detail::try_acquire(core_)) return Lease(std::move(*slot));
        struct Wait {
            std::mutex mutex;
            std::condition_variable ready;
            std::optional<Expected<Lease, PoolError>> result;
        };
        auto wait = std::make_shared<Wait>();
        async_acquire(
            [wait](Expected<Lease, PoolError> lease) {
                std::lock_guard lock(wait->mutex);
                wait->result.emplace(std::move(lease));
                wait->ready.notify_one();
            },
            timeout);
        std::unique_lock lock(wait->mutex);
        wait->ready.wait(lock, [&] { return wait->result.has_value(); });
        return std::move(*wait->result);
    }

    PoolStats stats() const { return pool_detail::stats(*core_); }
    const PoolOptions& options() const { return options_; }
    void close() { pool_detail::close(*core_); }

  private:
    static pool_detail::Hooks hooks(Factory create, Check check, Destroy destroy) {
        pool_detail::Hooks h;
        h.create = [create = std::move(create)](pool_detail::Hooks::Made made) {
            create([made = std::move(made)](Expected<T, PoolError> value) {
                if (!value) return made(unexpected(value.error()));
                made(std::shared_ptr<void>(std::make_shared<T>(std::move(*value))));
            });
        };
        if (check)
            h.check = [check = std::move(check)](void* p) { return check(*static_cast<T*>(p)); };
        if (destroy)
            h.destroy = [destroy = std::move(destroy)](void* p) { destroy(*static_cast<T*>(p)); };
        return h;
    }

    PoolOptions options_;
    std::shared_ptr<pool_detail::Core> core_;
};

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::PoolErrc> : std::true_type {};
