// The demo node's part in pg and global (a contract other tools rely on: keep the names and
// shapes). At start, one echo process joins group `demo` in scope `pg` and another registers the
// global name `demo_global` (visible nodes only: a hidden one takes no part in global). An echo
// answers {Pid, Msg} by sending Msg to Pid. The rpc module `demo` gains:
//   demo:pg_join(Group)          a new echo joins Group (an atom) in scope pg: its pid
//   demo:pg_leave(Group, Pid)    that process leaves the group: ok
//   demo:pg_members(Group)       the members of Group in scope pg as this node sees them, sorted
//   demo:global_register(Name)   a new echo registers Name globally: {ok, Pid} | {error, taken}
//   demo:global_unregister(Name) ok
//   demo:global_whereis(Name)    a pid or undefined, as this node sees it
//   demo:global_names()          the sorted list of global names this node knows
//   demo:stop_process(Pid)       that process of this node exits with reason normal: ok
#include <algorithm>

#include "cli/demo_services.hpp"
#include "distribute/global.hpp"
#include "distribute/groups.hpp"
#include "distribute/rpc.hpp"
#include "node/access.hpp"

namespace distribute::cli {

namespace {

void echo(const ProcessHandle& self, Term message) {
    if (!message.is_tuple(2)) return;
    if (auto to = message[0].to<Pid>()) self.send(*to, message[1]);
}

Term sorted_pids(std::vector<Pid> pids) {
    std::sort(pids.begin(), pids.end());
    std::vector<Term> terms(pids.begin(), pids.end());
    return list_from(terms);
}

}  // namespace

Expected<void, NodeError> start_demo_membership(Node& node) {
    static const Atom demo = Atom::make("demo").value();
    static const Atom taken = Atom::make("taken").value();
    auto pg = groups(node);
    if (!pg) return unexpected(NodeError{NodeErrc::not_running, pg.error().detail});
    if (auto joined = pg->join(Term(demo), node.spawn(echo).pid()); !joined)
        return unexpected(NodeError{NodeErrc::not_running, joined.error().detail});
    auto g = global(node);
    if (g) {
        if (auto registered = g->register_name(Term("demo_global"_a), node.spawn(echo).pid());
            !registered)
            return unexpected(NodeError{NodeErrc::name_taken, registered.error().detail});
    }

    RpcRegistry& registry = rpc_registry(node);
    constexpr auto quick = RpcRegistry::RunOn::node_thread;
    const Groups scope = *pg;
    registry.add_async(demo, "pg_join"_a, 1,
                       [&node, scope](std::vector<Term> args, RpcReply reply) {
                           if (!args[0].is_atom())
                               return (void)reply.complete(rpc_error(Term(atoms::badarg)));
                           const Pid pid = node.spawn(echo).pid();
                           (void)scope.join(args[0], pid);
                           reply(Term(pid));
                       });
    registry.add(
        demo, "pg_leave"_a, 2,
        [scope](std::span<const Term> args) -> RpcResult {
            auto pid = args[1].to<Pid>();
            if (!pid) return rpc_error(Term(atoms::badarg));
            (void)scope.leave(args[0], *pid);
            return Term(atoms::ok);
        },
        quick);
    registry.add(
        demo, "pg_members"_a, 1,
        [scope](std::span<const Term> args) -> RpcResult {
            return sorted_pids(scope.members(args[0]));
        },
        quick);
    registry.add_async(
        demo, "global_register"_a, 1, [&node](std::vector<Term> args, RpcReply reply) {
            auto g = global(node);
            if (!g) return (void)reply.complete(rpc_error(Term(atoms::badarg)));
            ProcessHandle process = node.spawn(echo);
            g->register_name_async(args[0], process.pid(), Resolve::random_exit_name,
                                   [process, reply](Expected<void, GlobalError> done) {
                                       if (done)
                                           return (void)reply(tuple(atoms::ok, process.pid()));
                                       process.exit(process.pid(), Term(atoms::kill));
                                       reply(tuple(atoms::error, taken));
                                   });
        });
    registry.add_async(
        demo, "global_unregister"_a, 1, [&node](std::vector<Term> args, RpcReply reply) {
            auto g = global(node);
            if (!g) return (void)reply(Term(atoms::ok));
            g->unregister_name_async(
                args[0], [reply](Expected<void, GlobalError>) { reply(Term(atoms::ok)); });
        });
    registry.add_async(demo, "global_whereis"_a, 1,
                       [&node](std::vector<Term> args, RpcReply reply) {
                           auto g = global(node);
                           auto pid = g ? g->whereis_name(args[0]) : std::nullopt;
                           reply(pid ? Term(*pid) : Term(atoms::undefined));
                       });
    registry.add_async(demo, "global_names"_a, 0, [&node](std::vector<Term>, RpcReply reply) {
        auto g = global(node);
        std::vector<Term> names = g ? g->registered_names() : std::vector<Term>{};
        std::sort(names.begin(), names.end());
        reply(list_from(names));
    });
    registry.add_async(demo, "stop_process"_a, 1, [&node](std::vector<Term> args, RpcReply reply) {
        auto pid = args[0].to<Pid>();
        auto& runtime = node::Access::runtime(node);
        auto process = pid && runtime.is_local(pid->node) ? runtime.find(*pid) : nullptr;
        if (process) runtime.terminate(process, Term(atoms::normal));
        reply(Term(atoms::ok));
    });
    return {};
}

}  // namespace distribute::cli
