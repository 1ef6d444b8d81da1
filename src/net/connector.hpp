// Dialling a node by name: resolve its host, ask that host's EPMD for the node's port (unless
// the port is known: EPMD-less), then open a TCP connection (IPv4 or IPv6, whichever the host
// resolves to), all within one deadline.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "distribute/epmd.hpp"
#include "distribute/error.hpp"
#include "distribute/expected.hpp"
#include "net/asio.hpp"

namespace distribute::net {

// Why a dial failed, told apart because each has its own fix.
enum class DialErrc {
    bad_name = 1,    // not alive@host
    unreachable,     // the host does not resolve, the node's port refuses, or time ran out
    no_epmd,         // the host resolves but its EPMD does not answer
    not_registered,  // its EPMD does not know the name
    old_version,     // EPMD says the node speaks only versions below 5 (older than R6)
};

const std::error_category& dial_category() noexcept;
std::error_code make_error_code(DialErrc e) noexcept;

// Its detail is one line for people: which host, port or name, and what happened.
using DialError = CodedError<DialErrc>;

// A connected socket, and the extra data the node registered with EPMD (where our nodes
// advertise the encrypted transport).
struct Dialled {
    tcp::socket socket;
    std::vector<std::uint8_t> epmd_extra;
};

// `node` is alive@host. `port` 0 asks the host's EPMD for the node's port; any other is where
// the node listens, as erl -erl_epmd_port assumes of every node, and no EPMD is asked. `done`
// runs once, on `io`, with the socket or why there is none.
void async_connect_node(asio::io_context& io, EpmdClient& epmd, const std::string& node,
                        std::uint16_t port, std::chrono::milliseconds timeout,
                        std::function<void(Expected<Dialled, DialError>)> done);

}  // namespace distribute::net

template <>
struct std::is_error_code_enum<distribute::net::DialErrc> : std::true_type {};
