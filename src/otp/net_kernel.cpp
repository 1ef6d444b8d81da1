// net_kernel: net_adm:ping sends it {'$gen_call', {From, Tag}, {is_auth, Node}} and wants yes.
// rex: OTP 25's rpc sends {From, features_request} on nodeup; the reply tells it this node
// serves erpc-style calls (SPAWN_REQUEST), which is how rpc:call reaches a node since OTP 23.
#include "node/runtime.hpp"
#include "otp/services.hpp"

namespace distribute::otp {

namespace {

void net_kernel(const ProcessHandle& self, const Term& message) {
    static const Atom is_auth = Atom::make("is_auth").value();
    static const Atom yes = Atom::make("yes").value();
    // {'$gen_call', {From, Tag}, Request}; Tag is [alias|Ref] from OTP 24 on: sent back as is.
    if (!message.is_tuple(3) || !message[0].is_atom(atoms::gen_call) || !message[1].is_tuple(2))
        return;
    auto from = message[1][0].to<Pid>();
    if (!from) return;
    const Term& request = message[2];
    if (request.is_tuple(2) && request[0].is_atom(is_auth))
        self.send(*from, tuple(message[1][1], yes));
}

void rex(const ProcessHandle& self, const Term& message) {
    static const Atom features_request = Atom::make("features_request").value();
    static const Atom features_reply = Atom::make("features_reply").value();
    static const Atom erpc = Atom::make("erpc").value();
    if (message.is_tuple(2) && message[1].is_atom(features_request))
        if (auto from = message[0].to<Pid>())
            self.send(*from, tuple(features_reply, self.node_name(), list(erpc)));
}

void start(node::Runtime& runtime, const char* name, Node::Handler handler) {
    auto process = runtime.spawn(node::Process::Kind::handler, std::move(handler), false);
    auto registered = runtime.register_name(Atom::make(name).value(), process->pid);
    if (!registered) runtime.log(LogLevel::error, std::string("cannot register ") + name);
}

}  // namespace

void start_services(node::Runtime& runtime) {
    start(runtime, "net_kernel", net_kernel);
    start(runtime, "rex", rex);
}

}  // namespace distribute::otp
