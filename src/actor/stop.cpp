// gen_server:stop/3 from C++, as proc_lib:stop/3 does it: monitor the process, ask it through
// sys (a call labelled `system` with {terminate, Reason}), then wait for its 'DOWN'.
#include "distribute/actor.hpp"

namespace distribute {

Expected<void, Term> stop_process(Node& node, const Pid& process, Term reason,
                                  std::chrono::milliseconds timeout) {
    static const Atom system = Atom::make("system").value();
    static const Atom terminate = Atom::make("terminate").value();
    Mailbox me = node.open_mailbox();
    const Reference monitor = me.monitor(process);
    const Reference tag = me.make_ref();
    me.send(process, tuple(system, tuple(me.pid(), tag), tuple(terminate, reason)));

    const bool forever = timeout == infinity_timeout;
    const auto deadline =
        std::chrono::steady_clock::now() + (forever ? std::chrono::hours(0) : timeout);
    auto left = [&] {
        if (forever) return infinity_timeout;
        auto rest = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        return std::max(rest, std::chrono::milliseconds(0));
    };
    auto is_down = [&](const Term& t) {
        return t.is_tuple(5) && t[0].is_atom(atoms::DOWN) && t[1] == Term(monitor);
    };
    auto replied = me.receive_if(
        [&](const Term& t) { return (t.is_tuple(2) && t[0] == Term(tag)) || is_down(t); }, left());
    if (!replied) {
        me.demonitor(monitor);
        return unexpected(Term(atoms::timeout));
    }
    Term down = std::move(*replied);
    if (!is_down(down)) {
        auto got = me.receive_if(is_down, left());
        if (!got) {
            me.demonitor(monitor);
            return unexpected(Term(atoms::timeout));
        }
        down = std::move(*got);
    }
    if (down[4] == reason) return {};
    return unexpected(down[4]);
}

}  // namespace distribute
