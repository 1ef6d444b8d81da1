#include "actor/system_message.hpp"

namespace distribute::actor_detail {

std::optional<SystemMessage> system_message(const ProcessHandle& self, const Term& message) {
    static const Atom system = Atom::make("system").value();
    if (!message.is_tuple(3) || !message[0].is_atom(system) || !message[1].is_tuple(2))
        return std::nullopt;
    auto caller = message[1][0].to<Pid>();
    if (!caller) return SystemMessage{From(), message[2]};
    return SystemMessage{From(self, *caller, message[1][1]), message[2]};
}

Term unknown_system_msg(const Term& request) {
    static const Atom unknown = Atom::make("unknown_system_msg").value();
    return tuple(atoms::error, tuple(unknown, request));
}

}  // namespace distribute::actor_detail
