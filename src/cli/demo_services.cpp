#include "cli/demo_services.hpp"

#include <cstdint>
#include <memory>

namespace distribute::cli {

namespace {

void echo(const ProcessHandle& self, Term message) {
    if (!message.is_tuple(2)) return;
    if (auto to = message[0].to<Pid>()) self.send(*to, message[1]);
}

// Handlers of one process never run concurrently, so the count needs no lock.
struct SinkState {
    std::uint64_t left = 0;
    Pid reply_to;
};

Node::Handler sink() {
    static const Atom start = Atom::make("start").value();
    static const Atom done = Atom::make("done").value();
    auto state = std::make_shared<SinkState>();
    return [state](const ProcessHandle& self, Term message) {
        if (state->left > 0) {
            if (--state->left == 0) self.send(state->reply_to, Term(done));
            return;
        }
        if (auto go = message.tagged<Pid, std::uint64_t>(start)) {
            auto& [pid, count] = *go;
            if (count == 0) {
                self.send(pid, Term(done));
                return;
            }
            state->left = count;
            state->reply_to = pid;
        }
    };
}

}  // namespace

Expected<void, NodeError> start_demo_services(Node& node) {
    auto e = node.spawn(echo);
    if (auto r = node.register_name(Atom::make("echo").value(), e.pid()); !r) return r;
    auto s = node.spawn(sink());
    if (auto r = node.register_name(Atom::make("sink").value(), s.pid()); !r) return r;
    if (auto r = start_demo_kv(node); !r) return r;
    if (auto r = start_demo_rpc(node); !r) return r;
    return start_demo_membership(node);
}

}  // namespace distribute::cli
