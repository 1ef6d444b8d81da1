#include "actor/sys_status.hpp"

#include <mutex>

#include "node/access.hpp"

namespace distribute::actor_detail {

namespace {

Atom atom(const char* name) {
    return Atom::make(name).value();
}

}  // namespace

Term text_term(const std::string& s) {
    return charlist(s).value_or(binary(s));
}

Term gen_server_status(const ProcessHandle& self, const std::string& who, bool suspended,
                       const Term& parent, const SysDebug& debug, const Term& state,
                       const std::vector<Term>& more) {
    static const Atom status = atom("status");
    static const Atom module = atom("module");
    static const Atom gen_server = atom("gen_server");
    static const Atom header = atom("header");
    static const Atom data = atom("data");
    const Term sys_state(atom(suspended ? "suspended" : "running"));
    std::vector<Term> misc{
        tuple(header, text_term("Status for generic server " + who)),
        tuple(data, list(tuple(text_term("Status"), sys_state), tuple(text_term("Parent"), parent),
                         tuple(text_term("Logged events"), debug.logged_events()))),
        tuple(data, list(tuple(text_term("State"), state)))};
    misc.insert(misc.end(), more.begin(), more.end());
    Term dictionary;
    {
        auto& process = node::Access::process(self);
        std::lock_guard lock(process.mutex);
        dictionary = dictionary_of(process);
    }
    return tuple(status, self.pid(), tuple(module, gen_server),
                 list(dictionary, sys_state, parent, debug.options(), list_from(misc)));
}

Term dictionary_of(const node::Process& process) {
    std::vector<Term> entries;
    if (process.description)
        for (const auto& [key, value] : process.description->dictionary)
            entries.push_back(tuple(key, value));
    return list_from(entries);
}

Term callback_failed(const char* callback, const Term& reason) {
    static const Atom callback_failed = atom("callback_failed");
    static const Atom gen_server = atom("gen_server");
    return tuple(atoms::error, tuple(callback_failed, tuple(gen_server, atom(callback)),
                                     tuple(atoms::error, reason)));
}

}  // namespace distribute::actor_detail
