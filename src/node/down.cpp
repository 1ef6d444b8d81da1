// Down: a monitor's 'DOWN' message as a value, and waiting for one.
#include "distribute/mailbox.hpp"

namespace distribute {

std::optional<Pid> Down::pid() const {
    return object.to<Pid>();
}

std::optional<Down> Down::from_term(const Term& message) {
    if (!message.is_tuple(5) || !message[0].is_atom(atoms::DOWN) ||
        !message[2].is_atom(atoms::process))
        return std::nullopt;
    auto ref = message[1].to<Reference>();
    if (!ref) return std::nullopt;
    return Down{*ref, message[3], message[4]};
}

Term Down::to_term() const {
    return tuple(atoms::DOWN, ref, atoms::process, object, reason);
}

namespace {

Expected<Down, ReceiveError> receive_down_if(Mailbox& mailbox,
                                             const std::function<bool(const Down&)>& wanted,
                                             std::chrono::milliseconds timeout) {
    auto got = mailbox.receive_if(
        [&](const Term& message) {
            auto down = Down::from_term(message);
            return down && wanted(*down);
        },
        timeout);
    if (!got) return unexpected(got.error());
    return *Down::from_term(*got);
}

}  // namespace

Expected<Down, ReceiveError> receive_down(Mailbox& mailbox, const Reference& ref,
                                          std::chrono::milliseconds timeout) {
    return receive_down_if(
        mailbox, [&](const Down& down) { return down.ref == ref; }, timeout);
}

Expected<Down, ReceiveError> receive_down(Mailbox& mailbox, std::chrono::milliseconds timeout) {
    return receive_down_if(
        mailbox, [](const Down&) { return true; }, timeout);
}

}  // namespace distribute
