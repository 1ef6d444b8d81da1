// Pools of processes for services: many actors behind one registered name (callers on any node
// see one gen_server; the work spreads over the workers), and a bounded set of callers for the
// calls a program makes to a service on BEAM nodes (at most N calls in flight, waiting callers
// queued with a timeout, the rest refused at once, nodes with an open circuit breaker skipped).
//
//   auto workers = start_actor_pool(node, {.name = "resize"_a, .size = 8,
//                                          .make = [] { return std::make_unique<Resizer>(); }});
//   %% erl: gen_server:call({resize, 'cpp@host'}, {image, Bytes})
//
//   CallPool users(node, {.servers = {{"users"_a, "erl1@host"_a}, {"users"_a, "erl2@host"_a}},
//                         .pool = {.max_size = 16}});
//   auto user = users.call(tuple("get"_a, 42));
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "distribute/actor.hpp"
#include "distribute/error.hpp"
#include "distribute/expected.hpp"
#include "distribute/messaging.hpp"
#include "distribute/node.hpp"
#include "distribute/pool.hpp"
#include "distribute/rpc.hpp"

namespace distribute {

// ---------------------------------------------------------------------------------------------
// Actors behind one name

struct ActorPoolOptions {
    Atom name{};  // registered here: callers use Name or {Name, Node}
    std::size_t size = 4;
    std::function<std::unique_ptr<Actor>()> make{};  // each worker, at each (re)start
    // Worker restarts allowed within `period`, as a supervisor counts them; past it the pool
    // (its supervisor) exits with `shutdown`.
    int intensity = 5;
    std::chrono::milliseconds period{5000};
    // Messages held while no worker runs (all restarting); more are dropped and logged.
    std::size_t max_pending = 1000;
};

// The pool: a supervisor (one_for_one) of a router registered under the name and `size`
// workers. The router passes each message on unchanged to the worker with the fewest messages
// waiting (ties in turn), so a '$gen_call' is answered by the worker straight to the caller.
// What that costs: the caller monitors the router, not the worker, so a worker that crashes
// during a call leaves its caller to time out, as with any forwarding gen_server in Erlang.
class ActorPool {
  public:
    struct State;
    ActorPool(ProcessHandle supervisor, std::shared_ptr<State> state)
        : supervisor_(std::move(supervisor)), state_(std::move(state)) {}

    // Stop it to stop the pool (stop_process, or its parent supervisor).
    const ProcessHandle& supervisor() const { return supervisor_; }
    Pid router() const;
    // The workers running now, in start order.
    std::vector<Pid> workers() const;
    // Messages passed on so far, and dropped because no worker ran and max_pending were held.
    std::uint64_t forwarded() const;
    std::uint64_t dropped() const;

  private:
    ProcessHandle supervisor_;
    std::shared_ptr<State> state_;
};

// Fails as start_supervisor does; bad_options for a size of 0 or no `make`.
[[nodiscard]] Expected<ActorPool, StartError> start_actor_pool(Node& node,
                                                               ActorPoolOptions options);

// ---------------------------------------------------------------------------------------------
// Outbound calls to a service

enum class CallPoolErrc {
    busy = 1,      // PoolOptions::max_waiters callers wait already: refused at once
    wait_timeout,  // no caller came free within PoolOptions::acquire_timeout
    closed,        // the pool was closed
    circuit_open,  // the breaker of every server's node is open: nothing was sent
    call_failed,   // the call itself failed: CallPoolError::call says how
};
const std::error_category& call_pool_category() noexcept;
std::error_code make_error_code(CallPoolErrc e) noexcept;

struct CallPoolError {
    CallPoolErrc code{};
    std::string detail;
    std::optional<CallError> call;  // call_failed
};

struct CallPoolOptions {
    // The service: the same server on one or more nodes, called in turn.
    std::vector<ServerRef> servers{};
    // The callers: max_size calls in flight at most, max_waiters callers waiting for one.
    PoolOptions pool{};
    std::chrono::milliseconds call_timeout = default_call_timeout;
    // Shared with other senders when set: servers whose node's breaker is open are skipped, and
    // each call's outcome is recorded (nodedown and timeout are failures).
    std::shared_ptr<PeerBreakers> breakers{};
};

// Each call takes a caller (a process of this node, kept between calls) from a Pool, makes a
// gen_server call with the public call() API, and gives the caller back. Blocking: for plain
// threads, not for actors' callbacks.
class CallPool {
  public:
    CallPool(Node& node, CallPoolOptions options);
    ~CallPool();
    CallPool(const CallPool&) = delete;
    CallPool& operator=(const CallPool&) = delete;

    [[nodiscard]] Expected<Term, CallPoolError> call(Term request);
    PoolStats stats() const;
    void close();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::CallPoolErrc> : std::true_type {};
