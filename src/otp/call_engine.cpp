#include "otp/call_engine.hpp"

#include "node/access.hpp"
#include "otp/gen.hpp"
#include "otp/rpc_shapes.hpp"

namespace distribute::otp {

namespace {

const Atom& calling_self_atom() {
    static const Atom a = Atom::make("calling_self").value();
    return a;
}

bool is_down_of(const Reference& ref, const Term& m) {
    return m.is_tuple(5) && m[0].is_atom(atoms::DOWN) && m[1].is_reference() &&
           *m[1].to<Reference>() == ref;
}

bool is_reply_of(const Reference& ref, const Term& m) {
    if (!m.is_tuple(2)) return false;
    auto alias = tag_alias(m[0]);
    return alias && *alias == ref;
}

// An answer queued now, with no monitor behind it.
RequestId answered_at_once(node::Process& self, const ServerRef& server, Atom node, Term reason) {
    auto& runtime = self.runtime;
    Reference ref = runtime.make_ref();
    runtime.send(self, self.pid,
                 tuple(atoms::DOWN, ref, atoms::process, server.to_term(), std::move(reason)));
    return RequestId(ref, node, false);
}

}  // namespace

RequestId start_call(const ProcessHandle& self, const ServerRef& server, Atom label, Term request,
                     bool refuse_self) {
    auto& p = node::Access::process(self);
    auto& runtime = p.runtime;
    std::optional<Pid> pid;
    if (server.pid()) pid = *server.pid();
    const bool by_registry = server.registry().has_value();
    if (by_registry) {
        pid = runtime.resolve(*server.registry(), *server.registered_name());
        if (!pid) return answered_at_once(p, server, runtime.name(), Term(atoms::noproc));
    }
    const Atom node = pid ? pid->node : server.node().value_or(runtime.name());
    if (refuse_self) {
        const bool self_by_name = !pid && runtime.is_local(node) && [&] {
            auto named = runtime.whereis(*server.name());
            return named && named.get() == &p;
        }();
        if ((pid && *pid == p.pid) || self_by_name)
            return answered_at_once(p, server, node, Term(calling_self_atom()));
    }
    const Reference ref =
        pid ? runtime.monitor(p, *pid, node, true) : runtime.monitor(p, *server.name(), node, true);
    const Term alias_head[] = {Term(atoms::alias)};
    Term message = tuple(label, tuple(p.pid, list_from(alias_head, Term(ref))), std::move(request));
    // Without connecting: the monitor went over the connection already, and a node it found
    // unreachable must not be dialled a second time (gen sends with `noconnect`).
    if (pid)
        runtime.send(p, *pid, std::move(message), node::Dial::no);
    else
        runtime.send_named(p, *server.name(), node, std::move(message), node::Dial::no);
    return RequestId(ref, node, by_registry);
}

bool answers(const RequestId& id, const Term& message) {
    return is_reply_of(id.ref(), message) || is_down_of(id.ref(), message);
}

std::optional<Reference> answered(const Term& m) {
    if (m.is_tuple(2)) return tag_alias(m[0]);
    if (m.is_tuple(5) && m[0].is_atom(atoms::DOWN)) return m[1].to<Reference>();
    return std::nullopt;
}

Expected<Term, CallError> outcome(const ProcessHandle& self, const RequestId& id,
                                  const Term& answer) {
    auto& p = node::Access::process(self);
    if (answer.is_tuple(2)) {
        // The alias goes with the monitor; a 'DOWN' that fired meanwhile is queued already.
        if (!p.runtime.demonitor(p, id.ref()))
            p.runtime.discard(p, [&](const Term& m) { return is_down_of(id.ref(), m); });
        return answer[1];
    }
    const Term& reason = answer[4];
    // Found through a name service: its node going down reads as the name being gone, as gen's
    // do_for_proc makes it.
    if (id.by_registry() && reason.is_atom(atoms::noconnection))
        return unexpected(call_down_error(Term(atoms::noproc), id.node()));
    return unexpected(call_down_error(reason, id.node()));
}

std::optional<Term> abandon(const ProcessHandle& self, const RequestId& id) {
    auto& p = node::Access::process(self);
    if (!p.runtime.demonitor(p, id.ref()))
        p.runtime.discard(p, [&](const Term& m) { return is_down_of(id.ref(), m); });
    return p.runtime.take(p, [&](const Term& m) { return is_reply_of(id.ref(), m); });
}

CallError timeout_error() {
    return CallError{CallErrc::timeout, Term(atoms::timeout), "no reply in time", std::nullopt};
}

CallError node_thread_error() {
    return CallError{CallErrc::node_thread, Term(),
                     "a blocking call cannot wait on one of the node's threads (inside a handler "
                     "or an actor's callback): use send_request, Actor::call_async or a coroutine",
                     std::nullopt};
}

CallError receive_failed(const ReceiveError& e) {
    if (e.code == ReceiveErrc::node_thread) return node_thread_error();
    return CallError{CallErrc::caller_exited, e.reason,
                     "the calling process ended: " + to_string(e.reason), std::nullopt};
}

}  // namespace distribute::otp
