// What stands behind RpcRegistry and RpcReply: the table of registered functions, looked up on
// every call, and the worker pool that runs the synchronous ones.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <tuple>
#include <variant>

#include "distribute/rpc.hpp"
#include "otp/worker_pool.hpp"

namespace distribute {

struct RpcRegistry::State {
    using Key = std::tuple<std::uint32_t, std::uint32_t, std::size_t>;  // module, function, arity
    struct Synchronous {
        RpcRegistry::Function body;
        RunOn where;
    };
    // Shared, so that a call already under way keeps its function if it is replaced meanwhile.
    using Entry = std::variant<std::shared_ptr<const Synchronous>,
                               std::shared_ptr<const RpcRegistry::AsyncFunction>>;

    std::optional<Entry> find(Atom module, Atom function, std::size_t arity) const;
    // Starts the pool on first use.
    void post(std::function<void()> job);
    void stop();

    mutable std::shared_mutex mutex;
    std::map<Key, Entry> functions;

    std::mutex pool_mutex;
    unsigned pool_size = 4;
    bool stopped = false;
    std::unique_ptr<otp::WorkerPool> pool;
};

struct RpcReply::State {
    explicit State(std::function<void(RpcResult)> finish) : finish(std::move(finish)) {}
    // Unanswered: the caller gets error rpc_no_reply now rather than its timeout later.
    ~State();
    bool complete(RpcResult result);

    std::atomic<bool> done{false};
    std::function<void(RpcResult)> finish;
};

}  // namespace distribute
