// Starting a handler process the way gen:start does: link, then register, then init.
#include "actor/process_start.hpp"

#include "node/access.hpp"

namespace distribute::actor_detail {

namespace {

const Atom& ancestors_key() {
    static const Atom a = Atom::make("$ancestors").value();
    return a;
}

// proc_lib's '$ancestors': the parent (by its registered name when it has one), then the
// parent's own ancestors when it is a process of ours that keeps them.
Term ancestors(node::Runtime& runtime, const std::optional<Pid>& parent) {
    if (!parent) return Term();
    Term first(*parent);
    Term rest;
    if (auto p = runtime.find(*parent)) {
        std::lock_guard lock(p->mutex);
        if (p->relations && !p->relations->names.empty()) first = Term(p->relations->names.front());
        if (p->description)
            for (const auto& [key, value] : p->description->dictionary)
                if (key.is_atom(ancestors_key())) rest = value;
    }
    return list_from(std::span<const Term>(&first, 1), rest);
}

// What proc_lib puts in the dictionary of the processes it starts, for tools to read.
void label(const ProcessHandle& self, const StartSpec& spec) {
    static const Atom initial_call = Atom::make("$initial_call").value();
    auto& process = node::Access::process(self);
    node::put_in_dictionary(process, Term(ancestors_key()),
                            ancestors(process.runtime, spec.link_to ? spec.link_to : spec.spawner));
    node::put_in_dictionary(process, Term(initial_call), spec.initial_call);
}

}  // namespace

Expected<ProcessHandle, StartError> spawn_linked(node::Runtime& runtime, Node::Handler handler,
                                                 const StartSpec& spec) {
    static const Atom already_started = Atom::make("already_started").value();
    const auto& link_to = spec.link_to;
    const auto& name = spec.name;
    ProcessHandle self(runtime.spawn_handler(std::move(handler), spec.trap_exit));
    if (!self.alive()) return unexpected(StartError{StartErrc::not_running, exit_reason(self)});
    if (link_to) {
        self.link(*link_to);
        // A parent that is gone sends noproc at once: an untrapped one ends us now.
        if (!self.alive()) return unexpected(StartError{StartErrc::init_failed, exit_reason(self)});
    }
    if (name) {
        if (auto taken = runtime.register_name(*name, self.pid()); !taken) {
            auto holder = runtime.whereis(*name);
            Term reason = holder ? tuple(already_started, holder->pid)
                                 : tuple(already_started, atoms::undefined);
            // As gen: the process that lost the race exits normally, so its parent is unharmed.
            self.exit_self(Term(atoms::normal));
            return unexpected(StartError{StartErrc::name_taken, reason});
        }
    }
    label(self, spec);
    return self;
}

void abandon(const ProcessHandle& process, std::optional<Atom> name, Term reason) {
    if (name) {
        auto& runtime = node::Access::process(process).runtime;
        if (auto holder = runtime.whereis(*name); holder && holder->pid == process.pid())
            runtime.unregister_name(*name);
    }
    process.exit_self(std::move(reason));
}

Term exit_reason(const ProcessHandle& process) {
    auto& p = node::Access::process(process);
    std::lock_guard lock(p.mutex);
    return p.exit_reason;
}

bool clean_exit(const Term& reason) {
    return reason.is_atom(atoms::normal) || reason.is_atom(atoms::shutdown) ||
           (reason.is_tuple(2) && reason[0].is_atom(atoms::shutdown));
}

Term exception_reason(const char* what) {
    static const Atom cpp_exception = Atom::make("cpp_exception").value();
    return tuple(cpp_exception, binary(what));
}

std::string describe(const Pid& pid, std::optional<Atom> name) {
    if (name) return std::string(name->name());
    return to_string(Term(pid));
}

}  // namespace distribute::actor_detail
