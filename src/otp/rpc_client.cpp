// Remote calls from C++, made as erpc:call makes them: SPAWN_REQUEST for erpc:execute_call/4
// with a monitor, whose DOWN carries the result. A peer that does not offer SPAWN (erl_interface
// and JInterface nodes, which serve rpc through a rex of their own) is called through rex
// instead, with the gen_server call {call, M, F, A, user} that rpc.erl's rex answers. Each call
// (or multicall) uses a mailbox of its own that it closes when it returns, so nothing that comes
// after a timeout reaches anybody: the node drops it, and the monitor goes with the mailbox (erpc
// demonitors too, and leaves the remote process to finish).
#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "distribute/rpc.hpp"
#include "node/access.hpp"
#include "otp/rpc_server.hpp"
#include "otp/rpc_shapes.hpp"
#include "wire/flags.hpp"

namespace distribute {

namespace {

class RpcCategory : public std::error_category {
  public:
    const char* name() const noexcept override { return "distribute.rpc"; }
    std::string message(int code) const override {
        switch (static_cast<RpcErrc>(code)) {
            case RpcErrc::timeout:
                return "no result in time";
            case RpcErrc::nodedown:
                return "the node is down";
            case RpcErrc::undef:
                return "undefined function";
            case RpcErrc::exception:
                return "the function raised an exception";
            case RpcErrc::refused:
                return "the node refused the call";
        }
        return "unknown rpc error";
    }
};

struct Names {
    Atom erpc = Atom::make("erpc").value();
    Atom execute_call = Atom::make("execute_call").value();
    Atom execute_cast = Atom::make("execute_cast").value();
    Atom monitor = Atom::make("monitor").value();
    Atom spawn_reply = Atom::make("spawn_reply").value();
    Atom notsup = Atom::make("notsup").value();
    Atom rex = Atom::make("rex").value();
    Atom user = Atom::make("user").value();
    // A call to this node itself runs here and answers with this message, in the shape of the
    // DOWN reason a remote call ends with.
    Atom local_result = Atom::make("$distribute_local_rpc").value();
};
const Names& names() {
    static const Names n;
    return n;
}

struct Call {
    Atom target;
    Term res;  // the result reference erpc:execute_call/4 tags the result with
    std::optional<Reference> rex_tag;  // called through rex: the tag of its reply
    std::optional<Expected<Term, RpcError>> result;
};

}  // namespace

const std::error_category& rpc_category() noexcept {
    static const RpcCategory category;
    return category;
}

std::error_code make_error_code(RpcErrc e) noexcept {
    return {static_cast<int>(e), rpc_category()};
}

std::vector<Expected<Term, RpcError>> multicall(Node& node, const std::vector<Atom>& targets,
                                                Atom module, Atom function, std::vector<Term> args,
                                                std::chrono::milliseconds timeout) {
    const Names& n = names();
    auto& runtime = node::Access::runtime(node);
    Mailbox self = node.open_mailbox();
    const Term arguments = list_from(args);
    const bool forever = timeout == infinity_timeout;
    const auto deadline = forever ? std::chrono::steady_clock::time_point::max()
                                  : std::chrono::steady_clock::now() + timeout;

    std::vector<Call> calls;
    calls.reserve(targets.size());
    // Spawn request ids (and result references of calls to this node) to calls.
    std::map<Reference, std::size_t> by_ref;
    for (const Atom target : targets) {
        const Reference res = self.make_ref();
        const std::size_t index = calls.size();
        calls.push_back({target, Term(res), std::nullopt, std::nullopt});
        if (runtime.is_local(target)) {
            by_ref.emplace(res, index);
            std::weak_ptr<node::Process> me = node::Access::shared(self);
            otp::RpcServer::of(runtime).dispatch(
                module, function, args, [me, res, tag = n.local_result](RpcResult result) {
                    if (auto p = me.lock())
                        ProcessHandle(p).send(
                            p->pid, tuple(tag, res, otp::erpc_call_reason(Term(res), result)));
                });
        } else {
            const Reference request = runtime.spawn_request(
                node::Access::process(self), target, n.erpc, n.execute_call,
                list(res, module, function, arguments), list(n.monitor), true);
            by_ref.emplace(request, index);
        }
    }

    // The same call through rex, for a peer that turned out not to take spawn requests: a
    // monitor on {rex, Node} (which stays here and fires only with noconnection if the peer
    // offered no monitors) and the gen_server call.
    auto through_rex = [&](std::size_t index) {
        Call& call = calls[index];
        const Reference tag = self.make_ref();
        call.rex_tag = tag;
        by_ref.emplace(tag, index);
        by_ref.emplace(self.monitor(n.rex, call.target), index);
        self.send(n.rex, call.target,
                  tuple(atoms::gen_call, tuple(self.pid(), tag),
                        tuple(atoms::call, module, function, arguments, n.user)));
    };

    // {spawn_reply, ReqId, _, _}, {'DOWN', ReqId, process, _, _}, {local_result, Res, _} or rex's
    // {Tag, Reply}, for a call not answered yet.
    auto call_of = [&](const Term& m) -> std::optional<std::size_t> {
        const bool reply = m.is_tuple(4) && m[0].is_atom(n.spawn_reply);
        const bool down = m.is_tuple(5) && m[0].is_atom(atoms::DOWN);
        const bool local = m.is_tuple(3) && m[0].is_atom(n.local_result);
        const bool rex = m.is_tuple(2);
        if (!reply && !down && !local && !rex) return std::nullopt;
        auto ref = (rex ? m[0] : m[1]).to<Reference>();
        if (!ref) return std::nullopt;
        auto it = by_ref.find(*ref);
        if (it == by_ref.end() || calls[it->second].result) return std::nullopt;
        if (rex && calls[it->second].rex_tag != *ref) return std::nullopt;
        return it->second;
    };

    std::size_t answered = 0;
    while (answered < calls.size()) {
        auto wait = infinity_timeout;
        if (!forever)
            wait = std::max(std::chrono::milliseconds(0),
                            std::chrono::duration_cast<std::chrono::milliseconds>(
                                deadline - std::chrono::steady_clock::now()));
        // With no time left this still takes what is queued already, as erpc does on a timeout.
        auto got = self.receive_if([&](const Term& m) { return call_of(m).has_value(); }, wait);
        if (!got) break;
        const Term& m = *got;
        const std::size_t index = *call_of(m);
        Call& call = calls[index];
        if (m[0].is_atom(n.spawn_reply)) {  // only errors: the DOWN brings a result
            const std::uint64_t flags = runtime.peer_flags(call.target);
            if (m[3].is_atom(n.notsup) && flags != 0 && !(flags & wire::flag::spawn)) {
                through_rex(index);
                continue;
            }
            call.result = unexpected(otp::spawn_error(m[3], call.target));
        } else if (m.is_tuple(2)) {
            call.result = otp::read_rex_reply(m[1], call.target, module, function);
        } else if (call.rex_tag) {  // the DOWN of the monitor on rex
            call.result =
                m[4].is_atom(atoms::noconnection)
                    ? Expected<Term, RpcError>(unexpected(otp::spawn_error(m[4], call.target)))
                    : otp::read_rex_reply(tuple(atoms::badrpc, tuple(atoms::EXIT, m[4])),
                                          call.target, module, function);
        } else {
            const Term& reason = m[0].is_atom(atoms::DOWN) ? m[4] : m[2];
            call.result = otp::read_erpc_down(call.res, reason, call.target, module, function);
        }
        ++answered;
    }

    std::vector<Expected<Term, RpcError>> results;
    results.reserve(calls.size());
    for (auto& call : calls)
        results.push_back(
            call.result ? std::move(*call.result)
                        : Expected<Term, RpcError>(unexpected(otp::rpc_timeout(call.target))));
    return results;
}

Expected<Term, RpcError> rpc(Node& node, Atom target, Atom module, Atom function,
                             std::vector<Term> args, std::chrono::milliseconds timeout) {
    return std::move(multicall(node, {target}, module, function, std::move(args), timeout)[0]);
}

void rpc_cast(Node& node, Atom target, Atom module, Atom function, std::vector<Term> args) {
    const Names& n = names();
    auto& runtime = node::Access::runtime(node);
    if (runtime.is_local(target)) {
        otp::RpcServer::of(runtime).dispatch(module, function, std::move(args), [](RpcResult) {});
        return;
    }
    // The spawn reply comes to a mailbox already closed, and is dropped: erpc:cast asks for
    // none ({reply, no}), which amounts to the same.
    Mailbox self = node.open_mailbox();
    (void)runtime.spawn_request(node::Access::process(self), target, n.erpc, n.execute_cast,
                                list(module, function, list_from(args)), Term());
}

}  // namespace distribute
