// supervisor.erl's API from C++: the calls it sends (start_child, terminate_child,
// restart_child, delete_child, which_children, count_children), to our supervisors or a BEAM's,
// and the replies read back into values or a SupervisorError.
#include "actor/supervisor_calls.hpp"

#include <atomic>
#include <map>
#include <mutex>

#include "actor/supervisor_core.hpp"

namespace distribute {

namespace {

Atom atom(const char* name) {
    return Atom::make(name).value();
}

const Atom& local_spec_atom() {
    static const Atom a = atom("$distribute_start_child");
    return a;
}

struct Deposits {
    std::mutex mutex;
    std::uint64_t next = 0;
    std::map<std::uint64_t, ChildSpec> specs;
};

Deposits& deposits() {
    static Deposits d;
    return d;
}

SupervisorError bad_reply(const Term& reply) {
    return SupervisorError{SupervisorErrc::bad_reply, "unexpected reply " + to_string(reply),
                           reply};
}

// {error, Reason} as supervisor.erl gives it: the code its reason stands for.
SupervisorError error_of(const Term& reason) {
    static const std::pair<const char*, SupervisorErrc> plain[] = {
        {"already_present", SupervisorErrc::already_present},
        {"not_found", SupervisorErrc::not_found},
        {"running", SupervisorErrc::running},
        {"restarting", SupervisorErrc::restarting},
        {"simple_one_for_one", SupervisorErrc::simple_one_for_one},
        {"max_children", SupervisorErrc::max_children},
        {"missing_id", SupervisorErrc::bad_spec},
        {"missing_start", SupervisorErrc::bad_spec},
    };
    static const char* const spec_errors[] = {
        "invalid_child_spec", "invalid_mfa",         "invalid_restart_type", "invalid_child_type",
        "invalid_shutdown",   "invalid_modules",     "invalid_module",       "invalid_significant",
        "bad_combination",    "duplicate_child_name"};
    SupervisorErrc code = SupervisorErrc::start_failed;
    for (const auto& [name, c] : plain)
        if (reason.is_atom(atom(name))) code = c;
    if (reason.is_tuple(2) && reason[0].is_atom(atom("already_started")))
        code = SupervisorErrc::already_started;
    for (const char* name : spec_errors)
        if (reason.is_tuple(2) && reason[0].is_atom(atom(name))) code = SupervisorErrc::bad_spec;
    return SupervisorError{code, make_error_code(code).message() + ": " + to_string(reason),
                           reason};
}

Expected<Term, SupervisorError> ask(Node& node, const ServerRef& supervisor, Term request,
                                    std::chrono::milliseconds timeout) {
    auto reply = call(node, supervisor, std::move(request), timeout);
    if (!reply)
        return unexpected(
            SupervisorError{SupervisorErrc::unreachable,
                            make_error_code(reply.error().code).message() +
                                (reply.error().detail.empty() ? "" : ": " + reply.error().detail),
                            reply.error().reason});
    return std::move(*reply);
}

// ok, or {error, Reason}.
Expected<void, SupervisorError> done(Expected<Term, SupervisorError> reply) {
    if (!reply) return unexpected(reply.error());
    if (reply->is_atom(atoms::ok)) return {};
    if (reply->is_tuple(2) && (*reply)[0].is_atom(atoms::error))
        return unexpected(error_of((*reply)[1]));
    return unexpected(bad_reply(*reply));
}

// {ok, Pid}, {ok, Pid, Info}, {ok, undefined}, ignore (DynamicSupervisor), or {error, Reason}.
Expected<std::optional<Pid>, SupervisorError> started(Expected<Term, SupervisorError> reply) {
    if (!reply) return unexpected(reply.error());
    const Term& r = *reply;
    if (r.is_atom(atom("ignore"))) return std::optional<Pid>();
    if ((r.is_tuple(2) || r.is_tuple(3)) && r[0].is_atom(atoms::ok)) {
        if (auto pid = r[1].to<Pid>()) return std::optional<Pid>(*pid);
        if (r[1].is_atom(atoms::undefined)) return std::optional<Pid>();
    }
    if (r.is_tuple(2) && r[0].is_atom(atoms::error)) return unexpected(error_of(r[1]));
    return unexpected(bad_reply(r));
}

}  // namespace

namespace actor_detail {

std::uint64_t deposit_spec(ChildSpec spec) {
    auto& d = deposits();
    std::lock_guard lock(d.mutex);
    const std::uint64_t number = ++d.next;
    d.specs.emplace(number, std::move(spec));
    return number;
}

std::optional<ChildSpec> take_spec(std::uint64_t number) {
    auto& d = deposits();
    std::lock_guard lock(d.mutex);
    auto it = d.specs.find(number);
    if (it == d.specs.end()) return std::nullopt;
    ChildSpec spec = std::move(it->second);
    d.specs.erase(it);
    return spec;
}

std::optional<std::uint64_t> local_spec_request(const ProcessHandle& self, const GenCall& call) {
    // Only a process of this node can have left a spec; another node's guess takes nothing.
    if (!(call.caller.node == self.pid().node)) return std::nullopt;
    auto n = call.request.tagged<std::int64_t>(local_spec_atom());
    if (!n || std::get<0>(*n) <= 0) return std::nullopt;
    return static_cast<std::uint64_t>(std::get<0>(*n));
}

Term local_spec_request_term(std::uint64_t number) {
    return tuple(local_spec_atom(), static_cast<std::int64_t>(number));
}

}  // namespace actor_detail

Expected<std::vector<ChildInfo>, SupervisorError> which_children(
    Node& node, const ServerRef& supervisor, std::chrono::milliseconds timeout) {
    static const Atom restarting = atom("restarting");
    static const Atom sup = atom("supervisor");
    auto reply = ask(node, supervisor, Term(atom("which_children")), timeout);
    if (!reply) return unexpected(reply.error());
    if (!reply->is_proper_list()) return unexpected(bad_reply(*reply));
    std::vector<ChildInfo> out;
    for (const Term& entry : reply->elements()) {
        if (!entry.is_tuple(4)) return unexpected(bad_reply(*reply));
        ChildInfo info;
        info.id = actor_detail::child_id_from(entry[0]).value_or(to_string(entry[0]));
        info.pid = entry[1].to<Pid>();
        info.restarting = entry[1].is_atom(restarting);
        info.type = entry[2].is_atom(sup) ? ChildType::supervisor : ChildType::worker;
        out.push_back(std::move(info));
    }
    return out;
}

Expected<ChildCounts, SupervisorError> count_children(Node& node, const ServerRef& supervisor,
                                                      std::chrono::milliseconds timeout) {
    auto reply = ask(node, supervisor, Term(atom("count_children")), timeout);
    if (!reply) return unexpected(reply.error());
    ChildCounts counts;
    std::pair<const char*, std::int64_t*> fields[] = {{"specs", &counts.specs},
                                                      {"active", &counts.active},
                                                      {"supervisors", &counts.supervisors},
                                                      {"workers", &counts.workers}};
    if (!reply->is_proper_list()) return unexpected(bad_reply(*reply));
    for (const Term& entry : reply->elements())
        for (auto& [name, value] : fields)
            if (auto n = entry.tagged<std::int64_t>(atom(name))) *value = std::get<0>(*n);
    return counts;
}

Expected<std::optional<Pid>, SupervisorError> start_child(Node& node, const ServerRef& supervisor,
                                                          ChildSpec spec,
                                                          std::chrono::milliseconds timeout) {
    static const Atom start_child = atom("start_child");
    if (!spec.start && spec.factory)
        return started(ask(node, supervisor,
                           tuple(start_child, actor_detail::child_spec_to_map(spec)), timeout));
    // A BEAM supervisor would crash on the call that carries it: refused here instead.
    const bool local = supervisor.pid()    ? supervisor.pid()->node == node.name()
                       : supervisor.node() ? *supervisor.node() == node.name()
                                           : !supervisor.registry();
    if (!local)
        return unexpected(SupervisorError{
            SupervisorErrc::bad_spec,
            "a spec with a C++ start function goes only to a supervisor of this node; give it a "
            "factory to start it elsewhere",
            Term(atom("not_local"))});
    const std::uint64_t number = actor_detail::deposit_spec(std::move(spec));
    auto reply =
        started(ask(node, supervisor, actor_detail::local_spec_request_term(number), timeout));
    // Not taken (a supervisor of another node, say): it must not stay behind.
    actor_detail::take_spec(number);
    return reply;
}

Expected<std::optional<Pid>, SupervisorError> start_child(Node& node, const ServerRef& supervisor,
                                                          std::vector<Term> extra_args,
                                                          std::chrono::milliseconds timeout) {
    return started(
        ask(node, supervisor, tuple(atom("start_child"), list_from(extra_args)), timeout));
}

Expected<void, SupervisorError> terminate_child(Node& node, const ServerRef& supervisor,
                                                const std::string& id,
                                                std::chrono::milliseconds timeout) {
    return done(ask(node, supervisor,
                    tuple(atom("terminate_child"), actor_detail::child_id_term(id)), timeout));
}

Expected<void, SupervisorError> terminate_child(Node& node, const ServerRef& supervisor,
                                                const Pid& child,
                                                std::chrono::milliseconds timeout) {
    return done(ask(node, supervisor, tuple(atom("terminate_child"), child), timeout));
}

Expected<std::optional<Pid>, SupervisorError> restart_child(Node& node, const ServerRef& supervisor,
                                                            const std::string& id,
                                                            std::chrono::milliseconds timeout) {
    return started(ask(node, supervisor,
                       tuple(atom("restart_child"), actor_detail::child_id_term(id)), timeout));
}

Expected<void, SupervisorError> delete_child(Node& node, const ServerRef& supervisor,
                                             const std::string& id,
                                             std::chrono::milliseconds timeout) {
    return done(ask(node, supervisor, tuple(atom("delete_child"), actor_detail::child_id_term(id)),
                    timeout));
}

}  // namespace distribute
