// Remote calls from C++, made as erpc:call makes them (erpc_request.hpp), with the ways of
// waiting of gen calls: blocking on a mailbox, and suspended in a coroutine process.
#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "distribute/rpc.hpp"
#include "node/access.hpp"
#include "otp/erpc_request.hpp"
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
            case RpcErrc::node_thread:
                return "a blocking call on one of the node's threads";
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

RpcError node_thread_error(Atom target) {
    return RpcError{RpcErrc::node_thread, Atom(), Term(), Term(),
                    "a blocking rpc to " + std::string(target.name()) +
                        " cannot wait on one of the node's threads: use a coroutine"};
}

}  // namespace

const std::error_category& rpc_category() noexcept {
    static const RpcCategory category;
    return category;
}

std::error_code make_error_code(RpcErrc e) noexcept {
    return {static_cast<int>(e), rpc_category()};
}

namespace otp {

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
        return ErpcRequest{alias, Term(res), target, module, function, true};
    }
    const Reference request =
        runtime.spawn_request(process, target, n.erpc, n.execute_call,
                              list(res, module, function, list_from(args)), list(n.monitor), true);
    return ErpcRequest{request, Term(res), target, module, function, false};
}

bool answers(const ErpcRequest& request, const Term& m) {
    const Names& n = names();
    if (request.local) return refers_to(m, 3, n.local_result, request.ref);
    return refers_to(m, 5, atoms::DOWN, request.ref) || refers_to(m, 4, n.spawn_reply, request.ref);
}

Expected<Term, RpcError> outcome(const ProcessHandle& self, const ErpcRequest& request,
                                 const Term& m) {
    if (request.local) self.unalias(request.ref);
    if (m[0].is_atom(names().spawn_reply))  // only errors: the 'DOWN' brings a result
        return unexpected(spawn_error(m[3], request.target));
    const Term& reason = m[0].is_atom(atoms::DOWN) ? m[4] : m[2];
    return read_erpc_down(request.res, reason, request.target, request.module, request.function);
}

void abandon(const ProcessHandle& self, const ErpcRequest& request) {
    auto& process = node::Access::process(self);
    if (request.local)
        self.unalias(request.ref);
    else
        process.runtime.abandon_spawn(process, request.ref);
    process.runtime.discard(process, [&](const Term& m) { return answers(request, m); });
}

}  // namespace otp

std::vector<Expected<Term, RpcError>> multicall(Node& node, const std::vector<Atom>& targets,
                                                Atom module, Atom function, std::vector<Term> args,
                                                std::chrono::milliseconds timeout) {
    std::vector<Expected<Term, RpcError>> results;
    results.reserve(targets.size());
    if (node::on_node_thread()) {
        for (const Atom target : targets)
            results.push_back(unexpected(node_thread_error(target)));
        return results;
    }
    Mailbox self = node.open_mailbox();
    const bool forever = timeout == infinity_timeout;
    const auto deadline = forever ? std::chrono::steady_clock::time_point::max()
                                  : std::chrono::steady_clock::now() + timeout;
    std::vector<otp::ErpcRequest> requests;
    requests.reserve(targets.size());
    for (const Atom target : targets)
        requests.push_back(otp::start_erpc(self, target, module, function, args));
    std::vector<std::optional<Expected<Term, RpcError>>> answered(requests.size());
    auto pending_of = [&](const Term& m) -> std::optional<std::size_t> {
        for (std::size_t i = 0; i < requests.size(); ++i)
            if (!answered[i] && otp::answers(requests[i], m)) return i;
        return std::nullopt;
    };
    for (std::size_t left = requests.size(); left > 0; --left) {
        auto wait = infinity_timeout;
        if (!forever)
            wait = std::max(std::chrono::milliseconds(0),
                            std::chrono::duration_cast<std::chrono::milliseconds>(
                                deadline - std::chrono::steady_clock::now()));
        // With no time left this still takes what is queued already, as erpc does on a timeout.
        auto got = self.receive_if([&](const Term& m) { return pending_of(m).has_value(); }, wait);
        if (!got) break;
        const std::size_t i = *pending_of(*got);
        answered[i] = otp::outcome(self, requests[i], *got);
    }
    for (std::size_t i = 0; i < requests.size(); ++i) {
        if (answered[i]) {
            results.push_back(std::move(*answered[i]));
            continue;
        }
        otp::abandon(self, requests[i]);
        results.push_back(unexpected(otp::rpc_timeout(requests[i].target)));
    }
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

// ---------------------------------------------------------------------------------------------
// In coroutine processes

struct RpcAwaiter::Request : otp::ErpcRequest {};

RpcAwaiter::RpcAwaiter(const CoProcess& self, Atom target, Atom module, Atom function,
                       std::vector<Term> args, std::chrono::milliseconds timeout)
    : Wait(self, coroutine_detail::deadline_after(timeout)),
      self_(self),
      request_(std::make_unique<Request>(
          Request{otp::start_erpc(self, target, module, function, std::move(args))})) {}

RpcAwaiter::~RpcAwaiter() = default;

bool RpcAwaiter::accepts(const Term& message) {
    return otp::answers(*request_, message);
}

Expected<Term, RpcError> RpcAwaiter::await_resume() {
    if (outcome()) return otp::outcome(self_, *request_, *outcome());
    otp::abandon(self_, *request_);
    return unexpected(otp::rpc_timeout(request_->target));
}

RpcAwaiter rpc(const CoProcess& self, Atom target, Atom module, Atom function,
               std::vector<Term> args, std::chrono::milliseconds timeout) {
    return RpcAwaiter(self, target, module, function, std::move(args), timeout);
}

}  // namespace distribute
