// Discovery between C++ nodes on loopback: the static and file backends, a custom backend under
// the retry policy, backend health, events, snapshot and lookup, and auto-connect. DNS against a
// real dnsmasq, EPMD names and erl peers are in interop/test_discovery*.cpp.
#include <doctest/doctest.h>

#include <fstream>
#include <mutex>

#include "distribute/discovery.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// The events a Discovery reported, kept alive by the callback itself.
class PeerEvents {
  public:
    // To give the Discovery or Cluster at construction: it then misses no event.
    std::function<void(const PeerEvent&)> callback() const {
        return [state = state_](const PeerEvent& e) {
            std::lock_guard lock(state->mutex);
            state->all.push_back(e);
        };
    }
    std::size_t count(PeerEventKind kind, Atom node) const {
        std::lock_guard lock(state_->mutex);
        std::size_t n = 0;
        for (auto& e : state_->all)
            n += e.kind == kind && e.peer.node == node;
        return n;
    }
    std::vector<PeerEvent> all() const {
        std::lock_guard lock(state_->mutex);
        return state_->all;
    }

  private:
    struct State {
        std::mutex mutex;
        std::vector<PeerEvent> all;
    };
    std::shared_ptr<State> state_ = std::make_shared<State>();
};

// Fails its first `failures` runs with `code`, then finds `nodes`.
class FlakyBackend final : public DiscoveryBackend {
  public:
    FlakyBackend(std::vector<std::string> nodes, int failures, DiscoveryErrc code)
        : nodes_(std::move(nodes)), failures_(failures), code_(code) {}
    std::string name() const override { return "flaky"; }
    void discover(boost::asio::io_context&, Done done) override {
        const int call = calls_->fetch_add(1);
        if (call < failures_)
            return done(unexpected(DiscoveryError{code_, "failure " + std::to_string(call + 1)}));
        Found found;
        for (auto& text : nodes_)
            found.nodes.push_back(FoundNode{Atom::make(text).value(), "flaky", 0});
        done(std::move(found));
    }
    std::shared_ptr<std::atomic<int>> calls() const { return calls_; }

  private:
    std::vector<std::string> nodes_;
    int failures_;
    DiscoveryErrc code_;
    std::shared_ptr<std::atomic<int>> calls_ = std::make_shared<std::atomic<int>>(0);
};

DiscoveryOptions quick(bool auto_connect = false) {
    DiscoveryOptions o;
    o.interval = std::chrono::milliseconds(200);
    o.retry = RetryPolicy{3, std::chrono::milliseconds(10), std::chrono::milliseconds(20), 2.0,
                          Jitter::none};
    o.auto_connect = auto_connect;
    return o;
}

BackendStatus status_of(const Discovery& discovery, std::size_t index = 0) {
    return discovery.health().at(index);
}

void write_file(const std::string& path, const std::string& content) {
    const std::string temporary = path + ".new";
    std::ofstream(temporary) << content;
    // Replaced by rename, as editors and ConfigMap volumes do.
    REQUIRE(std::rename(temporary.c_str(), path.c_str()) == 0);
}

}  // namespace

TEST_CASE("a static list becomes peers, without this node itself, and they are connected") {
    const auto epmd = free_port();
    Node a = start_node(node_options(epmd, "disc_a", EpmdMode::embedded));
    Node b = start_node(node_options(epmd, "disc_b"));
    std::vector<std::unique_ptr<DiscoveryBackend>> backends;
    backends.push_back(
        static_backend({std::string(a.name().name()), std::string(b.name().name())}));
    PeerEvents events;
    Discovery discovery(a, std::move(backends), quick(/*auto_connect=*/true), events.callback());

    eventually([&] { return discovery.lookup(b.name()) && discovery.lookup(b.name())->connected; });
    auto peers = discovery.snapshot();
    REQUIRE(peers.size() == 1);
    CHECK(peers[0].node == b.name());
    CHECK(peers[0].sources == std::vector<std::string>{"static"});
    CHECK_FALSE(discovery.lookup(a.name()).has_value());
    // b accepted the connection: it writes its challenge ack and then registers the peer, as
    // OTP's dist_util does, so a can see the link up a moment before b does.
    eventually([&] { return connected_nodes(b) == std::vector<Atom>{a.name()}; });
    CHECK(status_of(discovery).health == BackendHealth::up);
    CHECK(status_of(discovery).nodes == 2);
    // Connected after it was listed: an update says so.
    eventually([&] { return events.count(PeerEventKind::update, b.name()) == 1; });

    // The connection goes: the peer stays, marked unconnected, and is connected again.
    b.disconnect(a.name());
    eventually([&] {
        return connected_nodes(b).size() == 1 && events.count(PeerEventKind::update, b.name()) >= 3;
    });
    CHECK(discovery.lookup(b.name())->connected);
}

TEST_CASE("names that are not node names make a static backend degraded, naming them") {
    LocalNode local;
    std::vector<std::unique_ptr<DiscoveryBackend>> backends;
    backends.push_back(static_backend({"good@host", "no_host", "also@fine"}));
    Discovery discovery(local.node, std::move(backends), quick());
    eventually([&] { return status_of(discovery).runs >= 1; });
    const auto status = status_of(discovery);
    CHECK(status.health == BackendHealth::degraded);
    CHECK(status.detail.find("'no_host' is not a node name") != std::string::npos);
    CHECK(discovery.snapshot().size() == 2);
}

TEST_CASE("a watched file's edits become PeerUp and PeerDown; a missing file keeps its peers") {
    LocalNode local;
    TempDir dir;
    const std::string path = dir.path() + "/nodes";
    write_file(path, "# the cluster\none@host\n\n  two@host  \n");
    std::vector<std::unique_ptr<DiscoveryBackend>> backends;
    backends.push_back(file_backend(path, std::chrono::milliseconds(20)));
    auto options = quick();
    options.interval = std::chrono::hours(1);  // only the watch can bring the changes
    PeerEvents events;
    Discovery discovery(local.node, std::move(backends), options, events.callback());
    const Atom one = Atom::make("one@host").value();
    const Atom two = Atom::make("two@host").value();
    const Atom three = Atom::make("three@host").value();

    eventually([&] { return discovery.snapshot().size() == 2; });
    CHECK(status_of(discovery).name == "file " + path);
    write_file(path, "two@host\nthree@host\n");
    // One answer's events are delivered one after another, downs first: the up can come a
    // moment after the down.
    eventually([&] {
        return events.count(PeerEventKind::down, one) == 1 &&
               events.count(PeerEventKind::up, three) == 1;
    });
    CHECK(events.count(PeerEventKind::up, two) == 1);  // listed all along: no second PeerUp

    REQUIRE(std::remove(path.c_str()) == 0);
    eventually([&] { return status_of(discovery).health == BackendHealth::down; });
    CHECK(status_of(discovery).detail.find("No such file") != std::string::npos);
    CHECK(discovery.snapshot().size() == 2);  // the last answer is kept
    CHECK(events.count(PeerEventKind::down, two) == 0);

    write_file(path, "three@host\n");
    eventually([&] { return events.count(PeerEventKind::down, two) == 1; });
    CHECK(status_of(discovery).health == BackendHealth::up);
    // Every event of the earlier answers came before this one's: still no second PeerUp.
    CHECK(events.count(PeerEventKind::up, two) == 1);
}

TEST_CASE("a backend that fails is retried under the policy: degraded when a retry answers") {
    LocalNode local;
    auto flaky = std::make_unique<FlakyBackend>(std::vector<std::string>{"x@host"}, 2,
                                                DiscoveryErrc::unreachable);
    auto calls = flaky->calls();
    std::vector<std::unique_ptr<DiscoveryBackend>> backends;
    backends.push_back(std::move(flaky));
    auto options = quick();
    options.interval = std::chrono::hours(1);
    Discovery discovery(local.node, std::move(backends), options);
    eventually([&] { return status_of(discovery).runs == 1; });
    CHECK(calls->load() == 3);
    CHECK(status_of(discovery).health == BackendHealth::degraded);
    CHECK(status_of(discovery).detail == "answered at attempt 3");
    CHECK(discovery.snapshot().size() == 1);

    discovery.refresh();
    eventually([&] { return status_of(discovery).runs == 2; });
    CHECK(status_of(discovery).health == BackendHealth::up);
}

TEST_CASE(
    "a backend that fails every attempt is down with its last error; bad_config is not retried") {
    LocalNode local;
    auto failing = std::make_unique<FlakyBackend>(std::vector<std::string>{}, 1000,
                                                  DiscoveryErrc::unreachable);
    auto failing_calls = failing->calls();
    auto misconfigured =
        std::make_unique<FlakyBackend>(std::vector<std::string>{}, 1000, DiscoveryErrc::bad_config);
    auto misconfigured_calls = misconfigured->calls();
    std::vector<std::unique_ptr<DiscoveryBackend>> backends;
    backends.push_back(std::move(failing));
    backends.push_back(std::move(misconfigured));
    auto options = quick();
    options.interval = std::chrono::hours(1);
    Discovery discovery(local.node, std::move(backends), options);
    eventually(
        [&] { return status_of(discovery, 0).runs == 1 && status_of(discovery, 1).runs == 1; });
    CHECK(failing_calls->load() == 3);
    CHECK(status_of(discovery, 0).health == BackendHealth::down);
    CHECK(status_of(discovery, 0).detail == "failure 3 (3 attempts)");
    CHECK(status_of(discovery, 0).failures == 1);
    CHECK(misconfigured_calls->load() == 1);
    CHECK(status_of(discovery, 1).health == BackendHealth::down);
}

TEST_CASE("two backends listing one node give one peer with both sources; stop ends the events") {
    LocalNode local;
    std::vector<std::unique_ptr<DiscoveryBackend>> backends;
    backends.push_back(static_backend({"shared@host"}));
    backends.push_back(std::make_unique<FlakyBackend>(std::vector<std::string>{"shared@host"}, 0,
                                                      DiscoveryErrc::unreachable));
    PeerEvents events;
    Discovery discovery(local.node, std::move(backends), quick(), events.callback());
    const Atom shared = Atom::make("shared@host").value();
    eventually([&] {
        auto peer = discovery.lookup(shared);
        return peer && peer->sources.size() == 2;
    });
    CHECK(discovery.snapshot().size() == 1);
    discovery.stop();
    const auto seen = events.all().size();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(events.all().size() == seen);
}

TEST_CASE("a DNS backend with a pattern it cannot fill is refused, naming the placeholder") {
    auto no_at = dns_backend({.name = "app.svc.test", .node_pattern = "{ip}"});
    REQUIRE_FALSE(no_at.has_value());
    CHECK(no_at.error().code == DiscoveryErrc::bad_config);
    CHECK(no_at.error().detail.find("no '@'") != std::string::npos);

    auto port_for_address = dns_backend({.name = "app.svc.test", .node_pattern = "app@{port}"});
    REQUIRE_FALSE(port_for_address.has_value());
    CHECK(port_for_address.error().detail.find("{port} is not one of {ip}, {ip_dashed}, {host}, "
                                               "{host_label} for address queries") !=
          std::string::npos);

    auto ip_for_srv = dns_backend({.name = "_d._tcp.x.test",
                                   .query = DnsBackendOptions::Query::srv,
                                   .node_pattern = "app@{ip}"});
    REQUIRE_FALSE(ip_for_srv.has_value());
    CHECK(ip_for_srv.error().detail.find("{ip} is not one of") != std::string::npos);

    CHECK_FALSE(dns_backend({.name = "a.test", .node_pattern = "app@host"}).has_value());
    CHECK_FALSE(dns_backend({.name = "a.test", .node_pattern = "app@{ip"}).has_value());
    auto bad_server =
        dns_backend({.name = "a.test", .node_pattern = "app@{ip}", .servers = {"dns.example"}});
    REQUIRE_FALSE(bad_server.has_value());
    CHECK(bad_server.error().detail.find("not an IP address") != std::string::npos);
    CHECK(dns_backend({.name = "a.test", .node_pattern = "app@{ip_dashed}.pod.test"}).has_value());
}
