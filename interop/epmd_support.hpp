// What the EPMD interop tests share: an io_context served by a thread, and a registration made
// with our client whose events a test can wait for.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "distribute/epmd.hpp"
#include "net/asio.hpp"

namespace distribute::testing {

using namespace std::chrono_literals;

// An io_context served by a background thread for the life of the test.
struct Loop {
    net::asio::io_context io;
    net::asio::executor_work_guard<net::asio::io_context::executor_type> work =
        net::asio::make_work_guard(io);
    std::thread thread{[this] { io.run(); }};
    ~Loop() {
        work.reset();
        io.stop();
        thread.join();
    }
};

// A registration through our client; wait() gives the first registration's creation or error.
struct Registration {
    std::unique_ptr<EpmdRegistration> handle;
    std::promise<Expected<std::uint32_t, EpmdError>> first;
    std::atomic<unsigned> count{0};
    std::atomic<int> lost{0};

    Registration(EpmdClient& client, NodeRegistration node) {
        RegistrationEvents events;
        events.registered = [this](std::uint32_t creation, unsigned n) {
            count = n;
            if (n == 1) first.set_value(creation);
        };
        events.lost = [this](const EpmdError&) { ++lost; };
        events.failed = [this](const EpmdError& e) {
            if (count == 0) first.set_value(unexpected(e));
        };
        handle = client.register_node(std::move(node), events);
    }
    Expected<std::uint32_t, EpmdError> wait() {
        auto f = first.get_future();
        REQUIRE(f.wait_for(20s) == std::future_status::ready);
        return f.get();
    }
};

// The alive part of a node name (alive@host): what EPMD knows the node by.
inline std::string alive_of(std::string_view node) {
    return std::string(node.substr(0, node.find('@')));
}

// A client of the EPMD on 127.0.0.1:port that registers again quickly after losing it.
inline EpmdClientOptions client_for(std::uint16_t port) {
    EpmdClientOptions o;
    o.endpoint = {"127.0.0.1", port};
    o.reregister_retry = {RetryPolicy::unlimited, 20ms, 200ms, 2.0, Jitter::full};
    return o;
}

}  // namespace distribute::testing
