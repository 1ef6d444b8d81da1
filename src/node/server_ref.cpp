// ServerRef: the forms of a server as Erlang writes them, and where a message to one goes.
#include "distribute/server_ref.hpp"

#include "node/runtime.hpp"

namespace distribute {

namespace {
const Atom& global_atom() {
    static const Atom a = Atom::make("global").value();
    return a;
}
const Atom& via_atom() {
    static const Atom a = Atom::make("via").value();
    return a;
}
}  // namespace

ServerRef ServerRef::global(Term name) {
    return registered(global_atom(), std::move(name));
}

std::optional<ServerRef> ServerRef::from_term(const Term& term) {
    if (auto pid = term.to<Pid>()) return ServerRef(*pid);
    if (auto name = term.to<Atom>()) return ServerRef(*name);
    if (term.is_tuple(2) && term[0].is_atom(global_atom())) return global(term[1]);
    if (term.is_tuple(3) && term[0].is_atom(via_atom()) && term[1].kind() == TermKind::atom)
        return registered(*term[1].to<Atom>(), term[2]);
    if (auto named = term.unpack<Atom, Atom>())
        return ServerRef(std::get<0>(*named), std::get<1>(*named));
    return std::nullopt;
}

Term ServerRef::to_term() const {
    if (auto pid = std::get_if<Pid>(&target_)) return Term(*pid);
    if (auto name = std::get_if<Atom>(&target_)) return Term(*name);
    if (auto named = std::get_if<std::pair<Atom, Atom>>(&target_))
        return tuple(named->first, named->second);
    auto& r = std::get<Registered>(target_);
    if (r.registry == global_atom()) return tuple(global_atom(), r.name);
    return tuple(via_atom(), r.registry, r.name);
}

std::optional<Atom> ServerRef::name() const {
    if (auto a = std::get_if<Atom>(&target_)) return *a;
    if (auto p = std::get_if<std::pair<Atom, Atom>>(&target_)) return p->first;
    return std::nullopt;
}

std::optional<Atom> ServerRef::node() const {
    if (auto p = std::get_if<std::pair<Atom, Atom>>(&target_)) return p->second;
    return std::nullopt;
}

std::optional<Atom> ServerRef::registry() const {
    if (auto r = std::get_if<Registered>(&target_)) return r->registry;
    return std::nullopt;
}

const Term* ServerRef::registered_name() const {
    if (auto r = std::get_if<Registered>(&target_)) return &r->name;
    return nullptr;
}

std::string ServerRef::to_string() const {
    return distribute::to_string(to_term());
}

namespace node {

void Runtime::set_name_resolver(Atom registry, NameResolver resolver) {
    std::unique_lock lock(resolvers_mutex_);
    if (resolver)
        resolvers_[registry.index()] = std::move(resolver);
    else
        resolvers_.erase(registry.index());
}

std::optional<Pid> Runtime::resolve(Atom registry, const Term& name) const {
    NameResolver resolver;
    {
        std::shared_lock lock(resolvers_mutex_);
        auto it = resolvers_.find(registry.index());
        if (it == resolvers_.end()) return std::nullopt;
        resolver = it->second;
    }
    return resolver(name);
}

void Runtime::send_to(const Process& from, const ServerRef& to, Term message) {
    if (auto pid = to.pid()) {
        send(from, *pid, std::move(message));
    } else if (auto registry = to.registry()) {
        // As global:send and {via, M, _}: whoever has the name now; nobody, and it is dropped.
        if (auto pid = resolve(*registry, *to.registered_name()))
            send(from, *pid, std::move(message));
        else
            count_dropped();
    } else {
        send_named(from, *to.name(), to.node().value_or(name_), std::move(message));
    }
}

}  // namespace node

}  // namespace distribute
