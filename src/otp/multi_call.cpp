#include "otp/multi_call.hpp"

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

}  // namespace distribute::otp
