// Remote calls from C++, made as erpc:call makes them: SPAWN_REQUEST for erpc:execute_call/4
// with a monitor, whose DOWN carries the result. Each call (or multicall) uses a mailbox of its
// own that it closes when it returns, so nothing that comes after a timeout reaches anybody: the
// node drops it, and the monitor goes with the mailbox (erpc demonitors too, and leaves the
// remote process to finish).
#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "distribute/rpc.hpp"
#include "node/access.hpp"
#include "otp/erpc_async.hpp"
#include "otp/rpc_server.hpp"
#include "otp/rpc_shapes.hpp"

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
    Atom execute_cast = Atom::make("execute_cast").value();
    Atom spawn_reply = Atom::make("spawn_reply").value();
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
        calls.push_back({target, Term(res), std::nullopt});
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
            const Reference request =
                otp::request_erpc_call(runtime, node::Access::process(self), target, Term(res),
                                       module, function, arguments);
            by_ref.emplace(request, index);
        }
    }

    // {spawn_reply, ReqId, _, _}, {'DOWN', ReqId, process, _, _} or {local_result, Res, _}, for a
    // call not answered yet.
    auto call_of = [&](const Term& m) -> std::optional<std::size_t> {
        if (!m.is_tuple() || m.elements().size() < 3) return std::nullopt;
        const bool reply = m.is_tuple(4) && m[0].is_atom(n.spawn_reply);
        const bool down = m.is_tuple(5) && m[0].is_atom(atoms::DOWN);
        const bool local = m.is_tuple(3) && m[0].is_atom(n.local_result);
        if (!reply && !down && !local) return std::nullopt;
        auto ref = m[1].to<Reference>();
        if (!ref) return std::nullopt;
        auto it = by_ref.find(*ref);
        if (it == by_ref.end() || calls[it->second].result) return std::nullopt;
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
        Call& call = calls[*call_of(m)];
        if (m[0].is_atom(n.spawn_reply)) {  // only errors: the DOWN brings a result
            call.result = unexpected(otp::spawn_error(m[3], call.target));
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
