// Checked sends and requests: the target classified before the message goes (a local process
// that is gone, a local name nobody has, a node that cannot be connected), the size measured as
// the external term format encodes it, and replies to requests taken by their tag.
#include "distribute/messaging.hpp"

#include <atomic>
#include <future>

#include "distribute/etf.hpp"
#include "node/access.hpp"

namespace distribute {

namespace {

node::Runtime& runtime_of(const ProcessHandle& h) {
    return node::Access::process(h).runtime;
}

// Blocks until the connection to `node` is up or has failed, at most `timeout`.
bool reachable(node::Runtime& runtime, Atom node, std::chrono::milliseconds timeout) {
    auto result = std::make_shared<std::promise<bool>>();
    auto answered = std::make_shared<std::atomic<bool>>(false);
    runtime.async_connect(node, [result, answered](const Expected<void, NodeError>& up) {
        if (!answered->exchange(true)) result->set_value(up.has_value());
    });
    auto future = result->get_future();
    if (future.wait_for(timeout) != std::future_status::ready) return false;
    return future.get();
}

// Why a message to `to` cannot go now, if it cannot.
std::optional<SendError> check_target(const ProcessHandle& from, const ServerRef& to,
                                      const SendOptions& options) {
    auto& runtime = runtime_of(from);
    if (runtime.stopped()) return SendError{SendErrc::network, "the node has stopped"};
    std::optional<Pid> pid;
    if (to.pid()) pid = *to.pid();
    if (auto registry = to.registry()) {
        pid = runtime.resolve(*registry, *to.registered_name());
        if (!pid)
            return SendError{SendErrc::no_such_name,
                             "no process is registered as " + to.to_string()};
    }
    Atom node;
    if (pid) {
        if (runtime.is_local(pid->node)) {
            auto process = runtime.find(*pid);
            if (pid->creation != runtime.creation() || !process || !ProcessHandle(process).alive())
                return SendError{SendErrc::not_alive, to.to_string() + " is not alive"};
            return std::nullopt;
        }
        node = pid->node;
    } else if (!to.node() || runtime.is_local(*to.node())) {
        if (!runtime.whereis(*to.name()))
            return SendError{SendErrc::no_such_name,
                             "no process is registered as " + std::string(to.name()->name())};
        return std::nullopt;
    } else {
        node = *to.node();
    }
    if (!reachable(runtime, node, options.connect_timeout))
        return SendError{SendErrc::network, "cannot connect to " + std::string(node.name()) +
                                                " for " + to.to_string()};
    return std::nullopt;
}

std::optional<SendError> check_size(const Term& message, const SendOptions& options) {
    if (options.max_bytes == std::numeric_limits<std::size_t>::max()) return std::nullopt;
    // Measured by encoding: the size is what the wire would carry, whichever node it goes to.
    std::vector<std::uint8_t> scratch;
    etf::encode_to(scratch, message);
    if (scratch.size() <= options.max_bytes) return std::nullopt;
    return SendError{SendErrc::too_large, "the message is " + std::to_string(scratch.size()) +
                                              " bytes encoded, more than the maximum of " +
                                              std::to_string(options.max_bytes)};
}

const char* message_of(SendErrc e) noexcept {
    switch (e) {
        case SendErrc::no_such_name:
            return "no process is registered under the name";
        case SendErrc::not_alive:
            return "the process is not alive";
        case SendErrc::network:
            return "the node cannot be reached";
        case SendErrc::encode_failed:
            return "the value cannot be encoded";
        case SendErrc::too_large:
            return "the message is larger than the maximum size";
        case SendErrc::circuit_open:
            return "the node's circuit breaker is open";
    }
    return nullptr;
}

// A send check that failed, as the call that did not start.
CallError from_send(SendError e, const ServerRef& to) {
    switch (e.code) {
        case SendErrc::no_such_name:
        case SendErrc::not_alive:
            return CallError{CallErrc::noproc, Term(atoms::noproc), std::move(e.detail),
                             std::nullopt};
        case SendErrc::network:
            return CallError{
                CallErrc::nodedown,
                tuple(Atom::make("nodedown").value(),
                      to.pid() ? to.pid()->node : to.node().value_or(atoms::undefined)),
                std::move(e.detail), std::nullopt};
        case SendErrc::encode_failed:
            return CallError{CallErrc::encode_failed, Term(), std::move(e.detail), std::nullopt};
        case SendErrc::too_large:
            return CallError{CallErrc::too_large, Term(), std::move(e.detail), std::nullopt};
        case SendErrc::circuit_open:
            return CallError{CallErrc::circuit_open, Term(), std::move(e.detail), std::nullopt};
    }
    return CallError{CallErrc::noproc, Term(), std::move(e.detail), std::nullopt};
}

// The other node a send or request goes to, when it goes to one.
std::optional<Atom> remote_node(const ProcessHandle& from, const ServerRef& to) {
    std::optional<Atom> node = to.pid() ? std::optional<Atom>(to.pid()->node) : to.node();
    if (!node || runtime_of(from).is_local(*node)) return std::nullopt;
    return node;
}

// The breaker's verdict before a send or request to another node: circuit_open when it is open.
std::optional<SendError> breaker_refuses(const ProcessHandle& from, const ServerRef& to,
                                         const SendOptions& options) {
    if (!options.breakers) return std::nullopt;
    auto node = remote_node(from, to);
    if (!node || options.breakers->allow(*node)) return std::nullopt;
    return SendError{SendErrc::circuit_open, "the circuit breaker of " + std::string(node->name()) +
                                                 " is open; " + to.to_string() + " not tried"};
}

// A failure is the node not answering (no connection, no reply in time); anything the node
// answered, even an error, shows it is there.
void record_outcome(const ProcessHandle& from, const ServerRef& to, const SendOptions& options,
                    bool failed, const std::string& why) {
    if (!options.breakers) return;
    auto node = remote_node(from, to);
    if (!node) return;
    if (failed)
        options.breakers->record_failure(*node, why);
    else
        options.breakers->record_success(*node);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Categories

const std::error_category& send_category() noexcept {
    static const ErrorCategory<SendErrc> category("distribute.send", message_of);
    return category;
}
std::error_code make_error_code(SendErrc e) noexcept {
    return {static_cast<int>(e), send_category()};
}

// ---------------------------------------------------------------------------------------------
// Sends

Expected<void, SendError> send_checked(const ProcessHandle& from, const ServerRef& to, Term message,
                                       const SendOptions& options) {
    if (auto e = check_size(message, options)) return unexpected(std::move(*e));
    if (auto e = breaker_refuses(from, to, options)) return unexpected(std::move(*e));
    if (auto e = check_target(from, to, options)) {
        record_outcome(from, to, options, e->code == SendErrc::network, e->detail);
        return unexpected(std::move(*e));
    }
    record_outcome(from, to, options, false, {});
    from.send(to, std::move(message));
    return {};
}

BatchResult send_batch(const ProcessHandle& from, std::span<const BatchItem> items,
                       const SendOptions& options) {
    BatchResult out;
    out.total = items.size();
    out.results.reserve(items.size());
    for (const auto& item : items) {
        auto sent = send_checked(from, item.to, item.message, options);
        ++(sent ? out.succeeded : out.failed);
        out.results.push_back(std::move(sent));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Requests

Expected<Term, CallError> request_term(Mailbox& me, const ServerRef& to, Term request,
                                       std::chrono::milliseconds timeout,
                                       const SendOptions& options) {
    if (auto e = check_size(request, options)) return unexpected(from_send(std::move(*e), to));
    if (auto e = breaker_refuses(me, to, options)) return unexpected(from_send(std::move(*e), to));
    if (auto e = check_target(me, to, options)) {
        record_outcome(me, to, options, e->code == SendErrc::network, e->detail);
        return unexpected(from_send(std::move(*e), to));
    }
    auto reply = call(me, to, std::move(request), timeout);
    if (!reply && (reply.error().code == CallErrc::caller_exited ||
                   reply.error().code == CallErrc::node_thread)) {
        // Says nothing about the node: the probe it may have been is given back.
        if (auto node = remote_node(me, to); node && options.breakers)
            options.breakers->release(*node);
        return reply;
    }
    const bool failed = !reply && (reply.error().code == CallErrc::nodedown ||
                                   reply.error().code == CallErrc::timeout);
    record_outcome(me, to, options, failed, reply ? "" : reply.error().detail);
    return reply;
}

}  // namespace distribute
