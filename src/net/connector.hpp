// Dialling a node by name: ask the EPMD of its host for its port, then open a TCP connection,
// all within one deadline.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "distribute/epmd.hpp"
#include "distribute/expected.hpp"
#include "net/asio.hpp"

namespace distribute::net {

// `node` is alive@host. `done` runs once, on `io`, with the socket or why there is none.
void async_connect_node(asio::io_context& io, EpmdClient& epmd, const std::string& node,
                        std::chrono::milliseconds timeout,
                        std::function<void(Expected<tcp::socket, std::string>)> done);

}  // namespace distribute::net
