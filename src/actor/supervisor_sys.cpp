// sys on supervisors (OTP 25's sys.erl do_cmd, with supervisor.erl's gen_server behind it):
// terminate (the ordered shutdown), suspend/resume (other messages, children's exits included,
// wait, as in sys's suspend loop), get_state (supervisor.erl's #state record, or
// DynamicSupervisor's struct), get_status (gen_server's, with supervisor's Callback entry),
// replace_state refused as a failed callback, the debug options of sys_debug.cpp, change_code
// while suspended, and {error, {unknown_system_msg, Request}} for anything else.
#include <algorithm>

#include "actor/supervisor_core.hpp"
#include "actor/sys_status.hpp"

namespace distribute::actor_detail {

namespace {

Atom atom(const char* name) {
    return Atom::make(name).value();
}

Term strategy_term(Strategy strategy) {
    switch (strategy) {
        case Strategy::one_for_one:
            return Term(atom("one_for_one"));
        case Strategy::one_for_all:
            return Term(atom("one_for_all"));
        case Strategy::rest_for_one:
            return Term(atom("rest_for_one"));
        case Strategy::simple_one_for_one:
            break;
    }
    return Term(atom("simple_one_for_one"));
}

Term auto_shutdown_term(AutoShutdown a) {
    if (a == AutoShutdown::any_significant) return Term(atom("any_significant"));
    if (a == AutoShutdown::all_significant) return Term(atom("all_significant"));
    return Term(atom("never"));
}

// supervisor.erl's period is in seconds: ours, rounded up.
std::int64_t period_seconds(std::chrono::milliseconds period) {
    return (period.count() + 999) / 1000;
}

const Atom& module_atom() {
    static const Atom a = atom("distribute");
    return a;
}

}  // namespace

bool Supervisor::system(const ProcessHandle& self, const SystemMessage& sys) {
    if (!sys.from) return true;
    switch (sys.kind) {
        case SysRequest::terminate:
            sys.from.reply(Term(atoms::ok));
            shut_down(self, sys.arg);
            return !ended_;
        case SysRequest::suspend:
            suspended_ = true;
            sys.from.reply(Term(atoms::ok));
            return true;
        case SysRequest::resume:
            suspended_ = false;
            sys.from.reply(Term(atoms::ok));
            // What came while suspended goes first, in the order it came.
            deferred_.insert(deferred_.begin(), std::make_move_iterator(held_.begin()),
                             std::make_move_iterator(held_.end()));
            held_.clear();
            return true;
        case SysRequest::get_state:
            state_replies_.reply(self, sys.from, state_term(self));
            return true;
        case SysRequest::replace_state:
            // A BEAM fun cannot run on this state.
            sys.from.reply(
                callback_failed("system_replace_state", Term(atom("replace_state_not_supported"))));
            return true;
        case SysRequest::get_status:
            sys.from.reply(status_term(self));
            return true;
        case SysRequest::debug:
            sys.from.reply(debug_.command(self, label(self), sys.arg));
            return true;
        case SysRequest::change_code:
            if (!suspended_) break;
            sys.from.reply(Term(atoms::ok));  // no state to migrate: the options are the state
            return true;
        case SysRequest::unknown:
            break;
    }
    sys.from.reply(unknown_system_msg(sys.request));
    return true;
}

Term Supervisor::state_term(const ProcessHandle& self) const {
    const Term name =
        options_.name ? tuple(atom("local"), *options_.name) : tuple(self.pid(), module_atom());
    std::vector<Term> restarts;
    for (const auto& r : restarts_)
        restarts.push_back(Term(static_cast<std::int64_t>(
            std::chrono::duration_cast<std::chrono::seconds>(r.time_since_epoch()).count())));
    if (config_.kind == SupervisorKind::dynamic) {
        // Elixir's %DynamicSupervisor{} struct.
        std::vector<MapEntry> kids;
        for (const auto& c : children_) {
            const Term info =
                tuple(c.mfa, restart_term(c.spec.restart), shutdown_term(c.spec.shutdown),
                      type_term(c.spec.type), c.modules);
            if (c.running()) kids.push_back({Term(c.handle.pid()), info});
        }
        const Term max = config_.max_children
                             ? Term(static_cast<std::int64_t>(*config_.max_children))
                             : Term(atom("infinity"));
        return map({{Term(atom("__struct__")), Term(atom("Elixir.DynamicSupervisor"))},
                    {Term(atom("args")), Term()},
                    {Term(atom("children")), map_from(kids)},
                    {Term(atom("extra_arguments")), list_from(config_.extra_arguments)},
                    {Term(atom("max_children")), max},
                    {Term(atom("max_restarts")), Term(options_.intensity)},
                    {Term(atom("max_seconds")), Term(period_seconds(options_.period))},
                    {Term(atom("mod")), Term(module_atom())},
                    {Term(atom("name")), name},
                    {Term(atom("restarts")), list_from(restarts)},
                    {Term(atom("strategy")), Term(atom("one_for_one"))}});
    }
    // supervisor.erl's #state{name, strategy, children = {Ids, Db}, dynamics, intensity,
    // period, restarts, dynamic_restarts, auto_shutdown, module, args}.
    std::vector<Term> ids;
    std::vector<MapEntry> db;
    Term dynamics(atoms::undefined);
    std::int64_t dynamic_restarts = 0;
    if (template_) {
        Child shown = child_of(*template_);
        ids.push_back(shown.id);
        db.push_back({shown.id, child_record(shown)});
        std::vector<MapEntry> pids;
        for (const auto& c : children_) {
            if (c.running())
                pids.push_back({Term(c.handle.pid()), c.mfa.is_tuple(3) ? c.mfa[2] : Term()});
            dynamic_restarts += c.restarting;
        }
        dynamics = tuple(atom("maps"), map_from(pids));
    } else {
        for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
            ids.push_back(it->id);
            db.push_back({it->id, child_record(*it)});
        }
    }
    return tuple(atom("state"), name, strategy_term(options_.strategy),
                 tuple(list_from(ids), map_from(db)), dynamics, options_.intensity,
                 period_seconds(options_.period), list_from(restarts), dynamic_restarts,
                 auto_shutdown_term(options_.auto_shutdown), module_atom(), Term());
}

Term Supervisor::status_term(const ProcessHandle& self) const {
    const std::string who =
        options_.name ? std::string(options_.name->name()) : to_string(Term(self.pid()));
    const Term parent(options_.link_to ? *options_.link_to : self.pid());
    std::vector<Term> more;
    if (config_.kind != SupervisorKind::dynamic)
        more.push_back(
            tuple(atom("supervisor"), list(tuple(text_term("Callback"), module_atom()))));
    return gen_server_status(self, who, suspended_, parent, debug_, state_term(self), more);
}

void Supervisor::debug_event(const ProcessHandle& self, const Term& event) {
    debug_.event(self,
                 options_.name ? std::string(options_.name->name()) : to_string(Term(self.pid())),
                 event);
}

}  // namespace distribute::actor_detail
