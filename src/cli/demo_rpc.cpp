// The rpc module `demo` of the demo node, for trying rpc:call and erpc:call from erl or iex and
// for the interop tests:
//   demo:echo(X)           X
//   demo:add(A, B)         A + B, for integers of any size (badarith otherwise)
//   demo:node()            the node's name
//   demo:fail(R)           raises error R
//   demo:raise(Class, R)   raises R as throw, error or exit
//   demo:sleep(Ms)         ok, after Ms milliseconds, holding up no other call
//   demo:spawn_worker()    the pid of a new process that answers {Pid, Msg} with Msg and exits
//                          with Reason on {exit, Reason}
#include <chrono>
#include <memory>

#include "cli/demo_services.hpp"
#include "distribute/rpc.hpp"
#include "net/asio.hpp"

namespace distribute::cli {

namespace {

RpcResult echo(std::span<const Term> args) {
    return args[0];
}

RpcResult add(std::span<const Term> args) {
    auto a = args[0].to<BigInt>();
    auto b = args[1].to<BigInt>();
    if (!a || !b) {
        // As a BEAM shows it: the failing operator on top of the function that used it.
        static const Atom erlang = Atom::make("erlang").value();
        static const Atom plus = Atom::make("+").value();
        static const Atom demo = Atom::make("demo").value();
        Term stack = list(tuple(erlang, plus, list(args[0], args[1]), Term()),
                          tuple(demo, "add"_a, 2, Term()));
        return unexpected(RpcRaise{atoms::error, Term(atoms::badarith), std::move(stack)});
    }
    return Term(*a + *b);
}

RpcResult fail(std::span<const Term> args) {
    return rpc_error(args[0]);
}

RpcResult raise(std::span<const Term> args) {
    const Term& kind = args[0];
    if (kind.is_atom(atoms::throw_)) return rpc_throw(args[1]);
    if (kind.is_atom(atoms::exit)) return rpc_exit(args[1]);
    if (kind.is_atom(atoms::error)) return rpc_error(args[1]);
    return rpc_error(Term(atoms::badarg));
}

void worker(const ProcessHandle& self, Term message) {
    static const Atom exit = Atom::make("exit").value();
    if (auto stop = message.tagged<Term>(exit)) {
        self.exit_self(std::get<0>(*stop));
    } else if (message.is_tuple(2)) {
        if (auto to = message[0].to<Pid>()) self.send(*to, message[1]);
    }
}

}  // namespace

Expected<void, NodeError> start_demo_rpc(Node& node) {
    static const Atom demo = Atom::make("demo").value();
    RpcRegistry& registry = rpc_registry(node);
    // Pure and quick: run on the node's threads, with no hop to the worker pool.
    constexpr auto quick = RpcRegistry::RunOn::node_thread;
    registry.add(demo, "echo"_a, 1, echo, quick);
    registry.add(demo, "add"_a, 2, add, quick);
    registry.add(demo, "fail"_a, 1, fail, quick);
    registry.add(demo, "raise"_a, 2, raise, quick);

    // The ones that need the node are asynchronous: they run on the node's own threads, which
    // the node joins before it goes, so they never see it half gone.
    registry.add_async(demo, "node"_a, 0,
                       [&node](std::vector<Term>, RpcReply reply) { reply(Term(node.name())); });
    registry.add_async(demo, "spawn_worker"_a, 0, [&node](std::vector<Term>, RpcReply reply) {
        reply(Term(node.spawn(worker).pid()));
    });
    // A timer on the node's io_context rather than a sleeping thread: a thousand sleeps cost
    // a thousand timers, not a thousand threads, and other calls go on meanwhile.
    registry.add_async(demo, "sleep"_a, 1, [&node](std::vector<Term> args, RpcReply reply) {
        auto ms = args[0].to<std::int64_t>();
        if (!ms || *ms < 0) {
            reply.complete(rpc_error(Term(atoms::badarg)));
            return;
        }
        auto timer =
            std::make_shared<net::asio::steady_timer>(node.io(), std::chrono::milliseconds(*ms));
        timer->async_wait(
            [timer, reply](const boost::system::error_code&) { reply(Term(atoms::ok)); });
    });
    return {};
}

}  // namespace distribute::cli
