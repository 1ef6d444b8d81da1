// EPMD, the Erlang Port Mapper Daemon: how nodes on a host find each other's distribution port.
// Both sides are here. The client registers a node (ALIVE2, keeping the socket open for the
// node's life and registering again when it drops), looks nodes up (PORT_PLEASE2) and lists them
// (NAMES). The server is a complete EPMD that real BEAM nodes, `epmd -names` and
// net_adm:names() can use, embedded in a process. Everything hangs off an io_context the caller
// owns; every request has a timeout; expected failures are EpmdError values.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "distribute/error.hpp"
#include "distribute/expected.hpp"
#include "distribute/retry.hpp"

namespace boost::asio {
class io_context;
}

namespace distribute {

enum class EpmdErrc {
    name_taken = 1,   // ALIVE2 refused; EPMD gives no reason, a taken name is the usual one
    not_found,        // PORT_PLEASE2: no node of that name is registered
    unreachable,      // nothing answered at the EPMD address (refused, unresolvable, no route)
    malformed_reply,  // EPMD answered with bytes that are not a reply to the request
    timed_out,        // no complete answer within the request timeout
    connection_lost,  // EPMD closed the connection before the answer was complete
    bad_name,         // not 1 to 255 UTF-8 characters without NUL or '@'
    address_in_use,   // the server could not bind: something listens on that port already
    bad_address,      // the server was given an address it cannot listen on
    cancelled,        // the operation was stopped by its owner
    bad_extra,        // a registration's extra data is above 1020 bytes, which EPMD refuses
};
const std::error_category& epmd_category() noexcept;
std::error_code make_error_code(EpmdErrc e) noexcept;

// Its detail says what happened, for logs.
using EpmdError = CodedError<EpmdErrc>;

enum class NodeType : std::uint8_t { normal = 77, hidden = 72 };

inline constexpr std::uint16_t default_epmd_port = 4369;

// Where an EPMD listens.
struct EpmdEndpoint {
    std::string host = "127.0.0.1";
    std::uint16_t port = default_epmd_port;

    // As a BEAM reads it: the port from ERL_EPMD_PORT when that is a valid port number, the host
    // 127.0.0.1 (a BEAM always registers over loopback).
    static EpmdEndpoint from_environment();
};

// PORT2_RESP: a node's distribution port and what it speaks.
struct NodePort {
    std::string name;  // the part before '@'
    std::uint16_t port = 0;
    NodeType type = NodeType::normal;
    std::uint8_t protocol = 0;  // 0: TCP/IPv4
    std::uint16_t highest = 0;
    std::uint16_t lowest = 0;
    std::vector<std::uint8_t> extra;

    // True when the node's range includes version 6 (OTP 23 and later; OTP 25 registers 5..6).
    bool speaks_v6() const { return lowest <= 6 && 6 <= highest; }
};

struct RegisteredName {
    std::string name;
    std::uint16_t port = 0;
    bool operator==(const RegisteredName&) const = default;
};

struct EpmdClientOptions {
    EpmdEndpoint endpoint = EpmdEndpoint::from_environment();
    // Limit for one request: resolving, connecting, sending and reading the whole answer.
    std::chrono::milliseconds timeout{5000};
    // First registration: retried while EPMD is unreachable, times out or drops the connection.
    RetryPolicy register_retry = RetryPolicy::default_with_jitter();
    // Registering again after the registration socket dropped: keeps trying until it works. The
    // 2 s cap bounds how long a node stays unregistered once its EPMD is back.
    RetryPolicy reregister_retry{RetryPolicy::unlimited, std::chrono::milliseconds(100),
                                 std::chrono::milliseconds(2000), 2.0, Jitter::full};
    RandomSource random;  // for the retry jitter; empty: a seeded std::mt19937_64
};

struct NodeRegistration {
    std::string name;  // the part before '@'
    std::uint16_t port = 0;
    NodeType type = NodeType::normal;
    // 6..6, not the 5..6 that OTP 25's erl_epmd sends: our handshake is version 6 only, and the
    // range is what peers read before they dial, so it should not claim 5. Nothing is lost: epmd
    // picks the 32-bit creation reply from `highest` alone (OTP 25's epmd answers 6..6 and 5..6
    // alike), and a BEAM dials min(its highest, ours) = 6 either way.
    std::uint16_t highest = 6;
    std::uint16_t lowest = 6;
    std::vector<std::uint8_t> extra;  // at most 1020 bytes
};

// What happens to a registration. Every callback runs on the client's io_context, one at a time;
// none runs once the EpmdRegistration is destroyed (its destructor waits for one running on
// another thread), so they may capture what dies with it.
//
// The creation changes on every registration: EPMD hands out a new one each time a name
// registers, so a re-registration after EPMD restarted reports a different value than the first.
// EPMD never tells other nodes the creation (PORT2_RESP does not carry it; peers learn it in the
// handshake), so a node may keep using the creation it started with for the pids, ports and
// references it already handed out; see docs/epmd.md.
struct RegistrationEvents {
    // Registered: the first time and after each re-registration, with the creation EPMD gave.
    std::function<void(std::uint32_t creation, unsigned registrations)> registered;
    // The registration socket dropped; registering again under the retry policy.
    std::function<void(const EpmdError&)> lost;
    // Gave up: the name is taken, or the retry policy ran out. No further events follow.
    std::function<void(const EpmdError&)> failed;
};

// A live registration. Destroying it (or close()) closes the socket, which unregisters the name;
// the socket closes on the io_context, soon after.
class EpmdRegistration {
  public:
    struct State;
    explicit EpmdRegistration(std::shared_ptr<State> state);
    ~EpmdRegistration();
    EpmdRegistration(const EpmdRegistration&) = delete;
    EpmdRegistration& operator=(const EpmdRegistration&) = delete;

    // The creation of the current registration; nullopt while not registered. Any thread.
    std::optional<std::uint32_t> creation() const;
    void close();

  private:
    std::shared_ptr<State> state_;
};

class EpmdClient {
  public:
    explicit EpmdClient(boost::asio::io_context& io, EpmdClientOptions options = {});

    const EpmdClientOptions& options() const { return options_; }
    // The EPMD of `host`, on the port of the options.
    EpmdEndpoint endpoint_for(std::string host) const {
        return {std::move(host), options_.endpoint.port};
    }

    // ALIVE2 at options().endpoint; see RegistrationEvents. An invalid name (bad_name) or extra
    // data above 1020 bytes (bad_extra) is reported through `failed` without asking EPMD.
    [[nodiscard]] std::unique_ptr<EpmdRegistration> register_node(NodeRegistration node,
                                                                  RegistrationEvents events);
    // `done` runs once on the io_context, even if the client is destroyed first.
    void async_port_please(const EpmdEndpoint& at, std::string name,
                           std::function<void(Expected<NodePort, EpmdError>)> done);
    void async_names(const EpmdEndpoint& at,
                     std::function<void(Expected<std::vector<RegisteredName>, EpmdError>)> done);

  private:
    boost::asio::io_context& io_;
    EpmdClientOptions options_;
};

// Blocking forms for tools and plain threads: each runs its own io_context until done.
[[nodiscard]] Expected<NodePort, EpmdError> epmd_port_please(
    const EpmdEndpoint& at, std::string name,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
[[nodiscard]] Expected<std::vector<RegisteredName>, EpmdError> epmd_names(
    const EpmdEndpoint& at, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

struct EpmdServerOptions {
    // Addresses to listen on. Empty: every address of both families (0.0.0.0 and ::, the IPv6
    // socket IPv6-only), as epmd. An IPv6 address the machine cannot bind (no IPv6, no ::1) is
    // left out with a log line as long as another address listens.
    std::vector<std::string> addresses;
    std::uint16_t port = default_epmd_port;  // 0: any free port (see EpmdServer::port())
    // Accept KILL and STOP while nodes are registered, like `epmd -relaxed_command_check`.
    bool relaxed = false;
    // Open connections at most, registrations included; more are closed as they arrive.
    std::size_t max_connections = 1024;
    // A connection that has not sent its request and taken the reply by then is closed, so that
    // neither a silent peer nor one that never reads its reply keeps a slot. Registrations stay.
    std::chrono::milliseconds idle_timeout{10000};
    // Log lines (one per event worth knowing about: a refused or malformed request, a
    // registration). Empty: silent. Called from the io_context's threads, never while the
    // server's own lock is held, and never once the EpmdServer is destroyed.
    std::function<void(const std::string&)> log;
    // Called once when the server stops (stop(), or an accepted KILL), on the io_context; not
    // called once the EpmdServer is destroyed.
    std::function<void()> on_stopped;

    // As epmd reads its environment: ERL_EPMD_PORT, and ERL_EPMD_ADDRESS (a comma or space
    // separated list, to which loopback is added, see add_loopback()).
    static EpmdServerOptions from_environment();
    // Loopback only, on `port`.
    static EpmdServerOptions loopback(std::uint16_t port = default_epmd_port);
    // What epmd does with an -address list: unless `addresses` is empty (every address), add
    // the loopback addresses it lacks (127.0.0.1 and ::1), so that local nodes of either family
    // can always register.
    void add_loopback();
};

// How a node gets an EPMD.
enum class EpmdMode {
    use_running,  // an EPMD must answer already; it is an error if none does
    embedded,     // start the embedded server; it is an error if the port is taken
    automatic,    // use an EPMD that answers, else start the embedded server
};

class EpmdServer {
  public:
    struct Core;
    EpmdServer(boost::asio::io_context& io, EpmdServerOptions options);
    // Stops: every connection closes, so every registration ends.
    ~EpmdServer();
    EpmdServer(const EpmdServer&) = delete;
    EpmdServer& operator=(const EpmdServer&) = delete;

    // Binds and listens now (so a taken port is reported here), then serves on the io_context.
    // Once only: calling it again after it succeeded, or after stop(), throws std::logic_error.
    [[nodiscard]] Expected<void, EpmdError> start();
    // Closes the listeners and every connection. Also what an accepted KILL does. Any thread.
    void stop();
    // The port listened on (useful with port 0); 0 before start().
    std::uint16_t port() const;
    // The addresses listened on, as bound by start(); empty before.
    std::vector<std::string> addresses() const;
    // Registered names, newest first as epmd lists them. Any thread.
    std::vector<RegisteredName> names() const;
    // Open connections, registrations included. Any thread.
    std::size_t connections() const;

    // What a node calls at startup (see EpmdMode). Returns the server it started, or nullptr when
    // an EPMD already answers at 127.0.0.1 on options.port. `probe_timeout` bounds that check.
    [[nodiscard]] static Expected<std::unique_ptr<EpmdServer>, EpmdError> ensure_running(
        boost::asio::io_context& io, EpmdMode mode, EpmdServerOptions options,
        std::chrono::milliseconds probe_timeout = std::chrono::milliseconds(1000));

  private:
    std::shared_ptr<Core> core_;
};

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::EpmdErrc> : std::true_type {};
