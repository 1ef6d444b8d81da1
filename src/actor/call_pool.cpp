// Outbound calls to a service through a pool of callers: the pool bounds the calls in flight and
// the callers waiting, call() makes each call, the breakers skip nodes that keep failing.
#include <atomic>

#include "distribute/service_pool.hpp"
#include "node/access.hpp"

namespace distribute {

namespace {

const char* message_of(CallPoolErrc e) noexcept {
    switch (e) {
        case CallPoolErrc::busy:
            return "too many callers are waiting";
        case CallPoolErrc::wait_timeout:
            return "no caller came free in time";
        case CallPoolErrc::closed:
            return "the call pool is closed";
        case CallPoolErrc::circuit_open:
            return "the circuit breaker of every server's node is open";
        case CallPoolErrc::call_failed:
            return "the call failed";
    }
    return nullptr;
}

CallPoolErrc from_pool(PoolErrc code) {
    switch (code) {
        case PoolErrc::overloaded:
            return CallPoolErrc::busy;
        case PoolErrc::timeout:
            return CallPoolErrc::wait_timeout;
        case PoolErrc::closed:
        case PoolErrc::create_failed:  // a mailbox cannot be opened: the node has stopped
            return CallPoolErrc::closed;
    }
    return CallPoolErrc::closed;
}

std::optional<Atom> node_of(const ServerRef& server) {
    if (server.pid()) return server.pid()->node;
    return server.node();
}

}  // namespace

const std::error_category& call_pool_category() noexcept {
    static const ErrorCategory<CallPoolErrc> category("distribute.call_pool", message_of);
    return category;
}

std::error_code make_error_code(CallPoolErrc e) noexcept {
    return {static_cast<int>(e), call_pool_category()};
}

struct CallPool::Impl {
    Impl(Node& node, CallPoolOptions options)
        : options(std::move(options)),
          callers(
              node.io(), this->options.pool,
              [runtime = node::Access::shared(node)](auto done) {
                  if (runtime->stopped())
                      return done(
                          unexpected(PoolError{PoolErrc::create_failed, "the node stopped"}));
                  done(Mailbox(runtime->spawn_mailbox()));
              },
              // A caller whose process was killed is replaced.
              [](Mailbox& caller) { return caller.alive(); }) {}

    // The next server in turn whose breaker lets a call through; nullopt when none does.
    std::optional<ServerRef> next_server() {
        const std::size_t n = options.servers.size();
        const std::size_t start = turn.fetch_add(1);
        for (std::size_t i = 0; i < n; ++i) {
            const ServerRef& server = options.servers[(start + i) % n];
            auto node = node_of(server);
            if (!options.breakers || !node || options.breakers->allow(*node)) return server;
        }
        return std::nullopt;
    }

    CallPoolOptions options;
    Pool<Mailbox> callers;
    std::atomic<std::size_t> turn{0};
};

CallPool::CallPool(Node& node, CallPoolOptions options)
    : impl_(std::make_unique<Impl>(node, std::move(options))) {}

CallPool::~CallPool() = default;

Expected<Term, CallPoolError> CallPool::call(Term request) {
    if (impl_->options.servers.empty())
        return unexpected(CallPoolError{CallPoolErrc::closed, "the pool has no server", {}});
    auto caller = impl_->callers.acquire();
    if (!caller)
        return unexpected(
            CallPoolError{from_pool(caller.error().code), caller.error().detail, std::nullopt});
    auto server = impl_->next_server();
    if (!server)
        return unexpected(CallPoolError{CallPoolErrc::circuit_open,
                                        "every server's node has its circuit breaker open",
                                        std::nullopt});
    auto reply =
        distribute::call(**caller, *server, std::move(request), impl_->options.call_timeout);
    if (auto node = node_of(*server); node && impl_->options.breakers) {
        const bool failed = !reply && (reply.error().code == CallErrc::nodedown ||
                                       reply.error().code == CallErrc::timeout);
        if (failed)
            impl_->options.breakers->record_failure(*node, reply.error().detail);
        else
            impl_->options.breakers->record_success(*node);
    }
    if (!reply) {
        auto detail = reply.error().detail;
        return unexpected(
            CallPoolError{CallPoolErrc::call_failed, std::move(detail), std::move(reply).error()});
    }
    return std::move(*reply);
}

PoolStats CallPool::stats() const {
    return impl_->callers.stats();
}

void CallPool::close() {
    impl_->callers.close();
}

}  // namespace distribute
