// Child specs as Erlang writes them, after supervisor.erl's check_childspec (OTP 25) and Elixir's
// DynamicSupervisor child tuples, and the terms supervisor.erl shows a child as (its #child
// record in start_child errors and sys:get_state, the map of get_childspec).
#include "actor/supervisor_core.hpp"

namespace distribute::actor_detail {

namespace {

Atom atom(const char* name) {
    return Atom::make(name).value();
}

const Atom& distribute_atom() {
    static const Atom a = atom("distribute");
    return a;
}

// A throw of check_childspec: the reason.
struct Invalid {
    Term reason;
};

Restart restart_of(const Term& t) {
    if (t.is_atom(atom("permanent"))) return Restart::permanent;
    if (t.is_atom(atom("transient"))) return Restart::transient;
    if (t.is_atom(atom("temporary"))) return Restart::temporary;
    throw Invalid{tuple(atom("invalid_restart_type"), t)};
}

ChildType type_of(const Term& t) {
    if (t.is_atom(atom("worker"))) return ChildType::worker;
    if (t.is_atom(atom("supervisor"))) return ChildType::supervisor;
    throw Invalid{tuple(atom("invalid_child_type"), t)};
}

// supervisor.erl accepts 0; Elixir's DynamicSupervisor client refuses it before it sends.
std::chrono::milliseconds shutdown_of(const Term& t) {
    if (t.is_atom(atom("infinity"))) return shutdown_infinity;
    if (t.is_atom(atom("brutal_kill"))) return brutal_kill;
    if (auto ms = t.to<std::int64_t>(); ms && *ms >= 0) return std::chrono::milliseconds(*ms);
    throw Invalid{tuple(atom("invalid_shutdown"), t)};
}

void check_modules(const Term& mods) {
    if (mods.is_atom(atom("dynamic"))) return;
    if (!mods.is_proper_list()) throw Invalid{tuple(atom("invalid_modules"), mods)};
    for (const auto& m : mods.elements())
        if (!m.is_atom()) throw Invalid{tuple(atom("invalid_module"), m)};
}

// The start: {M, F, A} with atoms and a list, else {invalid_mfa, Func}.
void set_start(Child& child, const Term& mfa) {
    if (!mfa.is_tuple(3) || !mfa[0].is_atom() || !mfa[1].is_atom() || !mfa[2].is_proper_list())
        throw Invalid{tuple(atom("invalid_mfa"), mfa)};
    child.mfa = mfa;
    const auto args = mfa[2].elements();
    FactoryStart factory{*mfa[1].to<Atom>(), std::vector<Term>(args.begin(), args.end())};
    if (mfa[0].is_atom(distribute_atom())) {
        child.spec.factory = std::move(factory);
        return;
    }
    // No Erlang module runs here: the start fails as apply/3 of an undefined function does.
    const Term reason =
        tuple(atom("EXIT"), tuple(atom("undef"), list(tuple(mfa[0], mfa[1], mfa[2], Term()))));
    child.spec.start = [reason](const ProcessHandle&) -> Expected<ProcessHandle, SupervisorError> {
        return unexpected(start_failure(reason));
    };
}

std::string key_of(const Term& id) {
    if (auto a = id.to<Atom>()) return std::string(a->name());
    return to_string(id);
}

const Term* field(const Term& map, const char* key) {
    return map.find(Term(atom(key)));
}

Child checked(const Term& spec, AutoShutdown auto_shutdown) {
    const Term* id = field(spec, "id");
    if (!id) throw Invalid{Term(atom("missing_id"))};
    const Term* start = field(spec, "start");
    if (!start) throw Invalid{Term(atom("missing_start"))};
    Child child;
    child.id = *id;
    child.spec.id = key_of(*id);
    set_start(child, *start);
    const Term* restart = field(spec, "restart");
    child.spec.restart = restart ? restart_of(*restart) : Restart::permanent;
    const Term* significant = field(spec, "significant");
    if (significant) {
        const bool yes = significant->is_atom(atoms::true_);
        if (yes && auto_shutdown == AutoShutdown::never)
            throw Invalid{
                tuple(atom("bad_combination"), list(tuple(atom("auto_shutdown"), atom("never")),
                                                    tuple(atom("significant"), atoms::true_)))};
        if (yes && child.spec.restart == Restart::permanent)
            throw Invalid{
                tuple(atom("bad_combination"), list(tuple(atom("restart"), atom("permanent")),
                                                    tuple(atom("significant"), atoms::true_)))};
        if (!yes && !significant->is_atom(atoms::false_))
            throw Invalid{tuple(atom("invalid_significant"), *significant)};
        child.spec.significant = yes;
    }
    const Term* type = field(spec, "type");
    child.spec.type = type ? type_of(*type) : ChildType::worker;
    const Term* shutdown = field(spec, "shutdown");
    child.spec.shutdown = shutdown                               ? shutdown_of(*shutdown)
                          : child.spec.type == ChildType::worker ? std::chrono::milliseconds(5000)
                                                                 : shutdown_infinity;
    const Term* modules = field(spec, "modules");
    child.modules = modules ? *modules : list((*start)[0]);
    check_modules(child.modules);
    return child;
}

}  // namespace

Term restart_term(Restart restart) {
    switch (restart) {
        case Restart::permanent:
            return Term(atom("permanent"));
        case Restart::transient:
            return Term(atom("transient"));
        case Restart::temporary:
            break;
    }
    return Term(atom("temporary"));
}

Term shutdown_term(std::chrono::milliseconds shutdown) {
    if (shutdown == brutal_kill) return Term(atom("brutal_kill"));
    if (shutdown == shutdown_infinity) return Term(atom("infinity"));
    return Term(static_cast<std::int64_t>(shutdown.count()));
}

Term type_term(ChildType type) {
    return Term(atom(type == ChildType::worker ? "worker" : "supervisor"));
}

Term start_mfa(const ChildSpec& spec) {
    if (!spec.factory) return Term(atoms::undefined);
    return tuple(distribute_atom(), spec.factory->name, list_from(spec.factory->args));
}

Term undefined_factory(const FactoryStart& factory) {
    return tuple(atom("EXIT"), tuple(atom("undef"), list(tuple(distribute_atom(), factory.name,
                                                               list_from(factory.args), Term()))));
}

Child child_of(ChildSpec spec) {
    Child child;
    child.id = child_id_term(spec.id);
    child.mfa = start_mfa(spec);
    child.modules = spec.factory ? list(distribute_atom()) : Term();
    child.spec = std::move(spec);
    return child;
}

Expected<Child, Term> child_from_term(const Term& spec, AutoShutdown auto_shutdown) {
    try {
        if (spec.is_map()) return checked(spec, auto_shutdown);
        if (spec.is_tuple(6))
            return checked(map({{Term(atom("id")), spec[0]},
                                {Term(atom("start")), spec[1]},
                                {Term(atom("restart")), spec[2]},
                                {Term(atom("shutdown")), spec[3]},
                                {Term(atom("type")), spec[4]},
                                {Term(atom("modules")), spec[5]}}),
                           auto_shutdown);
    } catch (const Invalid& invalid) {
        return unexpected(invalid.reason);
    }
    return unexpected(tuple(atom("invalid_child_spec"), spec));
}

Expected<Child, Term> child_from_dynamic(const Term& child) {
    if (!child.is_tuple(5)) return unexpected(tuple(atom("invalid_child_spec"), child));
    try {
        Child c;
        c.id = Term(atoms::undefined);
        set_start(c, child[0]);
        c.spec.restart = restart_of(child[1]);
        c.spec.shutdown = shutdown_of(child[2]);
        c.spec.type = type_of(child[3]);
        c.modules = child[4];
        check_modules(c.modules);
        return c;
    } catch (const Invalid& invalid) {
        return unexpected(invalid.reason);
    }
}

Term child_spec_to_map(const ChildSpec& spec) {
    return map({{Term(atom("id")), child_id_term(spec.id)},
                {Term(atom("start")), start_mfa(spec)},
                {Term(atom("restart")), restart_term(spec.restart)},
                {Term(atom("significant")), Term(spec.significant ? atoms::true_ : atoms::false_)},
                {Term(atom("shutdown")), shutdown_term(spec.shutdown)},
                {Term(atom("type")), type_term(spec.type)},
                {Term(atom("modules")), list(distribute_atom())}});
}

Term child_spec_map(const Child& child) {
    const ChildSpec& spec = child.spec;
    return map({{Term(atom("id")), child.id},
                {Term(atom("start")), child.mfa},
                {Term(atom("restart")), restart_term(spec.restart)},
                {Term(atom("significant")), Term(spec.significant ? atoms::true_ : atoms::false_)},
                {Term(atom("shutdown")), shutdown_term(spec.shutdown)},
                {Term(atom("type")), type_term(spec.type)},
                {Term(atom("modules")), child.modules}});
}

Term child_record(const Child& child) {
    static const Atom record = atom("child");
    static const Atom restarting = atom("restarting");
    const Term pid = child.running()    ? Term(child.handle.pid())
                     : child.restarting ? tuple(restarting, atoms::undefined)
                                        : Term(atoms::undefined);
    const ChildSpec& spec = child.spec;
    return tuple(record, pid, child.id, child.mfa, restart_term(spec.restart),
                 Term(spec.significant ? atoms::true_ : atoms::false_),
                 shutdown_term(spec.shutdown), type_term(spec.type), child.modules);
}

}  // namespace distribute::actor_detail
