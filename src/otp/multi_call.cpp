#include "otp/multi_call.hpp"

#include <algorithm>
#include <optional>

#include "distribute/call.hpp"
#include "node/access.hpp"
#include "otp/call_engine.hpp"

namespace distribute::otp {

void MultiCalls::start(node::Process& self, const std::vector<Atom>& nodes, Atom name,
                       const Term& request, Done done) {
    if (nodes.empty()) {
        done({}, {});
        return;
    }
    auto& runtime = self.runtime;
    const Reference tag = runtime.make_ref();
    Call call;
    call.done = std::move(done);
    for (Atom node : nodes) {
        const Reference monitor = runtime.monitor(self, name, node);
        call.waiting.emplace(monitor, node);
    }
    calls_.emplace(tag, std::move(call));
    // The monitors first: a node that cannot be reached says so with a DOWN.
    for (Atom node : nodes)
        runtime.send_named(self, name, node,
                           tuple(atoms::gen_call, tuple(self.pid, tuple(tag, node)), request));
}

bool MultiCalls::take(node::Process& self, const Term& message) {
    if (calls_.empty() || !message.is_tuple()) return false;
    std::map<Reference, Call>::iterator call;
    std::map<Reference, Atom>::iterator waiting;
    if (message.is_tuple(2) && message[0].is_tuple(2)) {  // {{Tag, Node}, Reply}
        auto tag = message[0][0].to<Reference>();
        auto node = message[0][1].to<Atom>();
        if (!tag || !node) return false;
        call = calls_.find(*tag);
        if (call == calls_.end()) return false;
        waiting = std::find_if(call->second.waiting.begin(), call->second.waiting.end(),
                               [&](const auto& w) { return w.second == *node; });
        if (waiting == call->second.waiting.end()) return false;
        self.runtime.demonitor(self, waiting->first);
        call->second.replies.emplace_back(*node, message[1]);
    } else if (message.is_tuple(5) && message[0].is_atom(atoms::DOWN)) {
        auto monitor = message[1].to<Reference>();
        if (!monitor) return false;
        call = std::find_if(calls_.begin(), calls_.end(),
                            [&](const auto& c) { return c.second.waiting.count(*monitor) > 0; });
        if (call == calls_.end()) return false;
        waiting = call->second.waiting.find(*monitor);
        call->second.bad.push_back(waiting->second);
    } else {
        return false;
    }
    call->second.waiting.erase(waiting);
    if (call->second.waiting.empty()) {
        Call finished = std::move(call->second);
        calls_.erase(call);
        finished.done(std::move(finished.replies), std::move(finished.bad));
    }
    return true;
}

void MultiCalls::give_up(node::Process& self) {
    auto calls = std::move(calls_);
    calls_.clear();
    for (auto& [tag, call] : calls) {
        for (auto& [monitor, node] : call.waiting) {
            self.runtime.demonitor(self, monitor);
            call.bad.push_back(node);
        }
        call.done(std::move(call.replies), std::move(call.bad));
    }
}

}  // namespace distribute::otp

namespace distribute {

Expected<MultiCallResult, CallError> multi_call(Node& node, const std::vector<Atom>& nodes,
                                                Atom name, Term request,
                                                std::chrono::milliseconds timeout) {
    if (node::on_node_thread()) return unexpected(otp::node_thread_error());
    Mailbox self = node.open_mailbox();
    auto& process = node::Access::process(self);
    std::optional<MultiCallResult> result;
    otp::MultiCalls calls;
    calls.start(process, nodes, name, request,
                [&](otp::MultiCalls::Replies replies, std::vector<Atom> bad) {
                    result = MultiCallResult{std::move(replies), std::move(bad)};
                });
    const bool forever = timeout == infinity_timeout;
    const auto deadline =
        std::chrono::steady_clock::now() + (forever ? std::chrono::milliseconds(0) : timeout);
    while (!result) {
        std::chrono::milliseconds left = infinity_timeout;
        if (!forever)
            left = std::max(std::chrono::milliseconds(0),
                            std::chrono::duration_cast<std::chrono::milliseconds>(
                                deadline - std::chrono::steady_clock::now()));
        // The mailbox is this call's alone: whatever comes is a reply, a DOWN, or a reply to
        // nothing (already given up on).
        auto got = self.receive(left);
        if (got) {
            calls.take(process, *got);
        } else if (got.error().code == ReceiveErrc::timeout) {
            calls.give_up(process);
        } else {
            return unexpected(otp::receive_failed(got.error()));
        }
    }
    return std::move(*result);
}

void abcast(const ProcessHandle& self, const std::vector<Atom>& nodes, Atom name, Term request) {
    const Term message = tuple(atoms::gen_cast, std::move(request));
    for (Atom node : nodes)
        self.send(name, node, message);
}

}  // namespace distribute
