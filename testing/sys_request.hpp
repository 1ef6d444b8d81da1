// A sys request made from C++ as sys.erl makes it: for tests that ask an actor on this node or
// another what sys:get_state, sys:suspend and the rest ask.
#pragma once

#include <doctest/doctest.h>

#include "distribute/mailbox.hpp"
#include "distribute/term.hpp"
#include "waits.hpp"

namespace distribute::testing {

// sys:Request sent to `to` as sys sends it, {system, {Pid, Tag}, Request} with a plain reference
// tag: the reply.
inline Term sys_request(Mailbox& me, const Pid& to, Term request) {
    const Reference tag = me.make_ref();
    me.send(to, tuple("system"_a, tuple(me.pid(), tag), std::move(request)));
    Term reply = next_message(me);
    REQUIRE(reply.is_tuple(2));
    CHECK(reply[0] == Term(tag));
    return reply[1];
}

}  // namespace distribute::testing
