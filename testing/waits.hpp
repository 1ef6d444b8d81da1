// Waiting in a test: for a message, a process's end, a 'DOWN', a condition. Each bound only turns
// a hang into a failure with a message that says what did not come; none is a timing assertion.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"

namespace distribute::testing {

using namespace std::chrono_literals;

inline Node start_node(NodeOptions options) {
    auto node = Node::start(std::move(options));
    REQUIRE_MESSAGE(node.has_value(), (node ? std::string() : node.error().detail));
    return std::move(*node);
}

// Polls `condition` until it holds; REQUIREs that it does within `limit`.
template <class F>
void eventually(F condition, std::chrono::milliseconds limit = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                        "a condition did not come true in time");
        std::this_thread::sleep_for(5ms);
    }
}

// The next message `inbox` gets; fails the test when none comes in time or the process ended.
inline Term next_message(Mailbox& inbox, std::chrono::milliseconds limit = 15s) {
    auto got = inbox.receive(limit);
    REQUIRE_MESSAGE(got.has_value(), (got ? std::string()
                                      : got.error().code == ReceiveErrc::timeout
                                          ? std::string("no message in time")
                                          : "exited: " + to_string(got.error().reason)));
    return std::move(*got);
}

// The next message tagged `tag` ({tag, ...}); others stay queued.
inline Term next_tagged(Mailbox& inbox, Atom tag, std::chrono::milliseconds limit = 15s) {
    auto got = inbox.receive_if(
        [&](const Term& t) { return t.is_tuple() && !t.elements().empty() && t[0].is_atom(tag); },
        limit);
    REQUIRE_MESSAGE(got.has_value(), "no {" << tag.name() << ", ...} message in time");
    return std::move(*got);
}

// Nothing that matches is queued now (checked after the messages that were sent before it
// arrive: `flush` is a message sent last through the same path).
inline bool none_queued(Mailbox& inbox, const std::function<bool(const Term&)>& match) {
    return !inbox.receive_if(match, 0ms).has_value();
}

// The reason of a 'DOWN' for `ref`.
inline Term down_reason(Mailbox& inbox, const Reference& ref,
                        std::chrono::milliseconds limit = 15s) {
    auto got = receive_down(inbox, ref, limit);
    REQUIRE_MESSAGE(got.has_value(), "no DOWN in time");
    return got->reason;
}

// The reason a process ended with: its mailbox's receive fails with `exited`.
inline Term exited_with(Mailbox& inbox, std::chrono::milliseconds limit = 15s) {
    auto got = inbox.receive(limit);
    REQUIRE_FALSE(got.has_value());
    REQUIRE(got.error().code == ReceiveErrc::exited);
    return got.error().reason;
}

}  // namespace distribute::testing
