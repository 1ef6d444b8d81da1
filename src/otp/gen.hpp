// The server side of gen's call protocol, for the services this node hosts (net_kernel, rex):
// reading {'$gen_call', From, Request} and replying the way gen:reply/2 does.
#pragma once

#include <optional>

#include "distribute/mailbox.hpp"
#include "distribute/term.hpp"

namespace distribute::otp {

struct GenCall {
    Pid caller;
    Term from;  // {Caller, Tag}, handed back to gen_reply as is
    Term request;
};

// {'$gen_call', {Pid, Tag}, Request}; nullopt for anything else.
std::optional<GenCall> parse_gen_call(const Term& message);

// The alias in a tag [alias | Alias] (or [[alias | Alias] | _]), which OTP 24 and later callers
// use: replies go to it, so that one coming after the caller gave up is dropped by its node.
std::optional<Reference> tag_alias(const Term& tag);

// {Tag, Reply} to the caller's alias when the tag has one, else to its pid.
void gen_reply(const ProcessHandle& self, const Term& from, Term reply);

}  // namespace distribute::otp
