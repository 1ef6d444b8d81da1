// erlang:send_after for processes of this node: a steady timer on the node's io_context that
// sends a message to its process when it fires. The timer holds the process weakly, so a pending
// timer neither keeps a dead process alive nor ties the node's lifetime in a cycle through the
// io_context. Actors' Timer and the otp services' timeouts are built on it.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "net/asio.hpp"
#include "node/process.hpp"

namespace distribute::node {

struct TimerState {
    explicit TimerState(net::asio::io_context& io) : timer(net::asio::make_strand(io)) {}
    // On a strand: a cancel from any thread and the completion never touch it at once.
    net::asio::steady_timer timer;
    std::atomic<bool> done{false};  // sent or cancelled: whichever comes first wins
    std::weak_ptr<Process> process;
    Term message;
};

// `message` reaches `to` after `delay`, sent by itself, unless cancel_timer() comes first.
void start_timer(const std::shared_ptr<TimerState>& state, Process& to,
                 std::chrono::milliseconds delay, Term message);
// True when the message had not gone yet and now never will.
bool cancel_timer(const std::shared_ptr<TimerState>& state);

}  // namespace distribute::node
