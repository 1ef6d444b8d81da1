// From: where a gen_server reply goes. The rule is gen:reply/2's (OTP 25, gen.erl), kept in
// otp/gen: a tag [alias | Alias] or [[alias | Alias] | _] sends {Tag, Reply} to the alias,
// anything else to the caller's pid.
#include "distribute/actor.hpp"
#include "node/access.hpp"
#include "otp/gen.hpp"

namespace distribute {

From::From(const ProcessHandle& server, Pid caller, Term tag)
    : server_(node::Access::shared(server)), caller_(caller), tag_(std::move(tag)), set_(true) {}

std::optional<Reference> From::alias() const {
    return otp::tag_alias(tag_);
}

Term From::to_term() const {
    return tuple(caller_, tag_);
}

void From::reply(const Term& reply) const {
    if (!set_) return;
    auto server = server_.lock();
    if (!server) return;
    ProcessHandle sender(std::move(server));
    if (auto alias = otp::tag_alias(tag_))
        sender.send_alias(*alias, tuple(tag_, reply));
    else
        sender.send(caller_, tuple(tag_, reply));
}

std::optional<GenCall> parse_gen_call(const Term& message) {
    auto call = otp::parse_gen_call(message);
    if (!call) return std::nullopt;
    return GenCall{call->caller, call->from[1], std::move(call->request)};
}

}  // namespace distribute
