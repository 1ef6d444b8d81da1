// erpc's calls and casts as they go on the wire (erpc_request.hpp), and the gen call through rex
// that a call becomes for a peer without SPAWN.
#include "otp/erpc_request.hpp"

#include "node/access.hpp"
#include "otp/call_engine.hpp"
#include "otp/rpc_server.hpp"
#include "otp/rpc_shapes.hpp"
#include "wire/flags.hpp"

namespace distribute::otp {

namespace {

struct Names {
    Atom erpc = Atom::make("erpc").value();
    Atom execute_call = Atom::make("execute_call").value();
    Atom monitor = Atom::make("monitor").value();
    Atom spawn_reply = Atom::make("spawn_reply").value();
    Atom notsup = Atom::make("notsup").value();
    Atom rex = Atom::make("rex").value();
    Atom user = Atom::make("user").value();
    // The message that carries the result of a call to this node itself.
    Atom local_result = Atom::make("$distribute_local_rpc").value();
};
const Names& names() {
    static const Names n;
    return n;
}

bool refers_to(const Term& m, std::size_t arity, Atom tag, const Reference& ref) {
    return m.is_tuple(arity) && m[0].is_atom(tag) && m[1].is_reference() &&
           *m[1].to<Reference>() == ref;
}

// The spawn was refused with notsup by a peer whose flags say it takes no spawn requests at all.
bool spawn_not_offered(const ProcessHandle& self, const ErpcRequest& request, const Term& reply) {
    if (!reply[3].is_atom(names().notsup)) return false;
    const std::uint64_t flags = node::Access::process(self).runtime.peer_flags(request.target);
    return flags != 0 && !(flags & wire::flag::spawn);
}

// What rex's gen call ended with, as rpc:call reads it.
Expected<Term, RpcError> rex_outcome(const ErpcRequest& request, Expected<Term, CallError> answer) {
    if (answer) return read_rex_reply(*answer, request.target, request.module, request.function);
    if (answer.error().code == CallErrc::nodedown)
        return unexpected(spawn_error(Term(atoms::noconnection), request.target));
    return read_rex_reply(tuple(atoms::badrpc, tuple(atoms::EXIT, answer.error().reason)),
                          request.target, request.module, request.function);
}

}  // namespace

ErpcRequest start_erpc(const ProcessHandle& self, Atom target, Atom module, Atom function,
                       std::vector<Term> args) {
    const Names& n = names();
    auto& process = node::Access::process(self);
    auto& runtime = process.runtime;
    const Reference res = runtime.make_ref();
    if (runtime.is_local(target)) {
        const Reference alias = self.alias();
        std::weak_ptr<node::Process> me = node::Access::shared(self);
        RpcServer::of(runtime).dispatch(
            module, function, std::move(args), [me, res, alias](RpcResult result) {
                if (auto p = me.lock())
                    ProcessHandle(p).send_alias(alias, tuple(names().local_result, alias,
                                                             erpc_call_reason(Term(res), result)));
            });
        return ErpcRequest{alias, Term(res), target, module, function, Term(), true, std::nullopt};
    }
    Term arguments = list_from(args);
    const Reference request =
        runtime.spawn_request(process, target, n.erpc, n.execute_call,
                              list(res, module, function, arguments), list(n.monitor), true);
    return ErpcRequest{request, Term(res),   target, module, function, std::move(arguments),
                       false,   std::nullopt};
}

bool answers(const ErpcRequest& request, const Term& m) {
    const Names& n = names();
    if (request.through_rex) return answers(*request.through_rex, m);
    if (request.local) return refers_to(m, 3, n.local_result, request.ref);
    return refers_to(m, 5, atoms::DOWN, request.ref) || refers_to(m, 4, n.spawn_reply, request.ref);
}

std::optional<Expected<Term, RpcError>> outcome(const ProcessHandle& self, ErpcRequest& request,
                                                const Term& m) {
    const Names& n = names();
    if (request.through_rex) return rex_outcome(request, outcome(self, *request.through_rex, m));
    if (request.local) self.unalias(request.ref);
    if (m[0].is_atom(n.spawn_reply)) {  // only errors: the 'DOWN' brings a result
        if (spawn_not_offered(self, request, m)) {
            request.through_rex = start_call(
                self, ServerRef(n.rex, request.target), atoms::gen_call,
                tuple(atoms::call, request.module, request.function, request.args, n.user), false);
            return std::nullopt;
        }
        return unexpected(spawn_error(m[3], request.target));
    }
    const Term& reason = m[0].is_atom(atoms::DOWN) ? m[4] : m[2];
    return read_erpc_down(request.res, reason, request.target, request.module, request.function);
}

void abandon(const ProcessHandle& self, const ErpcRequest& request) {
    auto& process = node::Access::process(self);
    if (request.through_rex) {
        (void)abandon(self, *request.through_rex);
        return;
    }
    if (request.local)
        self.unalias(request.ref);
    else
        process.runtime.abandon_spawn(process, request.ref);
    process.runtime.discard(process, [&](const Term& m) { return answers(request, m); });
}

}  // namespace distribute::otp
