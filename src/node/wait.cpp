// Node::wait: the main loop of a program that is only a node.
#include <atomic>
#include <csignal>
#include <memory>

#include "distribute/node.hpp"
#include "node/runtime.hpp"

namespace distribute {

int Node::wait() {
    auto runtime = runtime_;
    if (runtime->stopped()) {
        runtime->wait_stopped([] { return false; });
        return 0;
    }
    // Asio's signal set turns the signal into a handler on the node's threads; the stop itself
    // runs here, on the caller's thread, where it may wait for the connections to close.
    auto received = std::make_shared<std::atomic<int>>(0);
    node::asio::signal_set signals(runtime->io(), SIGINT, SIGTERM);
    signals.async_wait([received, runtime](const boost::system::error_code& error, int number) {
        if (error) return;
        received->store(number);
        runtime->wake_waiters();
    });
    runtime->wait_stopped([&] { return received->load() != 0; });
    signals.cancel();
    const int number = received->load();
    if (number != 0) runtime->stop();
    return number;
}

}  // namespace distribute
