// Calls across the cluster, both ways. From C++: gen_server calls and casts (call.hpp) to any
// process that speaks gen_server (a BEAM's, an Elixir GenServer, a C++ one), and erpc-style
// remote calls into BEAM modules. For the BEAM: C++ functions registered by module, function and
// arity, which rpc:call, erpc:call, erpc:cast, rpc:multicall and the old rex protocol reach as if
// the module were loaded on this node.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "distribute/call.hpp"
#include "distribute/error.hpp"
#include "distribute/expected.hpp"
#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"
#include "distribute/term.hpp"

namespace distribute {

namespace otp {
class RpcServer;
}

// ---------------------------------------------------------------------------------------------
// Remote calls from C++ (erpc)

enum class RpcErrc {
    timeout = 1,  // no result in time; the remote process is left to finish, as erpc leaves it
    nodedown,     // the node could not be reached, or the connection went down during the call
    undef,        // the node has no such Module:Function/Arity
    exception,    // the function raised: RpcError::kind and reason say how, stack where
    refused,      // the node refused the spawn (RpcError::reason: notsup, badopt, ...)
    // A blocking rpc on one of a node's threads: it fails at once (use a coroutine there).
    node_thread,
};
const std::error_category& rpc_category() noexcept;
std::error_code make_error_code(RpcErrc e) noexcept;

struct RpcError {
    RpcErrc code{};
    Atom kind;    // exception and undef: throw, error or exit
    Term reason;  // what was raised; for refused the spawn error, for timeout `timeout`
    Term stack;   // kind error: the stacktrace erpc returned, [{M, F, ArgsOrArity, Location}]
    std::string detail;
};

// erpc:call(Node, Module, Function, Args, Timeout): the result, or how it failed. A call to this
// node itself runs the function registered in rpc_registry(node).
[[nodiscard]] Expected<Term, RpcError> rpc(
    Node& node, Atom target, Atom module, Atom function, std::vector<Term> args,
    std::chrono::milliseconds timeout = default_call_timeout);
// erpc:cast: runs Module:Function(Args) on `target`, with no answer of any kind.
void rpc_cast(Node& node, Atom target, Atom module, Atom function, std::vector<Term> args);
// erpc:multicall: the same call on every node at once; one result per node, in the order given.
// `timeout` bounds the whole multicall, not each call.
[[nodiscard]] std::vector<Expected<Term, RpcError>> multicall(
    Node& node, const std::vector<Atom>& targets, Atom module, Atom function,
    std::vector<Term> args, std::chrono::milliseconds timeout = default_call_timeout);

// co_await rpc(self, target, module, function, args, timeout) in a coroutine process:
// Expected<Term, RpcError>, as the blocking rpc. A coroutine of the calling process (it runs
// when awaited), so it suspends with it and is destroyed with it.
[[nodiscard]] Task<Expected<Term, RpcError>> rpc(
    CoProcess self, Atom target, Atom module, Atom function, std::vector<Term> args,
    std::chrono::milliseconds timeout = default_call_timeout);

// ---------------------------------------------------------------------------------------------
// Being called from the BEAM

// An exception a registered function raises, as Erlang's three classes of exception. erpc:call
// re-raises it in the caller; rpc:call turns it into {badrpc, ...} as it does for Erlang code.
struct RpcRaise {
    Atom kind = atoms::error;  // throw, error or exit
    Term reason;
    // For error: the stacktrace the caller sees. Without one it is [{Module, Function, Arity,
    // []}], the shape a BEAM gives for a function that raises.
    std::optional<Term> stack;
};

[[nodiscard]] inline Unexpected<RpcRaise> rpc_error(Term reason) {
    return unexpected(RpcRaise{atoms::error, std::move(reason), std::nullopt});
}
[[nodiscard]] inline Unexpected<RpcRaise> rpc_throw(Term value) {
    return unexpected(RpcRaise{atoms::throw_, std::move(value), std::nullopt});
}
[[nodiscard]] inline Unexpected<RpcRaise> rpc_exit(Term reason) {
    return unexpected(RpcRaise{atoms::exit, std::move(reason), std::nullopt});
}

using RpcResult = Expected<Term, RpcRaise>;

// The answer of an asynchronous function, given later from any thread. Copies share one answer:
// the first complete() gives it and later ones are ignored (they return false). When the last
// copy goes without an answer the caller gets error rpc_no_reply rather than waiting forever.
class RpcReply {
  public:
    bool complete(RpcResult result) const;
    bool operator()(Term value) const { return complete(RpcResult(std::move(value))); }
    bool completed() const;

    struct State;

  private:
    friend class otp::RpcServer;
    explicit RpcReply(std::shared_ptr<State> state) : state_(std::move(state)) {}
    std::shared_ptr<State> state_;
};

// The functions this node serves to rpc:call, erpc:call, erpc:cast, rpc:multicall and rex. Each
// node has one, there from the start: a call for anything not in it gives undef exactly as a
// BEAM gives it for a module it does not have. Funs a caller sends are never run; only what is
// registered here is.
class RpcRegistry {
  public:
    // Runs on a pool of worker threads of its own, so a slow function holds up neither the
    // node's threads nor other calls (but a pool full of slow functions does hold up the next
    // call: register long waits with add_async).
    using Function = std::function<RpcResult(std::span<const Term> args)>;
    // Called on the node's threads: it must return quickly, leaving the work to a timer, another
    // process or another thread, and answer through `reply`.
    using AsyncFunction = std::function<void(std::vector<Term> args, RpcReply reply)>;

    // Where a synchronous function runs.
    enum class RunOn {
        workers,  // the worker pool: the function may block
        // One of the node's threads, with no hop to the pool and back: for functions that never
        // block and return in microseconds (a lookup, a computation). A blocking one here holds
        // up the node's other work.
        node_thread,
    };

    // Replaces what was registered under the same module, function and arity.
    void add(Atom module, Atom function, std::size_t arity, Function function_body,
             RunOn where = RunOn::workers);
    void add_async(Atom module, Atom function, std::size_t arity, AsyncFunction function_body);
    bool remove(Atom module, Atom function, std::size_t arity);
    bool contains(Atom module, Atom function, std::size_t arity) const;

    // Worker threads for synchronous functions (4 unless set). The pool starts with the first
    // synchronous call; after that the size is fixed and this returns false.
    bool set_worker_threads(unsigned count);

    RpcRegistry(const RpcRegistry&) = delete;
    RpcRegistry& operator=(const RpcRegistry&) = delete;
    ~RpcRegistry();

    struct State;

  private:
    friend class otp::RpcServer;
    RpcRegistry();
    std::shared_ptr<State> state_;
};

// The registry of `node`'s rpc functions.
RpcRegistry& rpc_registry(Node& node);

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::RpcErrc> : std::true_type {};
