// Remote calls from C++, made as erpc:call makes them (erpc_request.hpp, which also sends a call
// through rex to a peer without SPAWN), with the ways of waiting of gen calls: blocking on a
// mailbox, and suspended in a coroutine process.
#include <algorithm>
#include <optional>
#include <string>

#include "distribute/rpc.hpp"
#include "node/access.hpp"
#include "otp/erpc_request.hpp"
#include "otp/rpc_server.hpp"
#include "otp/rpc_shapes.hpp"

namespace distribute {

namespace {

const char* message_of(RpcErrc e) noexcept {
    switch (e) {
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
    return nullptr;
}

RpcError node_thread_error(Atom target) {
    return RpcError{RpcErrc::node_thread, Atom(), Term(), Term(),
                    "a blocking rpc to " + std::string(target.name()) +
                        " cannot wait on one of the node's threads: use a coroutine"};
}

// How long a wait may last, from a deadline (max: no deadline).
std::chrono::milliseconds time_left(std::chrono::steady_clock::time_point deadline) {
    if (deadline == std::chrono::steady_clock::time_point::max()) return infinity_timeout;
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now()));
}

}  // namespace

const std::error_category& rpc_category() noexcept {
    static const ErrorCategory<RpcErrc> category("distribute.rpc", message_of);
    return category;
}

std::error_code make_error_code(RpcErrc e) noexcept {
    return {static_cast<int>(e), rpc_category()};
}

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
    const auto deadline = coroutine_detail::deadline_after(timeout);
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
    for (std::size_t left = requests.size(); left > 0;) {
        // With no time left this still takes what is queued already, as erpc does on a timeout.
        auto got = self.receive_if([&](const Term& m) { return pending_of(m).has_value(); },
                                   time_left(deadline));
        if (!got) break;
        const std::size_t i = *pending_of(*got);
        answered[i] = otp::outcome(self, requests[i], *got);
        if (answered[i]) --left;  // otherwise it went on through rex
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
    static const Atom erpc = Atom::make("erpc").value();
    static const Atom execute_cast = Atom::make("execute_cast").value();
    auto& runtime = node::Access::runtime(node);
    if (runtime.is_local(target)) {
        otp::RpcServer::of(runtime).dispatch(module, function, std::move(args), [](RpcResult) {});
        return;
    }
    // The spawn reply comes to a mailbox already closed, and is dropped: erpc:cast asks for
    // none ({reply, no}), which amounts to the same.
    Mailbox self = node.open_mailbox();
    (void)runtime.spawn_request(node::Access::process(self), target, erpc, execute_cast,
                                list(module, function, list_from(args)), Term());
}

// ---------------------------------------------------------------------------------------------
// In coroutine processes

Task<Expected<Term, RpcError>> rpc(CoProcess self, Atom target, Atom module, Atom function,
                                   std::vector<Term> args, std::chrono::milliseconds timeout) {
    const auto deadline = coroutine_detail::deadline_after(timeout);
    otp::ErpcRequest request = otp::start_erpc(self, target, module, function, std::move(args));
    for (;;) {
        auto answer = co_await self.receive_if(
            [&](const Term& m) { return otp::answers(request, m); }, time_left(deadline));
        if (!answer) break;
        if (auto result = otp::outcome(self, request, *answer)) co_return std::move(*result);
        // It went on through rex: wait for rex's answer.
    }
    otp::abandon(self, request);
    co_return unexpected(otp::rpc_timeout(request.target));
}

}  // namespace distribute
