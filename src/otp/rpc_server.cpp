#include "otp/rpc_server.hpp"

#include <exception>
#include <stdexcept>
#include <string>

#include "node/access.hpp"
#include "otp/rpc_registry.hpp"
#include "otp/rpc_shapes.hpp"

namespace distribute::otp {

namespace {

struct Names {
    Atom erpc = Atom::make("erpc").value();
    Atom execute_call = Atom::make("execute_call").value();
    Atom execute_cast = Atom::make("execute_cast").value();
    Atom notsup = Atom::make("notsup").value();
    Atom badopt = Atom::make("badopt").value();
    Atom link = Atom::make("link").value();
    Atom monitor = Atom::make("monitor").value();
    Atom cpp_exception = Atom::make("cpp_exception").value();
    Atom system_limit = Atom::make("system_limit").value();
};
const Names& names() {
    static const Names n;
    return n;
}

// A C++ exception escaping a registered function is an error of the call, not of the node.
RpcRaise from_exception(std::exception_ptr thrown) {
    std::string what = "unknown exception";
    try {
        std::rethrow_exception(thrown);
    } catch (const std::exception& e) {
        what = e.what();
    } catch (...) {
    }
    return RpcRaise{atoms::error, tuple(names().cpp_exception, binary(what)), std::nullopt};
}

RpcResult run_guarded(const RpcRegistry::Function& function, const std::vector<Term>& args) {
    try {
        return function(std::span<const Term>(args));
    } catch (...) {
        return unexpected(from_exception(std::current_exception()));
    }
}

std::string mfa(Atom module, Atom function, std::size_t arity) {
    return to_string(Term(module)) + ":" + to_string(Term(function)) + "/" + std::to_string(arity);
}

}  // namespace

RpcServer& RpcServer::of(node::Runtime& runtime) {
    auto* server = dynamic_cast<RpcServer*>(runtime.spawn_service());
    if (server == nullptr) throw std::logic_error("this node has no rpc server");
    return *server;
}

void RpcServer::stop() {
    registry_.state_->stop();
}

void RpcServer::dispatch(Atom module, Atom function, std::vector<Term> args, Done done) {
    const std::size_t arity = args.size();
    auto entry = registry_.state_->find(module, function, arity);
    if (!entry) {
        done(unexpected(undef_raise(module, function, list_from(args))));
        return;
    }
    auto finish = [done = std::move(done), module, function, arity](RpcResult result) {
        done(with_stack(std::move(result), module, function, arity));
    };
    // Functions start on a node thread or a worker, never on the connection's own strand.
    if (auto* sync = std::get_if<0>(&*entry)) {
        auto job = [sync = *sync, args = std::move(args), finish = std::move(finish)]() {
            finish(run_guarded(sync->body, args));
        };
        if (sync->get()->where == RpcRegistry::RunOn::node_thread)
            net::asio::post(runtime_.work_context(), std::move(job));
        else
            registry_.state_->post(std::move(job));
        return;
    }
    net::asio::post(runtime_.work_context(), [body = std::get<1>(*entry), args = std::move(args),
                                              finish = std::move(finish)]() mutable {
        RpcReply reply(std::make_shared<RpcReply::State>(std::move(finish)));
        try {
            (*body)(std::move(args), reply);
        } catch (...) {
            reply.complete(unexpected(from_exception(std::current_exception())));
        }
    });
}

RemoteWork::Ticket RpcServer::begin_remote_work(Atom peer, const std::string& what) {
    const std::size_t limit = runtime_.limits().max_remote_calls_per_peer;
    auto ticket = remote_work_->begin(peer, limit);
    if (!ticket)
        runtime_.log(LogLevel::warning,
                     "refused " + what + " from " + std::string(peer.name()) + ": it has " +
                         std::to_string(limit) +
                         " calls in progress here (limits.max_remote_calls_per_peer)");
    return ticket;
}

void RpcServer::on_spawn_request(node::Connection& from, wire::SpawnRequest&& request) {
    const Names& n = names();
    if (request.module == n.erpc && request.function == n.execute_call && request.arity == 4) {
        serve(from, request, true);
    } else if (request.module == n.erpc && request.function == n.execute_cast &&
               request.arity == 3) {
        serve(from, request, false);
    } else if (auto it =
                   spawnable_.find(std::tuple(request.module, request.function, request.arity));
               it != spawnable_.end()) {
        serve_spawnable(from, request, it->second);
    } else {
        // Only registered functions run here: a spawn of anything else (a fun, a module of the
        // caller's) is refused the way a node without distributed spawn refuses it.
        runtime_.log(LogLevel::debug, "refused a spawn of " +
                                          mfa(request.module, request.function, request.arity) +
                                          " from " + std::string(from.peer.name()));
        from.send(wire::SpawnReply{request.req_id, request.from, 0, Term(n.notsup), std::nullopt});
    }
}

void RpcServer::serve(node::Connection& from, const wire::SpawnRequest& request, bool call) {
    auto refuse = [&](Atom why) {
        from.send(wire::SpawnReply{request.req_id, request.from, 0, Term(why), std::nullopt});
    };
    // execute_call(Res, M, F, A) or execute_cast(M, F, A)
    const auto parts = request.args.elements();
    if (!request.args.is_proper_list() || parts.size() != request.arity)
        return refuse(atoms::badarg);
    const std::size_t at = call ? 1 : 0;
    const auto module = parts[at].to<Atom>();
    const auto function = parts[at + 1].to<Atom>();
    const Term& arguments = parts[at + 2];
    if (!module || !function || !arguments.is_proper_list()) return refuse(atoms::badarg);
    const std::size_t arity = arguments.elements().size();
    auto ticket = begin_remote_work(
        from.peer, (call ? "erpc:call of " : "erpc:cast of ") + mfa(*module, *function, arity));
    // What a BEAM answers when it cannot make the process.
    if (!ticket) return refuse(names().system_limit);
    auto process = spawn_for(from, request);
    if (!process) return;

    std::weak_ptr<node::Process> weak = process;
    Term res = call ? parts[0] : Term();
    const Atom peer = from.peer;
    const Atom m = *module, f = *function;
    dispatch(m, f, std::vector<Term>(arguments.elements().begin(), arguments.elements().end()),
             [weak, res, call, peer, m, f, arity, ticket = std::move(ticket)](RpcResult result) {
                 // Gone already: killed through its link, or the node stopped.
                 auto p = weak.lock();
                 if (!p) return;
                 if (!call && !result)
                     p->runtime.log(LogLevel::warning, "erpc:cast of " + mfa(m, f, arity) +
                                                           " from " + std::string(peer.name()) +
                                                           " raised " +
                                                           to_string(Term(result.error().kind)) +
                                                           ":" + to_string(result.error().reason));
                 p->runtime.terminate(
                     p, call ? erpc_call_reason(res, result) : erpc_cast_reason(result));
             });
}

std::shared_ptr<node::Process> RpcServer::spawn_for(node::Connection& from,
                                                    const wire::SpawnRequest& request) {
    const Names& n = names();
    if (!request.options.is_proper_list()) {
        from.send(wire::SpawnReply{request.req_id, request.from, 0, Term(n.badopt), std::nullopt});
        return nullptr;
    }
    bool link = false, monitor = false;
    for (const Term& option : request.options.elements()) {
        if (option.is_atom(n.link)) link = true;
        if (option.is_atom(n.monitor) || (option.is_tuple(2) && option[0].is_atom(n.monitor)))
            monitor = true;
        // Other spawn options (priority, heap sizes...) mean nothing to a C++ process.
    }
    auto process = runtime_.spawn_handler([](const ProcessHandle&, Term) {}, false);
    std::uint32_t flags = 0;
    if (monitor) {
        runtime_.add_remote_watcher(*process, request.from, request.req_id, from);
        flags |= wire::SpawnReply::monitor_made;
    }
    if (link) {
        runtime_.add_remote_link(*process, request.from, from);
        flags |= wire::SpawnReply::link_made;
    }
    // Before anything the process does: the connection keeps this order, and the caller must
    // learn the pid before the DOWN that carries the result.
    from.send(
        wire::SpawnReply{request.req_id, request.from, flags, Term(process->pid), std::nullopt});
    return process;
}

void RpcServer::add_spawnable(Atom module, Atom function, std::size_t arity, Spawnable body) {
    spawnable_[std::tuple(module, function, arity)] = std::move(body);
}

void RpcServer::serve_spawnable(node::Connection& from, const wire::SpawnRequest& request,
                                const Spawnable& body) {
    if (!request.args.is_proper_list() || request.args.elements().size() != request.arity) {
        from.send(
            wire::SpawnReply{request.req_id, request.from, 0, Term(atoms::badarg), std::nullopt});
        return;
    }
    auto ticket = begin_remote_work(
        from.peer, "spawn of " + mfa(request.module, request.function, request.arity));
    if (!ticket) {
        from.send(wire::SpawnReply{request.req_id, request.from, 0, Term(names().system_limit),
                                   std::nullopt});
        return;
    }
    auto process = spawn_for(from, request);
    if (!process) return;
    std::weak_ptr<node::Process> weak = process;
    net::asio::post(
        runtime_.work_context(), [weak, body, args = request.args, ticket = std::move(ticket)]() {
            auto p = weak.lock();
            if (!p || !p->alive.load(std::memory_order_relaxed)) return;
            Term reason(atoms::normal);
            try {
                body(ProcessHandle(p), args.elements());
            } catch (...) {
                std::string what;
                reason = node::crash_reason(std::current_exception(), what);
                p->runtime.log(LogLevel::warning, "a spawned " + to_string(Term(p->pid)) +
                                                      " ended with an exception: " + what);
            }
            p->runtime.terminate(p, std::move(reason));
        });
}

}  // namespace distribute::otp

namespace distribute {

RpcRegistry& rpc_registry(Node& node) {
    return otp::RpcServer::of(node::Access::runtime(node)).registry();
}

}  // namespace distribute
