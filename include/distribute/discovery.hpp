// Discovery: finding the other nodes of a cluster without writing them into the program. Backends
// say which nodes exist (a static list, a watched file, DNS records as a Kubernetes headless
// service gives them, the names an EPMD lists, or your own); Discovery asks each of them every
// interval (and at once when a watched file changes), retries failures under a retry policy,
// keeps a health state per backend, merges what they found, connects to new nodes when asked to,
// and reports nodes coming, changing and going as PeerUp, PeerUpdate and PeerDown events.
//
//   std::vector<std::unique_ptr<DiscoveryBackend>> backends;
//   backends.push_back(file_backend("/etc/myapp/nodes"));
//   backends.push_back(dns_backend({.name = "app.prod.svc.cluster.local",
//                                   .node_pattern = "app@{ip}"}).value());
//   Discovery discovery(node, std::move(backends));
//   discovery.subscribe([](const PeerEvent& e) { ... });
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "distribute/epmd.hpp"
#include "distribute/error.hpp"
#include "distribute/expected.hpp"
#include "distribute/node.hpp"
#include "distribute/retry.hpp"
#include "distribute/term.hpp"

namespace boost::asio {
class io_context;
}

namespace distribute {

enum class DiscoveryErrc {
    unreachable = 1,  // the source did not answer (no DNS server, no EPMD, a missing file)
    bad_answer,       // it answered with something that does not make node names
    bad_config,       // the backend's options cannot work (a bad pattern, a bad server address)
};
const std::error_category& discovery_category() noexcept;
std::error_code make_error_code(DiscoveryErrc e) noexcept;

using DiscoveryError = CodedError<DiscoveryErrc>;

// A node one backend found.
struct FoundNode {
    Atom node;
    std::string host;        // where it was found: an address, a host name, a file line
    std::uint16_t port = 0;  // the port an SRV record gives; 0 for backends that give none
    bool operator==(const FoundNode&) const = default;
};

// What one run of a backend found. A non-empty `warning` marks a partial answer (some EPMD hosts
// did not answer, the DNS name does not exist): the backend is then degraded, not up.
struct Found {
    std::vector<FoundNode> nodes;
    std::string warning;
};

// The interface for your own backends (a service registry, a cloud API).
class DiscoveryBackend {
  public:
    using Done = std::function<void(Expected<Found, DiscoveryError>)>;
    virtual ~DiscoveryBackend() = default;
    // Names the backend in events, health and logs ("dns app.svc", "file /etc/nodes").
    virtual std::string name() const = 0;
    // Finds the nodes now and calls `done` once, from any thread. Errors other than bad_config
    // are retried under DiscoveryOptions::retry.
    virtual void discover(boost::asio::io_context& io, Done done) = 0;
    // A backend that learns by itself that its answer changed (a watched file) calls `changed`
    // then, and Discovery asks it again at once. Called once, before the first discover().
    virtual void watch(boost::asio::io_context& io, std::function<void()> changed) {
        (void)io;
        (void)changed;
    }
    // Stops watching: `changed` is not called after this returns.
    virtual void stop() {}
};

// The same nodes every time.
std::unique_ptr<DiscoveryBackend> static_backend(std::vector<std::string> nodes);

// A file of node names, one a line; blank lines and lines starting with '#' are skipped. The file
// is looked at every `poll` and read again when it changed (see docs/discovery.md); a missing file
// is an error (unreachable), an empty one an empty cluster.
std::unique_ptr<DiscoveryBackend> file_backend(
    std::string path, std::chrono::milliseconds poll = std::chrono::milliseconds(1000));

struct DnsBackendOptions {
    enum class Query {
        address,  // A and AAAA records: the addresses of a Kubernetes headless service's pods
        srv,      // SRV records: a host name and a port each
    };
    std::string name{};  // the name to look up: app.ns.svc.cluster.local, _dist._tcp.app.example
    Query query = Query::address;
    // How a record becomes a node name: "app@{ip}", "app@{ip_dashed}.ns.pod.cluster.local",
    // "{host_label}@{host}". {ip}: the address ("10.0.0.1", "fd00::2"); {ip_dashed}: with '-'
    // for '.' and ':'; {host}: the SRV target (the address for A and AAAA); {host_label}: its
    // first label; {port}: the SRV port.
    std::string node_pattern{};
    bool ipv4 = true;  // address queries: ask for A records
    bool ipv6 = true;  // ... and AAAA records
    // DNS servers, "address" or "address:port" ("[v6]:port"); empty: /etc/resolv.conf's.
    std::vector<std::string> servers{};
    std::chrono::milliseconds timeout{2000};  // for one server's answer
};
// bad_config when the pattern or a server cannot work.
[[nodiscard]] Expected<std::unique_ptr<DiscoveryBackend>, DiscoveryError> dns_backend(
    DnsBackendOptions options);

struct EpmdBackendOptions {
    std::vector<std::string> hosts{};  // each host's EPMD is asked for its names: name@host
    std::uint16_t port = default_epmd_port;
    std::string name_prefix{};  // only names that start with it; empty: every name
    std::chrono::milliseconds timeout{2000};
};
std::unique_ptr<DiscoveryBackend> epmd_backend(EpmdBackendOptions options);

enum class BackendHealth {
    up,        // its last run answered in full at the first attempt
    degraded,  // its last run answered after retries, or gave a partial answer
    down,      // its last run failed after every retry: its previous answer is kept
};
std::string_view to_string(BackendHealth health);

struct BackendStatus {
    std::string name;
    BackendHealth health = BackendHealth::down;
    std::string detail;  // degraded, down: why; "not asked yet" before the first answer
    std::size_t nodes = 0;
    std::uint64_t runs = 0;      // runs that ended (success or failure)
    std::uint64_t failures = 0;  // runs that failed after every retry
};

struct DiscoveryOptions {
    // How often every backend is asked. Watched files are also asked when they change.
    std::chrono::milliseconds interval{5000};
    // One run of a backend: its errors (but bad_config) are retried under this policy.
    RetryPolicy retry = RetryPolicy::default_with_jitter();
    // Connect to every discovered node (and again, at each interval, to one that went down).
    bool auto_connect = true;
};

// A discovered node, merged over the backends that list it.
struct Peer {
    Atom node;
    std::vector<std::string> sources;  // the backends listing it
    std::string host;                  // from the first of them
    std::uint16_t port = 0;
    bool connected = false;  // a distribution connection to it is up
    bool operator==(const Peer&) const = default;
};

enum class PeerEventKind {
    up,      // a backend lists a node no backend listed before
    update,  // its sources, host, port or connection changed
    down,    // no backend lists it any more
};
struct PeerEvent {
    PeerEventKind kind{};
    Peer peer;
};

class Discovery {
  public:
    // Starts asking the backends at once. This node itself is never one of the peers.
    // `on_event` is subscribed before anything starts, so that it misses no event (a later
    // subscribe() may come after the first ones).
    Discovery(Node& node, std::vector<std::unique_ptr<DiscoveryBackend>> backends,
              DiscoveryOptions options = {}, std::function<void(const PeerEvent&)> on_event = {});
    ~Discovery();
    Discovery(const Discovery&) = delete;
    Discovery& operator=(const Discovery&) = delete;

    // Events, in the order they happened, from the node's threads, never two at once. Returns
    // an id for unsubscribe. A callback may call snapshot(), lookup() and health().
    std::uint64_t subscribe(std::function<void(const PeerEvent&)> callback);
    void unsubscribe(std::uint64_t id);

    std::vector<Peer> snapshot() const;  // ordered by node name
    std::optional<Peer> lookup(Atom node) const;
    std::vector<BackendStatus> health() const;  // in the order the backends were given
    // Asks every backend now, without waiting for the interval.
    void refresh();
    // Stops asking; no event after it returns. Connections stay up.
    void stop();

    struct State;

  private:
    std::shared_ptr<State> state_;
};

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::DiscoveryErrc> : std::true_type {};
