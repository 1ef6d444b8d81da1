#include "otp/global_resolver.hpp"

#include <exception>

#include "otp/erpc_async.hpp"
#include "otp/global_atoms.hpp"
#include "otp/global_server.hpp"
#include "otp/rpc_server.hpp"

namespace distribute::otp {

namespace {

// global's minmax/2: of two processes, the one on the node whose name sorts first.
std::pair<Pid, Pid> min_max(const Pid& a, const Pid& b) {
    if (a.node < b.node) return {a, b};
    return {b, a};
}

// A node that can run a BEAM's fun: the one that made it when we are connected to it, else any
// node global knows.
std::optional<Atom> runner_of(GlobalServer& server, const Term& method) {
    const auto known = server.known_nodes();
    if (auto closure = method.to<Closure>())
        if (auto maker = closure->pid.to<Pid>())
            if (std::find(known.begin(), known.end(), maker->node) != known.end())
                return maker->node;
    if (known.empty()) return std::nullopt;
    return known.front();
}

}  // namespace

std::shared_ptr<GlobalResolution> GlobalResolution::start(
    const std::shared_ptr<GlobalServer>& server, Atom node, Term tag, const Term& names) {
    auto resolution = std::make_shared<GlobalResolution>();
    resolution->server = server;
    resolution->node = node;
    resolution->tag = std::move(tag);
    resolution->names.assign(names.elements().begin(), names.elements().end());
    // Not on the server's handler: the resolver reads the server's tables.
    net::asio::post(server->runtime().io(), [resolution] { resolution->next(); });
    return resolution;
}

void GlobalResolution::next() {
    const GlobalAtoms& a = global_atoms();
    auto s = server.lock();
    if (!s || cancelled) return;
    const Atom self_node = s->runtime().name();
    while (at < names.size()) {
        const Term entry = names[at++];
        if (!entry.is_tuple(3) || !entry[1].is_pid()) continue;
        const Term& name = entry[0];
        const Pid his = *entry[1].to<Pid>();
        const Term& his_method = entry[2];
        auto mine = s->registration(name);
        if (!mine) {
            ops.push_back(tuple(a.insert, entry));
            continue;
        }
        // The same process, or a clash the other node resolves (its name sorts first).
        if (mine->first == his || !(self_node < node)) continue;
        const Pid my_pid = mine->first;
        const Term my_method = mine->second;
        auto self = shared_from_this();
        auto answer = [self, name, his, his_method, my_pid, my_method](Term result, bool badrpc) {
            // On to the next name from a fresh stack, whichever thread answered.
            auto s = self->server.lock();
            if (!s) return;
            net::asio::post(s->runtime().io(), [=] {
                self->apply(name, his, his_method, my_pid, my_method, result, badrpc);
                self->next();
            });
        };
        if (s->runtime().is_local(my_pid.node)) {
            resolve_it(*s, my_method, name, his, my_pid,
                       [answer](Term result) { answer(std::move(result), false); });
        } else {
            erpc_call_async(s->runtime(), my_pid.node, a.global, a.resolve_it,
                            {my_method, name, Term(his), Term(my_pid)},
                            [answer](Expected<Term, RpcError> result) {
                                if (result)
                                    answer(*result, false);
                                else
                                    answer(result.error().reason, true);
                            });
        }
        return;
    }
    s->send_from_server(
        s->pid(), tuple(atoms::gen_cast,
                        tuple(a.exchange_ops, node, tag, list_from(ops), list_from(resolved))));
}

void GlobalResolution::apply(const Term& name, const Pid& his, const Term& his_method,
                             const Pid& mine, const Term& my_method, const Term& result,
                             bool badrpc) {
    const GlobalAtoms& a = global_atoms();
    auto s = server.lock();
    if (!s) return;
    if (badrpc) {
        s->runtime().log(LogLevel::info, "global: badrpc " + to_string(result) +
                                             " received when conflicting name " + to_string(name) +
                                             " was found");
        ops.push_back(tuple(a.insert, tuple(name, his, his_method)));
    } else if (result == Term(his)) {
        ops.push_back(tuple(a.insert, tuple(name, his, his_method)));
    } else if (result == Term(mine)) {
        resolved.push_back(tuple(a.insert, tuple(name, mine, my_method)));
    } else {
        if (!result.is_atom(a.none))
            s->runtime().log(LogLevel::info, "global: Resolve method " + to_string(my_method) +
                                                 " for conflicting name " + to_string(name) +
                                                 " returned " + to_string(result));
        ops.push_back(tuple(a.delete_, name));
        resolved.push_back(tuple(a.delete_, name));
    }
}

void resolve_it(GlobalServer& server, const Term& method, const Term& name, const Pid& one,
                const Pid& other, std::function<void(Term)> done) {
    const GlobalAtoms& a = global_atoms();
    auto fun = method.to<ExportFun>();
    if (fun && fun->module == a.global && fun->arity == 3) {
        auto [min, max] = min_max(one, other);
        if (fun->function == a.random_exit_name) {
            server.runtime().log(
                LogLevel::info, "global: Name conflict terminating " + to_string(tuple(name, max)));
            server.exit_from_server(max, Term(atoms::kill));
            return done(Term(min));
        }
        if (fun->function == a.random_notify_name) {
            server.send_from_server(max, tuple(a.global_name_conflict, name));
            return done(Term(min));
        }
        if (fun->function == a.notify_all_name) {
            server.send_from_server(one, tuple(a.global_name_conflict, name, other));
            server.send_from_server(other, tuple(a.global_name_conflict, name, one));
            return done(Term(a.none));
        }
    }
    if (fun && fun->module == a.distribute_global && fun->function == a.resolve) {
        auto resolver = server.resolver_of(name);
        if (!resolver) {
            // Its registration went with an earlier run of this node: global's default.
            return resolve_it(server, Term(ExportFun{a.global, a.random_exit_name, 3}), name, one,
                              other, std::move(done));
        }
        try {
            auto keep = (*resolver)(name, one, other);
            return done(keep ? Term(*keep) : Term(a.none));
        } catch (const std::exception& e) {
            return done(tuple(atoms::EXIT, tuple(Atom::make("cpp_exception").value(),
                                                 binary(std::string_view(e.what())))));
        }
    }
    // Code of an Erlang node: run where it can be.
    auto runner = runner_of(server, method);
    if (!runner) return done(tuple(atoms::EXIT, atoms::undef));
    erpc_call_async(server.runtime(), *runner, a.global, a.resolve_it,
                    {method, name, Term(one), Term(other)},
                    [done = std::move(done)](Expected<Term, RpcError> result) {
                        done(result ? *result : tuple(atoms::badrpc, result.error().reason));
                    });
}

void serve_resolve_it(const std::shared_ptr<GlobalServer>& server) {
    const GlobalAtoms& a = global_atoms();
    std::weak_ptr<GlobalServer> weak = server;
    RpcServer::of(server->runtime())
        .registry()
        .add_async(a.global, a.resolve_it, 4, [weak](std::vector<Term> args, RpcReply reply) {
            auto s = weak.lock();
            auto one = args[2].to<Pid>();
            auto other = args[3].to<Pid>();
            if (!s || !one || !other) {
                reply.complete(rpc_error(Term(atoms::badarg)));
                return;
            }
            resolve_it(*s, args[0], args[1], *one, *other,
                       [reply](Term result) { reply(std::move(result)); });
        });
}

}  // namespace distribute::otp
