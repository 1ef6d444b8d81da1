// Starting a handler process the way gen:start does: link, then register, then init.
#include "actor/process_start.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "node/access.hpp"

namespace distribute::actor_detail {

Expected<ProcessHandle, StartError> spawn_linked(node::Runtime& runtime, Node::Handler handler,
                                                 bool trap_exit, std::optional<Pid> link_to,
                                                 std::optional<Atom> name) {
    static const Atom already_started = Atom::make("already_started").value();
    ProcessHandle self(runtime.spawn_handler(std::move(handler), trap_exit));
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
    return self;
}

void describe_actor(const ProcessHandle& process, const std::type_info& type) {
    int status = 0;
    std::unique_ptr<char, decltype(&std::free)> demangled(
        abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), &std::free);
    std::string name = status == 0 && demangled ? demangled.get() : type.name();
    // An atom holds 255 characters; a long template name keeps its beginning.
    while (!Atom::make(name)) {
        name.resize(std::min<std::size_t>(name.size() - 1, 255));
    }
    const Atom module = Atom::make(name).value();
    static const Atom init = Atom::make("init").value();
    static const Atom loop = Atom::make("loop").value();
    node::describe(node::Access::process(process), tuple(module, init, Term(std::int64_t{0})),
                   tuple(module, loop, Term(std::int64_t{0})));
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
