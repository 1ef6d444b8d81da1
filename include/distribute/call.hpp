// gen_server calls from C++: one engine for gen's call protocol (OTP 25's gen.erl) behind every
// way of waiting for the answer. A call monitors the server with a monitor that is also an alias
// of the caller, sends {'$gen_call', {Self, [alias | Ref]}, Request}, and ends with the reply or
// with what the monitor's 'DOWN' says; once the caller stops waiting the alias is gone, so a reply
// that comes later is dropped by the node instead of landing in the mailbox.
//
// Ways to wait, none of which holds a thread but the first:
//   call(mailbox, server, request, timeout)         a plain thread blocks (C-node style)
//   send_request / check_response / receive_response / wait_response, and collections of
//   request ids: as gen_server offers them, for handlers and actors (check_response in
//   handle_info) and for threads
//   co_await call(self, server, request, timeout)   in a coroutine process (coroutine.hpp)
//   Actor::call_async                               an actor's callback runs with the answer
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "distribute/codec.hpp"
#include "distribute/coroutine.hpp"
#include "distribute/error.hpp"
#include "distribute/expected.hpp"
#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"
#include "distribute/server_ref.hpp"
#include "distribute/term.hpp"

namespace distribute {

enum class CallErrc {
    timeout = 1,  // no reply in time; a reply that comes later is dropped
    noproc,       // no such process or name (the monitor said noproc)
    nodedown,     // the server's node could not be reached or went down during the call
    exited,       // the server ended during the call; CallError::reason is its exit reason
    // The calling process was ended by an exit signal while it waited: `reason`.
    caller_exited,
    // A call that would block, made on one of a node's threads (in a handler or an actor's
    // callback): it fails at once. Use send_request, call_async or a coroutine there.
    node_thread,
    no_request,     // receive_response or wait_response on an empty collection
    encode_failed,  // request<T>: the request cannot be encoded (detail says why)
    too_large,      // request<T>: the encoded request is larger than the limit
    bad_reply,      // request<T>: the reply does not decode as asked (see `codec`)
    circuit_open,   // request<T>: SendOptions::breakers has the node's breaker open; not sent
};
const std::error_category& call_category() noexcept;
std::error_code make_error_code(CallErrc e) noexcept;

struct CallError {
    CallErrc code{};
    // What gen_server:call would exit with: timeout, noproc, {nodedown, Node}, or the server's
    // exit reason; for bad_reply the reply.
    Term reason;
    std::string detail;
    std::optional<CodecError> codec;  // bad_reply
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

// ---------------------------------------------------------------------------------------------
// Blocking, for plain threads

// gen_server:call. Other messages of `self` stay queued, in order.
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
// Across nodes, as gen_server:multi_call/4 and abcast/3

// What multi_call gives back, as gen_server:multi_call's {Replies, BadNodes}.
struct MultiCallResult {
    std::vector<std::pair<Atom, Term>> replies;  // {Node, Reply}, in the order they came
    // No process `name` there, the node unreachable or gone during the call, or no answer
    // before the timeout.
    std::vector<Atom> bad_nodes;
};

// Calls the server registered as `name` on each of `nodes` at once (gen_server's wire shape, so
// a BEAM gen_server, a C++ actor or anything that answers '$gen_call' takes part) and waits for
// all of them, at most `timeout` in all. Fails only when it may not wait (node_thread) or its
// temporary process was ended (caller_exited): a node that fails is a bad node, not an error.
[[nodiscard]] Expected<MultiCallResult, CallError> multi_call(
    Node& node, const std::vector<Atom>& nodes, Atom name, Term request,
    std::chrono::milliseconds timeout = infinity_timeout);

// {'$gen_cast', Request} to `name` on each of `nodes`, sent and forgotten, as gen_server:abcast.
void abcast(const ProcessHandle& self, const std::vector<Atom>& nodes, Atom name, Term request);

// ---------------------------------------------------------------------------------------------
// Request ids, as gen_server:send_request/2 and its companions

// A call in flight: the reference that is the monitor on the server and the alias the reply
// comes to. Copyable; only the process that sent it may take its answer.
class RequestId {
  public:
    const Reference& ref() const { return ref_; }
    friend bool operator==(const RequestId& a, const RequestId& b) { return a.ref_ == b.ref_; }

    // For the engine: the server's node (for nodedown) and whether the server was found
    // through a name service (its node going down then reads as noproc, as in gen).
    RequestId(Reference ref, Atom node, bool by_registry)
        : ref_(std::move(ref)), node_(node), by_registry_(by_registry) {}
    Atom node() const { return node_; }
    bool by_registry() const { return by_registry_; }

  private:
    Reference ref_;
    Atom node_;
    bool by_registry_ = false;
};

// Sends the request and returns at once. A server that cannot be found (a name nobody has in
// its name service) gives an id whose answer is already queued: a 'DOWN' with noproc.
[[nodiscard]] RequestId send_request(const ProcessHandle& self, const ServerRef& server,
                                     Term request);
// What `message` (one the process received, in a handler's or actor's handle_info) is to the
// request: nullopt when it is not its answer; otherwise the reply or the error. Call it from the
// process itself.
std::optional<Expected<Term, CallError>> check_response(const ProcessHandle& self,
                                                        const Term& message, const RequestId& id);
// Waits for the answer. On a timeout the request is abandoned (a later reply is dropped), as
// gen_server:receive_response does.
[[nodiscard]] Expected<Term, CallError> receive_response(
    Mailbox& self, const RequestId& id, std::chrono::milliseconds timeout = infinity_timeout);
// The same, but a timeout leaves the request in flight (gen_server:wait_response): wait again,
// or abandon it with abandon_request.
[[nodiscard]] Expected<Term, CallError> wait_response(
    Mailbox& self, const RequestId& id, std::chrono::milliseconds timeout = infinity_timeout);
// Gives up on the request: no answer reaches the process after this.
void abandon_request(const ProcessHandle& self, const RequestId& id);

// Request ids with a label each (gen_server:reqids_new/0 and the rest), to wait for whichever
// answer comes first.
class RequestIdCollection {
  public:
    // false when the id is in the collection already (gen's reqids_add raises badarg).
    bool add(const RequestId& id, Term label);
    bool remove(const RequestId& id);
    std::size_t size() const { return requests_.size(); }
    bool empty() const { return requests_.empty(); }
    // {RequestId, Label} pairs, in no particular order.
    std::vector<std::pair<RequestId, Term>> to_list() const;

    struct Entry {
        RequestId id;
        Term label;
    };
    // The request a message answers, if any of these.
    const Entry* find_answered(const Term& message) const;

  private:
    struct Hash {
        std::size_t operator()(const Reference& r) const noexcept;
    };
    std::unordered_map<Reference, Entry, Hash> requests_;
};

// One answer out of a collection: its outcome and the label it was added with.
struct CollectedResponse {
    Expected<Term, CallError> result;
    Term label;
};
// nullopt when `message` answers none of the collection's requests. With `remove`, the request
// answered leaves the collection.
std::optional<CollectedResponse> check_response(const ProcessHandle& self, const Term& message,
                                                RequestIdCollection& requests, bool remove = true);
// The first answer to any of the requests; CallErrc::no_request for an empty collection,
// CallErrc::timeout when none came in time (receive_response then abandons them all and empties
// the collection; wait_response keeps them).
[[nodiscard]] Expected<CollectedResponse, CallError> receive_response(
    Mailbox& self, RequestIdCollection& requests, std::chrono::milliseconds timeout,
    bool remove = true);
[[nodiscard]] Expected<CollectedResponse, CallError> wait_response(
    Mailbox& self, RequestIdCollection& requests, std::chrono::milliseconds timeout,
    bool remove = true);

// ---------------------------------------------------------------------------------------------
// In coroutine processes

// co_await call(self, server, request, timeout): Expected<Term, CallError>; co_await
// receive_response(self, id, timeout) the same for a request sent earlier.
class [[nodiscard]] CallAwaiter final : public coroutine_detail::Wait {
  public:
    CallAwaiter(const CoProcess& self, RequestId id, std::chrono::milliseconds timeout,
                bool abandon_on_timeout);
    bool accepts(const Term& message) override;
    Expected<Term, CallError> await_resume();

  private:
    ProcessHandle self_;
    RequestId id_;
    bool abandon_on_timeout_;
};

[[nodiscard]] CallAwaiter call(const CoProcess& self, const ServerRef& server, Term request,
                               std::chrono::milliseconds timeout = default_call_timeout);
[[nodiscard]] CallAwaiter receive_response(const CoProcess& self, const RequestId& id,
                                           std::chrono::milliseconds timeout = infinity_timeout);

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::CallErrc> : std::true_type {};
