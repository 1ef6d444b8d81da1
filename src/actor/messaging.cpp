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
std::optional<SendError> check_target(const ProcessHandle& from, const Address& to,
                                      const SendOptions& options) {
    auto& runtime = runtime_of(from);
    if (runtime.stopped()) return SendError{SendErrc::network, "the node has stopped"};
    Atom node;
    if (auto pid = to.pid()) {
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

void raw_send(const ProcessHandle& from, const Address& to, Term message) {
    if (auto pid = to.pid())
        from.send(*pid, std::move(message));
    else if (to.node())
        from.send(*to.name(), *to.node(), std::move(message));
    else
        from.send(*to.name(), std::move(message));
}

template <class Enum>
class Category : public std::error_category {
  public:
    using Describe = std::string (*)(Enum);
    Category(const char* name, Describe describe) : name_(name), describe_(describe) {}
    const char* name() const noexcept override { return name_; }
    std::string message(int code) const override { return describe_(static_cast<Enum>(code)); }

  private:
    const char* name_;
    Describe describe_;
};

std::string describe_send(SendErrc e) {
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
    }
    return "unknown send error";
}

std::string describe_request(RequestErrc e) {
    switch (e) {
        case RequestErrc::no_such_name:
            return "no process is registered under the name";
        case RequestErrc::not_alive:
            return "the process is not alive";
        case RequestErrc::network:
            return "the node cannot be reached";
        case RequestErrc::encode_failed:
            return "the request cannot be encoded";
        case RequestErrc::too_large:
            return "the request is larger than the maximum size";
        case RequestErrc::timeout:
            return "no reply in time";
        case RequestErrc::bad_reply:
            return "the reply does not decode";
        case RequestErrc::down:
            return "the server ended before it replied";
        case RequestErrc::exited:
            return "the caller was ended by an exit signal";
    }
    return "unknown request error";
}

RequestError from_send(SendError e) {
    // The first five codes of RequestErrc are SendErrc's, in the same order.
    return RequestError{static_cast<RequestErrc>(static_cast<int>(e.code)), std::move(e.detail),
                        Term(), std::nullopt};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Address

std::optional<Atom> Address::name() const {
    if (auto a = std::get_if<Atom>(&target_)) return *a;
    if (auto p = std::get_if<std::pair<Atom, Atom>>(&target_)) return p->first;
    return std::nullopt;
}

std::optional<Atom> Address::node() const {
    if (auto p = std::get_if<std::pair<Atom, Atom>>(&target_)) return p->second;
    return std::nullopt;
}

std::string Address::to_string() const {
    if (auto pid = std::get_if<Pid>(&target_)) return distribute::to_string(Term(*pid));
    if (auto a = std::get_if<Atom>(&target_)) return distribute::to_string(Term(*a));
    auto& p = std::get<std::pair<Atom, Atom>>(target_);
    return distribute::to_string(tuple(p.first, p.second));
}

// ---------------------------------------------------------------------------------------------
// Categories

const std::error_category& send_category() noexcept {
    static const Category<SendErrc> category("distribute.send", describe_send);
    return category;
}
std::error_code make_error_code(SendErrc e) noexcept {
    return {static_cast<int>(e), send_category()};
}

const std::error_category& request_category() noexcept {
    static const Category<RequestErrc> category("distribute.request", describe_request);
    return category;
}
std::error_code make_error_code(RequestErrc e) noexcept {
    return {static_cast<int>(e), request_category()};
}

// ---------------------------------------------------------------------------------------------
// Sends

Expected<void, SendError> send_checked(const ProcessHandle& from, const Address& to, Term message,
                                       const SendOptions& options) {
    if (auto e = check_size(message, options)) return unexpected(std::move(*e));
    if (auto e = check_target(from, to, options)) return unexpected(std::move(*e));
    raw_send(from, to, std::move(message));
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

Expected<Term, RequestError> request_term(Mailbox& me, const Address& to, Term request,
                                          std::chrono::milliseconds timeout,
                                          const SendOptions& options) {
    if (auto e = check_size(request, options)) return unexpected(from_send(std::move(*e)));
    if (auto e = check_target(me, to, options)) return unexpected(from_send(std::move(*e)));

    // As gen:call since OTP 24: the reply is tagged [alias | Alias], and the alias goes when the
    // wait ends, so that a late reply is dropped by the runtime instead of queued here.
    const Reference monitor = to.pid() ? me.monitor(*to.pid())
                                       : me.monitor(*to.name(), to.node().value_or(me.node_name()));
    const Reference alias = me.alias();
    const Term alias_atom(atoms::alias);
    const Term tag = list_from(std::span<const Term>(&alias_atom, 1), Term(alias));
    raw_send(me, to, tuple(atoms::gen_call, tuple(me.pid(), tag), std::move(request)));

    auto is_reply = [&](const Term& t) { return t.is_tuple(2) && t[0] == tag; };
    auto is_down = [&](const Term& t) {
        return t.is_tuple(5) && t[0].is_atom(atoms::DOWN) && t[1] == Term(monitor);
    };
    auto got = me.receive_if([&](const Term& t) { return is_reply(t) || is_down(t); }, timeout);
    // After this, nothing more can arrive through the alias or the monitor; what came already
    // is taken below.
    me.unalias(alias);
    const bool monitor_was_active = me.demonitor(monitor);
    if (!got && got.error().code == ReceiveErrc::timeout) {
        // A reply that slipped in between the timeout and the unalias is still a reply.
        got = me.receive_if(is_reply, std::chrono::milliseconds(0));
    }
    if (!monitor_was_active && !(got && is_down(*got)))
        (void)me.receive_if(is_down, std::chrono::milliseconds(0));
    if (!got) {
        if (got.error().code == ReceiveErrc::exited)
            return unexpected(RequestError{RequestErrc::exited, "the caller was ended",
                                           got.error().reason, std::nullopt});
        return unexpected(RequestError{RequestErrc::timeout,
                                       "no reply from " + to.to_string() + " in time", Term(),
                                       std::nullopt});
    }
    if (is_reply(*got)) return (*got)[1];
    const Term& reason = (*got)[4];
    if (reason.is_atom(atoms::noproc))
        return unexpected(
            RequestError{to.pid() ? RequestErrc::not_alive : RequestErrc::no_such_name,
                         to.to_string() + " does not exist", reason, std::nullopt});
    if (reason.is_atom(atoms::noconnection))
        return unexpected(RequestError{RequestErrc::network,
                                       "the connection to " + to.to_string() + " went down", reason,
                                       std::nullopt});
    return unexpected(RequestError{
        RequestErrc::down, to.to_string() + " ended: " + to_string(reason), reason, std::nullopt});
}

}  // namespace distribute
