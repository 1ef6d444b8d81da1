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
    otp::gen_reply(ProcessHandle(std::move(server)), caller_, tag_, reply);
}

}  // namespace distribute
