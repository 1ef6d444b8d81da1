// Discovery of real erl nodes: a watched file edited while the nodes run, and the names an EPMD
// lists. DNS is in test_discovery_dns.cpp.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>

#include "distribute/discovery.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

void write_file(const std::string& path, const std::string& content) {
    const std::string temporary = path + ".new";
    std::ofstream(temporary) << content;
    REQUIRE(std::rename(temporary.c_str(), path.c_str()) == 0);
}

bool connected(const Discovery& discovery, const ErlNode& erl) {
    auto peer = discovery.lookup(atom(erl.node_name()));
    return peer && peer->connected;
}

}  // namespace

TEST_CASE("erl nodes listed in a watched file are connected, and edits move the cluster") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_file", &log));
    ErlNode first(cluster.erl_options("erl_file1"));
    ErlNode second(cluster.erl_options("erl_file2"));
    TempDir dir;
    const std::string path = dir.file("nodes");
    write_file(path, first.node_name() + "\n");
    std::vector<std::unique_ptr<DiscoveryBackend>> backends;
    backends.push_back(file_backend(path, 50ms));
    DiscoveryOptions options;
    options.interval = 500ms;
    Discovery discovery(node, std::move(backends), options);

    eventually([&] { return connected(discovery, first); });
    wait_erl_connected_to(first, node.name());
    CHECK_FALSE(discovery.lookup(atom(second.node_name())).has_value());

    write_file(path, "# moved\n" + second.node_name() + "\n");
    eventually([&] { return connected(discovery, second); });
    CHECK_FALSE(discovery.lookup(atom(first.node_name())).has_value());
    // Unlisted is not disconnected: discovery finds nodes, it does not cut them off.
    CHECK(erl_connected_to(first, node.name()));
}

TEST_CASE("a discovered erl node that drops the connection is connected again") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_back", &log));
    ErlNode erl(cluster.erl_options("erl_back"));
    std::vector<std::unique_ptr<DiscoveryBackend>> backends;
    backends.push_back(static_backend({erl.node_name()}));
    DiscoveryOptions options;
    options.interval = 300ms;
    Discovery discovery(node, std::move(backends), options);
    eventually([&] { return connected(discovery, erl); });
    NodeEvents events(node);

    CHECK(erl.eval("erlang:disconnect_node(" + quoted(node.name()) + ")") == "true");
    const Atom peer = atom(erl.node_name());
    eventually([&] { return events.count(peer, false) == 1; });
    eventually([&] { return events.count(peer, true) == 1 && connected(discovery, erl); });
    wait_erl_connected_to(erl, node.name());
}

TEST_CASE("the EPMD backend finds the erl nodes an EPMD lists, by prefix, as name@host") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_epmd_disc", &log));
    ErlNode one(cluster.erl_options("member_a"));
    ErlNode two(cluster.erl_options("member_b"));
    ErlNode other(cluster.erl_options("outsider"));
    std::vector<std::unique_ptr<DiscoveryBackend>> backends;
    backends.push_back(epmd_backend({.hosts = {short_host(), "no-such-host.invalid"},
                                     .port = cluster.epmd_port(),
                                     .name_prefix = "member_"}));
    DiscoveryOptions options;
    options.interval = 500ms;
    options.retry = RetryPolicy::no_retry();
    Discovery discovery(node, std::move(backends), options);

    eventually([&] { return connected(discovery, one) && connected(discovery, two); });
    CHECK_FALSE(discovery.lookup(atom(other.node_name())).has_value());
    CHECK_FALSE(discovery.lookup(node.name()).has_value());
    // One host of two answered: a partial answer.
    const auto status = discovery.health()[0];
    CHECK(status.health == BackendHealth::degraded);
    CHECK(status.detail.find("no-such-host.invalid") != std::string::npos);
    CHECK(status.name == "epmd " + short_host() + " no-such-host.invalid");
}
