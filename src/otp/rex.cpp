// rex, the rpc server of old. OTP 25's rpc:call goes through erpc (SPAWN_REQUEST) instead, but
// rex is still what erl_interface C nodes and older code call, in two forms:
//   {'$gen_call', {From, Tag}, {call | block_call, M, F, A, GL}}  answered {Tag, Result}
//   {From, {call, M, F, A, GL}}                                    answered {rex, Result}
// with errors as rpc:call gives them ({badrpc, {'EXIT', ...}}). Each call runs apart from rex,
// as rpc.erl spawns one process per call, so a slow one holds up no other. {'$gen_cast', {cast,
// M, F, A, GL}} runs M:F(A) with no answer. rex also answers OTP 25's features_request, which
// tells the caller this node serves erpc. Calls in progress are bounded per caller's node
// (NodeLimits::max_remote_calls_per_peer): past it, {badrpc, {'EXIT', system_limit}}. Casts carry
// no sender, so they are not counted.
#include <optional>

#include "node/access.hpp"
#include "otp/gen.hpp"
#include "otp/rpc_server.hpp"
#include "otp/rpc_shapes.hpp"
#include "otp/services.hpp"

namespace distribute::otp {

namespace {

struct Names {
    Atom rex = Atom::make("rex").value();
    Atom block_call = Atom::make("block_call").value();
    Atom features_request = Atom::make("features_request").value();
    Atom features_reply = Atom::make("features_reply").value();
    Atom erpc = Atom::make("erpc").value();
    Atom system_limit = Atom::make("system_limit").value();
};
const Names& names() {
    static const Names n;
    return n;
}

struct Mfa {
    Atom module;
    Atom function;
    std::vector<Term> args;
};

// {Tag, M, F, A, GL} with Tag one of `tags`; GL (the caller's group leader) is not used: a C++
// function has no io to redirect.
std::optional<Mfa> read_mfa(const Term& request, Atom tag, Atom other_tag) {
    if (!request.is_tuple(5) || !(request[0].is_atom(tag) || request[0].is_atom(other_tag)))
        return std::nullopt;
    auto module = request[1].to<Atom>();
    auto function = request[2].to<Atom>();
    if (!module || !function || !request[3].is_proper_list()) return std::nullopt;
    const auto args = request[3].elements();
    return Mfa{*module, *function, std::vector<Term>(args.begin(), args.end())};
}

class Rex {
  public:
    explicit Rex(std::shared_ptr<RpcServer> server) : server_(std::move(server)) {}

    void operator()(const ProcessHandle& self, const Term& message) const {
        const Names& n = names();
        if (auto call = parse_gen_call(message)) {
            if (auto mfa = read_mfa(call->request, atoms::call, n.block_call))
                run(self, call->caller.node, std::move(*mfa),
                    [caller = call->caller, tag = call->tag](const ProcessHandle& rex, Term r) {
                        gen_reply(rex, caller, tag, std::move(r));
                    });
            return;  // rex ignores other calls: the caller times out, as on a BEAM
        }
        if (!message.is_tuple(2)) return;
        if (message[0].is_atom(atoms::gen_cast)) {
            if (auto mfa = read_mfa(message[1], atoms::cast, atoms::cast))
                server_->dispatch(mfa->module, mfa->function, std::move(mfa->args),
                                  [](RpcResult) {});
            return;
        }
        auto from = message[0].to<Pid>();
        if (!from) return;
        if (message[1].is_atom(n.features_request)) {
            self.send(*from, tuple(n.features_reply, self.node_name(), list(n.erpc)));
        } else if (auto mfa = read_mfa(message[1], atoms::call, atoms::call)) {
            run(self, from->node, std::move(*mfa), [to = *from](const ProcessHandle& rex, Term r) {
                rex.send(to, tuple(names().rex, std::move(r)));
            });
        }
    }

  private:
    // `peer`: the caller's node, whose calls in progress are bounded.
    template <class Reply>
    void run(const ProcessHandle& self, Atom peer, Mfa mfa, Reply reply) const {
        auto ticket = server_->begin_remote_work(
            peer, "rpc:call of " + to_string(Term(mfa.module)) + ":" +
                      to_string(Term(mfa.function)) + "/" + std::to_string(mfa.args.size()));
        if (!ticket) {
            reply(self, rex_reply(unexpected(
                            RpcRaise{atoms::exit, Term(names().system_limit), std::nullopt})));
            return;
        }
        // rex may be gone by the time the answer is ready (the node stopping): then nobody is
        // left to send it.
        std::weak_ptr<node::Process> rex = node::Access::shared(self);
        server_->dispatch(mfa.module, mfa.function, std::move(mfa.args),
                          [rex, reply = std::move(reply), ticket](RpcResult result) {
                              if (auto p = rex.lock()) reply(ProcessHandle(p), rex_reply(result));
                          });
    }

    std::shared_ptr<RpcServer> server_;
};

}  // namespace

void start_rex(node::Runtime& runtime, std::shared_ptr<RpcServer> server) {
    auto process = runtime.spawn_handler(Rex(std::move(server)), false);
    if (!runtime.register_name(names().rex, process->pid))
        runtime.log(LogLevel::error, "cannot register rex");
}

}  // namespace distribute::otp
