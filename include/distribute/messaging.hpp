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
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "distribute/call.hpp"
#include "distribute/codec.hpp"
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
};
const std::error_category& send_category() noexcept;
std::error_code make_error_code(SendErrc e) noexcept;

struct SendError {
    SendErrc code{};
    std::string detail;  // what and where: "kv@host: cannot connect", "1048580 bytes > 1048576"
};

struct SendOptions {
    // The largest message accepted, counted as the external term format encodes it.
    std::size_t max_bytes = std::size_t{10} * 1024 * 1024;
    // How long a send to another node may wait for the connection to come up. The wait blocks
    // the calling thread: from an actor's callback, prefer the unchecked ProcessHandle::send.
    std::chrono::milliseconds connect_timeout{7000};
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
