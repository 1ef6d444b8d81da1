// Calls across the cluster, both ways. From C++: gen_server calls and casts to any process that
// speaks gen_server (a BEAM's, an Elixir GenServer, a C++ one), and erpc-style remote calls into
// BEAM modules. For the BEAM: C++ functions registered by module, function and arity, which
// rpc:call, erpc:call, erpc:cast, rpc:multicall and the old rex protocol reach as if the module
// were loaded on this node.
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

#include "distribute/expected.hpp"
#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"
#include "distribute/term.hpp"

namespace distribute {

namespace otp {
class RpcServer;
}

// ---------------------------------------------------------------------------------------------
// gen_server calls from C++

// What a gen_server call or cast goes to, as gen_server:call takes it: a pid, a name registered
// on this node, {Name, Node}, or {global, Name}.
struct ServerRef {
    ServerRef(const Pid& pid) : pid(pid) {}
    ServerRef(Atom name) : name(name) {}
    ServerRef(Atom name, Atom node) : name(name), node(node) {}
    // {global, Name}: whichever process global has under `name` when the call is made (a call
    // to a name nobody has fails with noproc, a cast to it goes nowhere, as in gen_server).
    static ServerRef global(Term name);

    // A pid, an atom, {global, Name} or {Name, Node}, as Erlang code passes a server; nullopt for
    // anything else.
    static std::optional<ServerRef> from_term(const Term& term);

    std::optional<Pid> pid;           // set: the server by pid
    std::optional<Term> global_name;  // set: the server by its global name
    Atom name;                        // otherwise: its registered name...
    std::optional<Atom> node;         // ...on this node (nullopt) or on `node`
};

enum class CallErrc {
    timeout = 1,  // no reply in time; a reply that comes later is dropped
    noproc,       // no such process or name (the monitor said noproc)
    nodedown,     // the server's node could not be reached or went down during the call
    exited,       // the server ended during the call; CallError::reason is its exit reason
};
const std::error_category& call_category() noexcept;
std::error_code make_error_code(CallErrc e) noexcept;

struct CallError {
    CallErrc code{};
    // What gen_server:call would exit with: timeout, noproc, {nodedown, Node}, or the server's
    // exit reason.
    Term reason;
    std::string detail;
};

inline constexpr std::chrono::milliseconds default_call_timeout{5000};

// {'$gen_call', {Pid, Tag}, Request} as a gen_server receives it: the caller, the tag its reply
// must carry, and the request; nullopt for other terms. For processes that serve calls without
// being an actor (an actor gets a From).
struct GenCall {
    Pid caller;
    Term tag;
    Term request;
};
std::optional<GenCall> parse_gen_call(const Term& message);

// gen_server:call: monitors the server, sends {'$gen_call', {Self, Tag}, Request} and waits for
// {Tag, Reply} or the monitor's DOWN. Tag is [alias | Alias] with a fresh alias of `self`, as in
// OTP 24 on: once the call returns the alias is gone, so a reply that comes too late is dropped
// by the node instead of landing in the mailbox. Other messages stay queued, in order.
[[nodiscard]] Expected<Term, CallError> call(
    Mailbox& self, const ServerRef& server, Term request,
    std::chrono::milliseconds timeout = default_call_timeout);
// The same from a temporary mailbox: for a caller that has no process of its own.
[[nodiscard]] Expected<Term, CallError> call(
    Node& node, const ServerRef& server, Term request,
    std::chrono::milliseconds timeout = default_call_timeout);
// gen_server:cast: {'$gen_cast', Request}, sent and forgotten; never fails.
void cast(const ProcessHandle& self, const ServerRef& server, Term request);

// ---------------------------------------------------------------------------------------------
// Remote calls from C++ (erpc)

enum class RpcErrc {
    timeout = 1,  // no result in time; the remote process is left to finish, as erpc leaves it
    nodedown,     // the node could not be reached, or the connection went down during the call
    undef,        // the node has no such Module:Function/Arity
    exception,    // the function raised: RpcError::kind and reason say how, stack where
    refused,      // the node refused the spawn (RpcError::reason: notsup, badopt, ...)
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
struct std::is_error_code_enum<distribute::CallErrc> : std::true_type {};
template <>
struct std::is_error_code_enum<distribute::RpcErrc> : std::true_type {};
