// DNS discovery against a real DNS server: Debian's dnsmasq on loopback, started by the test,
// answering A, AAAA and SRV records from a hosts file it reads again when pods "come and go", and
// real erl nodes found through those records and connected.
#include <doctest/doctest.h>

#include <future>

#include "distribute/discovery.hpp"
#include "dnsmasq.hpp"
#include "net/dns_resolver.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;
namespace dns = distribute::wire::dns;

namespace {

Expected<net::DnsAnswer, std::string> query(const std::vector<std::string>& servers,
                                            const std::string& name, dns::RecordType type,
                                            std::chrono::milliseconds timeout = 2s) {
    boost::asio::io_context io;
    std::vector<net::DnsServer> parsed;
    for (auto& text : servers)
        parsed.push_back(net::parse_dns_server(text).value());
    std::optional<Expected<net::DnsAnswer, std::string>> out;
    net::async_dns_query(io, parsed, name, type, timeout,
                         [&](Expected<net::DnsAnswer, std::string> answer) { out = answer; });
    io.run();
    REQUIRE(out.has_value());
    return *out;
}

std::vector<std::string> addresses(const net::DnsAnswer& answer) {
    std::vector<std::string> out;
    for (auto& record : answer.records) {
        if (auto* v4 = std::get_if<dns::Ipv4>(&record.data)) out.push_back(dns::to_string(*v4));
        if (auto* v6 = std::get_if<dns::Ipv6>(&record.data)) out.push_back(dns::to_string(*v6));
    }
    std::sort(out.begin(), out.end());
    return out;
}

// A UDP socket on loopback that never answers: a DNS server that is down but not refusing.
struct SilentServer {
    SilentServer()
        : socket(io,
                 boost::asio::ip::udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {}
    std::string address() const {
        return "127.0.0.1:" + std::to_string(socket.local_endpoint().port());
    }
    boost::asio::io_context io;
    boost::asio::ip::udp::socket socket;
};

class PeerLog {
  public:
    // To give the Discovery or Cluster at construction: it then misses no event.
    std::function<void(const PeerEvent&)> callback() const {
        return [state = state_](const PeerEvent& e) {
            std::lock_guard lock(state->mutex);
            state->all.push_back(e);
        };
    }
    std::size_t count(PeerEventKind kind, std::string_view node) const {
        std::lock_guard lock(state_->mutex);
        std::size_t n = 0;
        for (auto& e : state_->all)
            n += e.kind == kind && e.peer.node.name() == node;
        return n;
    }

  private:
    struct State {
        std::mutex mutex;
        std::vector<PeerEvent> all;
    };
    std::shared_ptr<State> state_ = std::make_shared<State>();
};

DiscoveryOptions quick(bool auto_connect) {
    DiscoveryOptions o;
    o.interval = 300ms;
    o.retry = RetryPolicy{2, 20ms, 50ms, 2.0, Jitter::none};
    o.auto_connect = auto_connect;
    return o;
}

std::vector<std::unique_ptr<DiscoveryBackend>> one(
    Expected<std::unique_ptr<DiscoveryBackend>, DiscoveryError> backend) {
    REQUIRE_MESSAGE(backend.has_value(), (backend ? std::string() : backend.error().detail));
    std::vector<std::unique_ptr<DiscoveryBackend>> out;
    out.push_back(std::move(*backend));
    return out;
}

}  // namespace

TEST_CASE(
    "the resolver gets A, AAAA and SRV records from dnsmasq, and NXDOMAIN for a missing name") {
    Dnsmasq server({"10.0.0.1 app.svc.test", "10.0.0.2 app.svc.test", "fd00::2 app.svc.test"},
                   {{"_dist._tcp.svc.test", "pod-1.svc.test", 9100, 0, 10}});
    INFO(server.diagnostics());
    auto a = query({server.server()}, "app.svc.test", dns::RecordType::a);
    REQUIRE(a.has_value());
    CHECK(addresses(*a) == std::vector<std::string>{"10.0.0.1", "10.0.0.2"});
    auto aaaa = query({server.server()}, "APP.svc.test.", dns::RecordType::aaaa);
    REQUIRE(aaaa.has_value());
    CHECK(addresses(*aaaa) == std::vector<std::string>{"fd00::2"});
    auto srv = query({server.server()}, "_dist._tcp.svc.test", dns::RecordType::srv);
    REQUIRE(srv.has_value());
    REQUIRE(srv->records.size() == 1);
    CHECK(std::get<dns::SrvData>(srv->records[0].data).target == "pod-1.svc.test");
    CHECK(std::get<dns::SrvData>(srv->records[0].data).port == 9100);
    auto missing = query({server.server()}, "missing.svc.test", dns::RecordType::a);
    REQUIRE(missing.has_value());
    CHECK(missing->rcode == dns::Rcode::name_error);
    CHECK(missing->records.empty());
}

TEST_CASE("an answer too large for a datagram comes truncated and is asked again over TCP") {
    std::vector<std::string> hosts;
    for (int i = 1; i <= 200; ++i)
        hosts.push_back("10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250) +
                        " big.svc.test");
    Dnsmasq server(hosts);
    INFO(server.diagnostics());
    auto answer = query({server.server()}, "big.svc.test", dns::RecordType::a);
    REQUIRE(answer.has_value());
    CHECK(answer->records.size() == 200);
    CHECK(answer->over_tcp);
    // A small answer stays on UDP.
    auto small = query({server.server()}, "big.svc.test", dns::RecordType::aaaa);
    REQUIRE(small.has_value());
    CHECK_FALSE(small->over_tcp);
}

TEST_CASE("a DNS server that never answers is passed over for the next one after the timeout") {
    Dnsmasq server({"10.0.0.7 one.svc.test"});
    SilentServer silent;
    auto answer =
        query({silent.address(), server.server()}, "one.svc.test", dns::RecordType::a, 300ms);
    REQUIRE(answer.has_value());
    CHECK(addresses(*answer) == std::vector<std::string>{"10.0.0.7"});

    auto none = query({silent.address()}, "one.svc.test", dns::RecordType::a, 300ms);
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error() == silent.address() + ": no answer within 300 ms");
}

TEST_CASE("pods coming and going in a headless service's A records become PeerUp and PeerDown") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_dns", &log));
    Dnsmasq server({"10.0.0.1 app.svc.test", "10.0.0.2 app.svc.test"});
    INFO(server.diagnostics());
    PeerLog events;
    Discovery discovery(node,
                        one(dns_backend({.name = "app.svc.test",
                                         .node_pattern = "app@{ip_dashed}.pod.test",
                                         .ipv6 = false,
                                         .servers = {server.server()}})),
                        quick(/*auto_connect=*/false), events.callback());
    eventually([&] { return discovery.snapshot().size() == 2; });
    CHECK(discovery.lookup(atom("app@10-0-0-1.pod.test")).has_value());
    CHECK(discovery.lookup(atom("app@10-0-0-2.pod.test"))->host == "10-0-0-2.pod.test");

    server.set_hosts({"10.0.0.2 app.svc.test", "10.0.0.3 app.svc.test"});
    // One answer's events are delivered one after another, downs first: the up can come a
    // moment after the down.
    eventually([&] {
        return events.count(PeerEventKind::down, "app@10-0-0-1.pod.test") == 1 &&
               events.count(PeerEventKind::up, "app@10-0-0-3.pod.test") == 1;
    });
    CHECK(events.count(PeerEventKind::up, "app@10-0-0-2.pod.test") == 1);
    CHECK(discovery.health()[0].health == BackendHealth::up);
    CHECK(discovery.health()[0].name == "dns app.svc.test");
}

TEST_CASE("a real erl node behind an A record is found by its address and connected") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    auto options = cluster.node_options("cpp_dns_a", &log);
    options.name += "@127.0.0.1";
    options.long_names = true;
    Node node = start_node(options);
    auto erl_options = cluster.erl_options("erl_dns_a");
    erl_options.long_host = "127.0.0.1";
    ErlNode erl(erl_options);
    const std::string alive = erl.node_name().substr(0, erl.node_name().find('@'));
    Dnsmasq server({"127.0.0.1 erl.svc.test"});
    INFO(server.diagnostics());
    Discovery discovery(node,
                        one(dns_backend({.name = "erl.svc.test",
                                         .node_pattern = alive + "@{ip}",
                                         .ipv6 = false,
                                         .servers = {server.server()}})),
                        quick(/*auto_connect=*/true));
    eventually([&] {
        auto peer = discovery.lookup(atom(erl.node_name()));
        return peer && peer->connected;
    });
    wait_erl_connected_to(erl, node.name());
}

TEST_CASE("SRV records give each peer's host and port, and the erl node they name is connected") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_dns_srv", &log));
    ErlNode erl(cluster.erl_options("erl_dns_srv"));
    const std::string alive = erl.node_name().substr(0, erl.node_name().find('@'));
    const std::uint16_t port = static_cast<std::uint16_t>(
        std::stoul(erl.eval("element(2, erl_epmd:port_please(\"" + alive + "\", {127,0,0,1}))")));
    Dnsmasq server({}, {{"_erl._tcp.svc.test", short_host(), port, 0, 10},
                        {"_erl._tcp.svc.test", "elsewhere.test", 9999, 5, 10}});
    INFO(server.diagnostics());
    Discovery discovery(node,
                        one(dns_backend({.name = "_erl._tcp.svc.test",
                                         .query = DnsBackendOptions::Query::srv,
                                         .node_pattern = alive + "@{host_label}",
                                         .servers = {server.server()}})),
                        quick(/*auto_connect=*/true));
    eventually([&] {
        auto peer = discovery.lookup(atom(erl.node_name()));
        return peer && peer->connected;
    });
    CHECK(discovery.lookup(atom(erl.node_name()))->port == port);
    auto other = discovery.lookup(atom(alive + "@elsewhere"));
    REQUIRE(other.has_value());
    CHECK(other->port == 9999);
    CHECK(other->host == "elsewhere");
    CHECK_FALSE(other->connected);
}

TEST_CASE("a DNS backend whose server does not answer is down, keeps its peers, and recovers") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_dns_down", &log));
    auto server = std::make_unique<Dnsmasq>(std::vector<std::string>{"10.0.0.9 app.svc.test"});
    const std::string address = server->server();
    Discovery discovery(node,
                        one(dns_backend({.name = "app.svc.test",
                                         .node_pattern = "app@{ip}",
                                         .ipv6 = false,
                                         .servers = {address},
                                         .timeout = 200ms})),
                        quick(/*auto_connect=*/false));
    eventually([&] { return discovery.snapshot().size() == 1; });
    const auto port = server->port();
    server.reset();
    eventually([&] { return discovery.health()[0].health == BackendHealth::down; });
    CHECK(discovery.health()[0].detail.find(address) != std::string::npos);
    CHECK(discovery.snapshot().size() == 1);

    server = std::make_unique<Dnsmasq>(std::vector<std::string>{"10.0.0.9 app.svc.test"},
                                       std::vector<SrvRecord>{}, port);
    eventually([&] { return discovery.health()[0].health == BackendHealth::up; });
}

TEST_CASE("a name that does not exist makes the DNS backend degraded with NXDOMAIN, not silent") {
    Cluster cluster;
    Node node = start_node(cluster.node_options("cpp_dns_nx"));
    Dnsmasq server({"10.0.0.1 app.svc.test"});
    Discovery discovery(
        node,
        one(dns_backend(
            {.name = "typo.svc.test", .node_pattern = "app@{ip}", .servers = {server.server()}})),
        quick(/*auto_connect=*/false));
    eventually([&] { return discovery.health()[0].runs >= 1; });
    CHECK(discovery.health()[0].health == BackendHealth::degraded);
    CHECK(discovery.health()[0].detail == "typo.svc.test does not exist (NXDOMAIN)");
}
