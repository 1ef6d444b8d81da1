// The ways of waiting for a gen call from a plain thread or a process's own code: the blocking
// call, request ids and their collections, cast. The protocol itself is call_engine's.
#include <string>

#include "distribute/call.hpp"
#include "node/identity_hash.hpp"
#include "node/runtime.hpp"
#include "otp/call_engine.hpp"

namespace distribute {

namespace {

const char* message_of(CallErrc e) noexcept {
    switch (e) {
        case CallErrc::timeout:
            return "no reply in time";
        case CallErrc::noproc:
            return "no such process";
        case CallErrc::nodedown:
            return "the server's node is down";
        case CallErrc::exited:
            return "the server exited during the call";
        case CallErrc::caller_exited:
            return "the calling process was ended";
        case CallErrc::node_thread:
            return "a blocking call on one of the node's threads";
        case CallErrc::no_request:
            return "no request to wait for";
        case CallErrc::encode_failed:
            return "the request cannot be encoded";
        case CallErrc::too_large:
            return "the request is larger than the maximum size";
        case CallErrc::bad_reply:
            return "the reply does not decode";
        case CallErrc::circuit_open:
            return "the node's circuit breaker is open";
    }
    return nullptr;
}

// Waits for the answer to `id`; on a timeout gives up on it when `abandon`.
Expected<Term, CallError> await_answer(Mailbox& self, const RequestId& id,
                                       std::chrono::milliseconds timeout, bool abandon) {
    auto got = self.receive_if([&](const Term& m) { return otp::answers(id, m); }, timeout);
    if (got) return otp::outcome(self, id, *got);
    if (got.error().code != ReceiveErrc::timeout) {
        if (abandon) (void)otp::abandon(self, id);
        return unexpected(otp::receive_failed(got.error()));
    }
    if (!abandon) return unexpected(otp::timeout_error());
    if (auto late = otp::abandon(self, id)) return otp::outcome(self, id, *late);
    return unexpected(otp::timeout_error());
}

Expected<CollectedResponse, CallError> await_any(Mailbox& self, RequestIdCollection& requests,
                                                 std::chrono::milliseconds timeout, bool remove,
                                                 bool abandon) {
    if (requests.empty())
        return unexpected(CallError{CallErrc::no_request, Term(Atom::make("no_request").value()),
                                    "the collection holds no request", std::nullopt});
    auto got = self.receive_if([&](const Term& m) { return requests.find_answered(m) != nullptr; },
                               timeout);
    if (got) return *check_response(self, *got, requests, remove);
    if (got.error().code != ReceiveErrc::timeout)
        return unexpected(otp::receive_failed(got.error()));
    if (abandon) {
        // As gen: every monitor goes with its 'DOWN', and replies already queued are dropped.
        for (auto& [id, label] : requests.to_list())
            (void)otp::abandon(self, id);
        requests = RequestIdCollection();
    }
    return unexpected(otp::timeout_error());
}

}  // namespace

const std::error_category& call_category() noexcept {
    static const ErrorCategory<CallErrc> category("distribute.call", message_of);
    return category;
}

std::error_code make_error_code(CallErrc e) noexcept {
    return {static_cast<int>(e), call_category()};
}

// ---------------------------------------------------------------------------------------------
// Blocking

Expected<Term, CallError> call(Mailbox& self, const ServerRef& server, Term request,
                               std::chrono::milliseconds timeout) {
    if (node::on_node_thread()) return unexpected(otp::node_thread_error());
    const RequestId id = otp::start_call(self, server, atoms::gen_call, std::move(request), true);
    return await_answer(self, id, timeout, true);
}

Expected<Term, CallError> call(Node& node, const ServerRef& server, Term request,
                               std::chrono::milliseconds timeout) {
    if (node::on_node_thread()) return unexpected(otp::node_thread_error());
    Mailbox self = node.open_mailbox();
    return call(self, server, std::move(request), timeout);
}

void cast(const ProcessHandle& self, const ServerRef& server, Term request) {
    self.send(server, tuple(atoms::gen_cast, std::move(request)));
}

// ---------------------------------------------------------------------------------------------
// Request ids

RequestId send_request(const ProcessHandle& self, const ServerRef& server, Term request) {
    return otp::start_call(self, server, atoms::gen_call, std::move(request), false);
}

std::optional<Expected<Term, CallError>> check_response(const ProcessHandle& self,
                                                        const Term& message, const RequestId& id) {
    if (!otp::answers(id, message)) return std::nullopt;
    return otp::outcome(self, id, message);
}

Expected<Term, CallError> receive_response(Mailbox& self, const RequestId& id,
                                           std::chrono::milliseconds timeout) {
    return await_answer(self, id, timeout, true);
}

Expected<Term, CallError> wait_response(Mailbox& self, const RequestId& id,
                                        std::chrono::milliseconds timeout) {
    return await_answer(self, id, timeout, false);
}

void abandon_request(const ProcessHandle& self, const RequestId& id) {
    (void)otp::abandon(self, id);
}

// ---------------------------------------------------------------------------------------------
// Collections

std::size_t RequestIdCollection::Hash::operator()(const Reference& r) const noexcept {
    return node::ReferenceHash{}(r);
}

bool RequestIdCollection::add(const RequestId& id, Term label) {
    return requests_.try_emplace(id.ref(), Entry{id, std::move(label)}).second;
}

bool RequestIdCollection::remove(const RequestId& id) {
    return requests_.erase(id.ref()) > 0;
}

std::vector<std::pair<RequestId, Term>> RequestIdCollection::to_list() const {
    std::vector<std::pair<RequestId, Term>> out;
    out.reserve(requests_.size());
    for (auto& [ref, entry] : requests_)
        out.emplace_back(entry.id, entry.label);
    return out;
}

const RequestIdCollection::Entry* RequestIdCollection::find_answered(const Term& message) const {
    auto ref = otp::answered(message);
    if (!ref) return nullptr;
    auto it = requests_.find(*ref);
    return it == requests_.end() ? nullptr : &it->second;
}

std::optional<CollectedResponse> check_response(const ProcessHandle& self, const Term& message,
                                                RequestIdCollection& requests, bool remove) {
    const auto* entry = requests.find_answered(message);
    if (entry == nullptr) return std::nullopt;
    CollectedResponse response{otp::outcome(self, entry->id, message), entry->label};
    if (remove) requests.remove(RequestId(entry->id));
    return response;
}

Expected<CollectedResponse, CallError> receive_response(Mailbox& self,
                                                        RequestIdCollection& requests,
                                                        std::chrono::milliseconds timeout,
                                                        bool remove) {
    return await_any(self, requests, timeout, remove, true);
}

Expected<CollectedResponse, CallError> wait_response(Mailbox& self, RequestIdCollection& requests,
                                                     std::chrono::milliseconds timeout,
                                                     bool remove) {
    return await_any(self, requests, timeout, remove, false);
}

}  // namespace distribute
