// The server side of gen's call protocol, for the services this node hosts (net_kernel, rex) and
// for actors' From: the reply rule of gen:reply/2 (OTP 25, gen.erl).
#pragma once

#include <optional>

#include "distribute/mailbox.hpp"
#include "distribute/rpc.hpp"
#include "distribute/term.hpp"

namespace distribute::otp {

// The alias in a tag [alias | Alias] (or [[alias | Alias] | _]), which OTP 24 and later callers
// use: replies go to it, so that one coming after the caller gave up is dropped by its node.
std::optional<Reference> tag_alias(const Term& tag);

// {Tag, Reply} to the caller's alias when the tag has one, else to its pid.
void gen_reply(const ProcessHandle& self, const Pid& caller, const Term& tag, Term reply);

}  // namespace distribute::otp
