#include "otp/gen.hpp"

namespace distribute {

std::optional<GenCall> parse_gen_call(const Term& message) {
    if (!message.is_tuple(3) || !message[0].is_atom(atoms::gen_call) || !message[1].is_tuple(2))
        return std::nullopt;
    auto caller = message[1][0].to<Pid>();
    if (!caller) return std::nullopt;
    return GenCall{*caller, message[1][1], message[2]};
}

namespace otp {

std::optional<Reference> tag_alias(const Term& tag) {
    if (tag.kind() != TermKind::list || tag.elements().empty()) return std::nullopt;
    const Term& head = tag.elements()[0];
    if (tag.elements().size() == 1 && head.is_atom(atoms::alias)) return tag.tail().to<Reference>();
    if (head.kind() == TermKind::list && head.elements().size() == 1 &&
        head.elements()[0].is_atom(atoms::alias))
        return head.tail().to<Reference>();
    return std::nullopt;
}

void gen_reply(const ProcessHandle& self, const Pid& caller, const Term& tag, Term reply) {
    if (auto alias = tag_alias(tag))
        self.send_alias(*alias, tuple(tag, std::move(reply)));
    else
        self.send(caller, tuple(tag, std::move(reply)));
}

}  // namespace otp
}  // namespace distribute
