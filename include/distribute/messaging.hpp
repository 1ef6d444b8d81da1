// Checked, typed sends: the layer above ProcessHandle::send (Erlang's `!`, which never fails).
// A checked send says why a message cannot go: the local process is not alive, the local name is
// not registered, the node cannot be reached, the value does not encode, or it is larger than the
// limit. Requests wait for a typed reply under a unique tag; a batch reports each item.
//
//   auto sent = send_typed(me, ServerRef("kv"_a, peer), Put{"k", 1});
//   if (!sent) std::cerr << sent.error().detail;     // network: cannot connect to kv@host ...
//   auto value = request<std::optional<std::int64_t>>(me, ServerRef("kv"_a), Get{"k"}, 5s);
//
// Messages go to a ServerRef (server_ref.hpp): a pid, a local name, {Name, Node}, or a name of a
// name service such as {global, Name}.
//
// What cannot be checked is not pretended: whether a name exists on another node is only known
// there (a send to {Name, Node} that connects succeeds even when Name is missing), as with `!`.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "distribute/call.hpp"
#include "distribute/codec.hpp"
#include "distribute/error.hpp"
#include "distribute/expected.hpp"
#include "distribute/mailbox.hpp"
#include "distribute/server_ref.hpp"
#include "distribute/term.hpp"

namespace distribute {

enum class SendErrc {
    no_such_name = 1,  // no process is registered under the name here
    not_alive,         // the pid is of this node but its process has ended (or an older node)
    network,           // the node cannot be connected
    encode_failed,     // the value cannot be made a term (a Codec threw)
    too_large,         // encoded, it is larger than SendOptions::max_bytes
    circuit_open,      // the node's circuit breaker is open: not tried (see PeerBreakers)
};
const std::error_category& send_category() noexcept;
std::error_code make_error_code(SendErrc e) noexcept;

// Its detail says what and where: "kv@host: cannot connect", "1048580 bytes > 1048576".
using SendError = CodedError<SendErrc>;

// ---------------------------------------------------------------------------------------------
// Circuit breakers, one per peer node

// Closed: requests go. Open: they fail at once with circuit_open, sparing the caller a connect
// or a timeout against a node that keeps failing. Half-open: after open_for, a few trial
// requests go; enough successes close the breaker, one failure opens it again.
enum class BreakerState { closed, open, half_open };
std::string_view to_string(BreakerState state);

struct BreakerOptions {
    unsigned failures_to_open = 5;  // consecutive failures (network, timeout) that open it
    std::chrono::milliseconds open_for{30000};  // then half-open
    unsigned successes_to_close = 2;            // in half-open
    unsigned half_open_trials = 1;              // requests let through at once in half-open
};

struct BreakerTransition {
    Atom node;
    BreakerState from{};
    BreakerState to{};
    std::string reason;  // "5 failures in a row: cannot connect ...", "2 successes"
};

struct BreakerStats {
    BreakerState state = BreakerState::closed;
    unsigned consecutive_failures = 0;
    unsigned half_open_successes = 0;
    std::uint64_t rejected = 0;  // requests refused while open
    std::uint64_t opened = 0;    // times it opened
};

// The breakers of every peer a program sends to, shared by the sends and requests that name it
// in SendOptions::breakers. Thread-safe.
class PeerBreakers {
  public:
    using Clock = std::chrono::steady_clock;
    explicit PeerBreakers(BreakerOptions options = {}, std::function<Clock::time_point()> now = {});

    // May a request to `node` go now? Counts a refusal. In half-open, at most half_open_trials
    // answers true until their outcomes are recorded.
    bool allow(Atom node);
    // The outcome of a request that allow() let through.
    void record_success(Atom node);
    void record_failure(Atom node, const std::string& why);
    // A request allow() let through ended telling nothing about the node (its caller was
    // killed): its half-open trial is given back.
    void release(Atom node);

    BreakerState state(Atom node) const;
    BreakerStats stats(Atom node) const;
    const BreakerOptions& options() const { return options_; }

    // Each state change, in the order they happen, called outside the breakers' state lock (a
    // callback may call allow() or stats()); keep it quick: requests wait while it runs.
    // Returns an id for unsubscribe.
    std::uint64_t subscribe(std::function<void(const BreakerTransition&)> callback);
    void unsubscribe(std::uint64_t id);

  private:
    struct Breaker {
        BreakerStats stats;
        Clock::time_point opened_at{};
        unsigned trials = 0;  // half-open requests out
    };
    void move_to(Breaker& b, Atom node, BreakerState to, std::string reason,
                 std::vector<BreakerTransition>& out);
    void notify(const std::vector<BreakerTransition>& transitions);

    BreakerOptions options_;
    std::function<Clock::time_point()> now_;
    std::recursive_mutex delivery_;  // taken before mutex_, held while subscribers run
    mutable std::mutex mutex_;
    std::unordered_map<std::uint32_t, Breaker> breakers_;  // by atom index
    std::vector<std::pair<std::uint64_t, std::function<void(const BreakerTransition&)>>>
        subscribers_;
    std::uint64_t next_subscriber_ = 1;
};

struct SendOptions {
    // The largest message accepted, counted as the external term format encodes it.
    std::size_t max_bytes = std::size_t{10} * 1024 * 1024;
    // How long a send to another node may wait for the connection to come up. The wait blocks
    // the calling thread: from an actor's callback, prefer the unchecked ProcessHandle::send.
    std::chrono::milliseconds connect_timeout{7000};
    // When set, a send or request to another node consults that node's breaker first (open:
    // circuit_open at once) and records its outcome. Local targets never do.
    std::shared_ptr<PeerBreakers> breakers{};
};

// A checked send of a term.
[[nodiscard]] Expected<void, SendError> send_checked(const ProcessHandle& from, const ServerRef& to,
                                                     Term message, const SendOptions& options = {});

// A checked send of a C++ value, encoded with Codec<T>.
template <class T>
[[nodiscard]] Expected<void, SendError> send_typed(const ProcessHandle& from, const ServerRef& to,
                                                   const T& value, const SendOptions& options = {});

// ---------------------------------------------------------------------------------------------
// Batches

struct BatchItem {
    ServerRef to;
    Term message;
};

struct BatchResult {
    std::size_t total = 0;
    std::size_t succeeded = 0;
    std::size_t failed = 0;
    std::vector<Expected<void, SendError>> results;  // one per item, in order
};

BatchResult send_batch(const ProcessHandle& from, std::span<const BatchItem> items,
                       const SendOptions& options = {});

template <class T>
BatchResult send_batch_typed(const ProcessHandle& from,
                             std::span<const std::pair<ServerRef, T>> items,
                             const SendOptions& options = {});

// ---------------------------------------------------------------------------------------------
// Request and reply

// A gen call (call.hpp) after the checks of a checked send: the size, and a target that can be
// reached. Errors are CallErrors: noproc for a local name nobody has or a dead local pid,
// nodedown for a node that cannot be connected, too_large, and those of the call itself.
[[nodiscard]] Expected<Term, CallError> request_term(Mailbox& me, const ServerRef& to, Term request,
                                                     std::chrono::milliseconds timeout,
                                                     const SendOptions& options = {});

// The same with a request encoded from a C++ value and the reply decoded as `Reply`
// (encode_failed, bad_reply with the CodecError).
template <class Reply, class Request>
[[nodiscard]] Expected<Reply, CallError> request(Mailbox& me, const ServerRef& to,
                                                 const Request& value,
                                                 std::chrono::milliseconds timeout,
                                                 const SendOptions& options = {});

// ---------------------------------------------------------------------------------------------
// Template definitions

namespace messaging_detail {
// The value encoded, or encode_failed with what the codec threw.
template <class T>
Expected<Term, SendError> encode_checked(const T& value) {
    try {
        return encode(value);
    } catch (const std::exception& e) {
        return unexpected(SendError{SendErrc::encode_failed, e.what()});
    }
}
}  // namespace messaging_detail

template <class T>
Expected<void, SendError> send_typed(const ProcessHandle& from, const ServerRef& to, const T& value,
                                     const SendOptions& options) {
    auto term = messaging_detail::encode_checked(value);
    if (!term) return unexpected(term.error());
    return send_checked(from, to, std::move(*term), options);
}

template <class T>
BatchResult send_batch_typed(const ProcessHandle& from,
                             std::span<const std::pair<ServerRef, T>> items,
                             const SendOptions& options) {
    BatchResult out;
    out.total = items.size();
    out.results.reserve(items.size());
    for (const auto& [to, value] : items) {
        auto sent = send_typed(from, to, value, options);
        ++(sent ? out.succeeded : out.failed);
        out.results.push_back(std::move(sent));
    }
    return out;
}

template <class Reply, class Request>
Expected<Reply, CallError> request(Mailbox& me, const ServerRef& to, const Request& value,
                                   std::chrono::milliseconds timeout, const SendOptions& options) {
    auto term = messaging_detail::encode_checked(value);
    if (!term)
        return unexpected(
            CallError{CallErrc::encode_failed, Term(), term.error().detail, std::nullopt});
    auto reply = request_term(me, to, std::move(*term), timeout, options);
    if (!reply) return unexpected(std::move(reply).error());
    auto decoded = decode<Reply>(*reply);
    if (!decoded)
        return unexpected(
            CallError{CallErrc::bad_reply, *reply, decoded.error().to_string(), decoded.error()});
    return std::move(*decoded);
}

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::SendErrc> : std::true_type {};
