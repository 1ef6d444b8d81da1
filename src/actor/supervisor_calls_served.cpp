// The calls of supervisor.erl's API as a supervisor serves them (OTP 25's handle_call), and those
// of Elixir's DynamicSupervisor for the dynamic kind: start_child, terminate_child,
// restart_child, delete_child, get_childspec, which_children, count_children, each with the
// reply those modules give, errors included.
#include "actor/supervisor_calls.hpp"
#include "actor/supervisor_core.hpp"

namespace distribute::actor_detail {

namespace {

Atom atom(const char* name) {
    return Atom::make(name).value();
}

Term error(const char* reason) {
    return tuple(atoms::error, atom(reason));
}

Term child_pid_term(const Child& c) {
    if (c.running()) return Term(c.handle.pid());
    return Term(c.restarting ? atom("restarting") : atoms::undefined);
}

}  // namespace

bool Supervisor::handle_call(const ProcessHandle& self, const GenCall& call) {
    static const Atom which_children = atom("which_children");
    static const Atom count_children = atom("count_children");
    static const Atom start_child = atom("start_child");
    static const Atom terminate_child = atom("terminate_child");
    static const Atom restart_child = atom("restart_child");
    static const Atom delete_child = atom("delete_child");
    static const Atom get_childspec = atom("get_childspec");
    From from(self, call.caller, call.tag);
    const Term& request = call.request;
    if (request.is_atom(which_children)) {
        from.reply(which_children_reply());
    } else if (request.is_atom(count_children)) {
        from.reply(count_children_reply());
    } else if (auto s = request.tagged<Term>(start_child)) {
        call_start_child(self, from, std::get<0>(*s));
    } else if (auto t = request.tagged<Term>(terminate_child)) {
        call_terminate_child(self, from, std::get<0>(*t));
    } else if (auto r = request.tagged<Term>(restart_child)) {
        call_restart_child(self, from, std::get<0>(*r));
    } else if (auto d = request.tagged<Term>(delete_child)) {
        call_delete_child(from, std::get<0>(*d));
    } else if (auto g = request.tagged<Term>(get_childspec)) {
        auto index = index_of_id(std::get<0>(*g));
        if (!index) {
            from.reply(error("not_found"));
        } else {
            Child shown = children_[*index];
            if (template_) shown.id = child_id_term(template_->id);  // the template's id
            from.reply(tuple(atoms::ok, child_spec_map(shown)));
        }
    } else if (auto spec = local_spec_request(self, call)) {
        // start_child from C++ with a spec that holds C++ code (supervisor_calls.cpp).
        if (auto taken = take_spec(*spec)) {
            Child child = child_of(std::move(*taken));
            from.reply(add_child(self, std::move(child)));
        } else {
            from.reply(error("not_found"));
        }
    } else {
        return false;
    }
    return true;
}

void Supervisor::call_start_child(const ProcessHandle& self, const From& from,
                                  const Term& request) {
    switch (config_.kind) {
        case SupervisorKind::with_ids: {
            auto child = child_from_term(request, options_.auto_shutdown);
            from.reply(child ? add_child(self, std::move(*child))
                             : tuple(atoms::error, child.error()));
            return;
        }
        case SupervisorKind::simple: {
            if (!request.is_proper_list()) {
                from.reply(tuple(atoms::error, tuple(atom("badarg"), request)));
                return;
            }
            Child child = child_of(*template_);
            const auto extra = request.elements();
            if (child.spec.factory) {
                child.spec.factory->args.insert(child.spec.factory->args.end(), extra.begin(),
                                                extra.end());
            } else if (!extra.empty()) {
                // A C++ start function takes no arguments.
                from.reply(tuple(atoms::error, tuple(atom("bad_args"), request)));
                return;
            }
            child.mfa = start_mfa(child.spec);
            from.reply(add_child(self, std::move(child)));
            return;
        }
        case SupervisorKind::dynamic: {
            if (config_.max_children && children_.size() >= *config_.max_children) {
                from.reply(error("max_children"));
                return;
            }
            auto child = child_from_dynamic(request);
            if (!child) {
                from.reply(tuple(atoms::error, child.error()));
                return;
            }
            if (auto& f = child->spec.factory) {
                f->args.insert(f->args.begin(), config_.extra_arguments.begin(),
                               config_.extra_arguments.end());
                child->mfa = start_mfa(child->spec);
            }
            from.reply(add_child(self, std::move(*child)));
            return;
        }
    }
}

Term Supervisor::add_child(const ProcessHandle& self, Child child) {
    static const Atom already_started = atom("already_started");
    if (dynamic_children()) {
        child.id = Term(atoms::undefined);
        child.spec.id = "#" + std::to_string(++next_serial_);
    } else if (auto existing = index_of_id(child.id)) {
        const Child& old = children_[*existing];
        if (old.running()) return tuple(atoms::error, tuple(already_started, old.handle.pid()));
        return error("already_present");
    }
    if (auto failed = start_child(self, child)) {
        // supervisor.erl wraps the reason with the #child record; simple_one_for_one and
        // DynamicSupervisor give it as it came.
        if (dynamic_children()) return tuple(atoms::error, *failed);
        return tuple(atoms::error, tuple(*failed, child_record(child)));
    }
    if (!child.running()) {
        if (config_.kind == SupervisorKind::dynamic) return Term(atom("ignore"));
        const Term reply = tuple(atoms::ok, atoms::undefined);
        // An ignored temporary child (any ignored dynamic one) would never run: not kept.
        if (!dynamic_children() && child.spec.restart != Restart::temporary)
            children_.push_back(std::move(child));
        return reply;
    }
    const Term reply = tuple(atoms::ok, child.handle.pid());
    children_.push_back(std::move(child));
    return reply;
}

void Supervisor::call_terminate_child(const ProcessHandle& self, const From& from, const Term& id) {
    if (dynamic_children() && !id.is_pid()) {
        from.reply(
            error(config_.kind == SupervisorKind::simple ? "simple_one_for_one" : "not_found"));
        return;
    }
    auto index = index_of_id(id);
    if (!index) {
        from.reply(error("not_found"));
        return;
    }
    stop_children(self, {children_[*index].spec.id},
                  [from](const ProcessHandle&) { from.reply(Term(atoms::ok)); });
}

Expected<std::size_t, Term> Supervisor::stopped_child(const Term& id) const {
    if (dynamic_children()) return unexpected(error("simple_one_for_one"));
    auto index = index_of_id(id);
    if (!index) return unexpected(error("not_found"));
    if (children_[*index].restarting) return unexpected(error("restarting"));
    if (children_[*index].running()) return unexpected(error("running"));
    return *index;
}

void Supervisor::call_restart_child(const ProcessHandle& self, const From& from, const Term& id) {
    auto index = stopped_child(id);
    if (!index) {
        from.reply(index.error());
    } else if (auto failed = start_child(self, children_[*index])) {
        from.reply(tuple(atoms::error, *failed));
    } else {
        const Child& c = children_[*index];
        from.reply(tuple(atoms::ok, c.running() ? Term(c.handle.pid()) : Term(atoms::undefined)));
    }
}

void Supervisor::call_delete_child(const From& from, const Term& id) {
    auto index = stopped_child(id);
    if (!index) {
        from.reply(index.error());
    } else {
        children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(*index));
        from.reply(Term(atoms::ok));
    }
}

Term Supervisor::which_children_reply() const {
    std::vector<Term> out;
    // Newest first, as supervisor.erl keeps its ids.
    for (auto it = children_.rbegin(); it != children_.rend(); ++it)
        out.push_back(tuple(it->id, child_pid_term(*it), type_term(it->spec.type), it->modules));
    return list_from(out);
}

Term Supervisor::count_children_reply() const {
    std::int64_t active = 0, supervisors = 0, workers = 0;
    for (const auto& c : children_) {
        active += c.running() && c.handle.alive();
        ++(c.spec.type == ChildType::supervisor ? supervisors : workers);
    }
    std::int64_t specs = static_cast<std::int64_t>(children_.size());
    if (config_.kind == SupervisorKind::simple) {
        // One spec, the template; every child counts as of its type.
        specs = 1;
        const auto all = static_cast<std::int64_t>(children_.size());
        supervisors = template_->type == ChildType::supervisor ? all : 0;
        workers = all - supervisors;
    }
    auto pair = [](const char* k, std::int64_t v) { return tuple(atom(k), v); };
    return list(pair("specs", specs), pair("active", active), pair("supervisors", supervisors),
                pair("workers", workers));
}

}  // namespace distribute::actor_detail
