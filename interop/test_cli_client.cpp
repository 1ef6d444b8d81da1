// The client subcommands (ping, send, call, rpc, stats) against real erl nodes: each reason a
// connection cannot be made has its own message and exit status, --sname and --name name the
// command's own node, and a long-name erl node with an IP host is reachable on a machine without a
// domain name.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cli_support.hpp"
#include "epmd_support.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// Each client command aimed at `node`, with the cookie.
std::vector<std::vector<std::string>> every_command(const std::string& node,
                                                    const std::string& cookie) {
    return {{"ping", node, "--cookie", cookie},
            {"send", node, "inbox", "hello", "--cookie", cookie},
            {"call", node, "server", "hello", "--cookie", cookie},
            {"rpc", node, "erlang", "node", "--cookie", cookie},
            {"stats", node, "--cookie", cookie}};
}

}  // namespace

TEST_CASE("each reason a connection fails has its own message and exit status in every command") {
    require_cli();
    Cluster cluster;
    ErlNode erl(cluster.erl_options("target"));
    const std::string host = short_host();
    const std::vector<std::string> env = {"ERL_EPMD_PORT=" + std::to_string(cluster.epmd_port())};
    const std::string erl_alive = erl.node_name().substr(0, erl.node_name().find('@'));

    // The name is not registered: the message lists the names EPMD has.
    for (const auto& args : every_command("nobody@" + host, "interop_cookie")) {
        CAPTURE(args[0]);
        const auto r = run_cli(args, env);
        CHECK(r.exit_status == 4);
        CHECK(has(r.err, "nobody is not registered on " + host + " (EPMD lists: "));
        CHECK(has(r.err, erl_alive));
    }
    // The cookies differ.
    for (const auto& args : every_command(erl.node_name(), "not_the_cookie")) {
        CAPTURE(args[0]);
        const auto r = run_cli(args, env);
        CHECK(r.exit_status == 5);
        CHECK(has(r.err, erl.node_name() + " refused the handshake: wrong cookie?"));
    }
    // No EPMD on that port of the host.
    const auto silent = free_port();
    for (const auto& args : every_command(erl.node_name(), "interop_cookie")) {
        CAPTURE(args[0]);
        const auto r = run_cli(args, {"ERL_EPMD_PORT=" + std::to_string(silent)});
        CHECK(r.exit_status == 3);
        CHECK(has(r.err, "no EPMD on " + host + ":" + std::to_string(silent)));
    }
    // Unreachable: a host that does not resolve, and a registered port where nothing listens.
    auto unknown = run_cli({"ping", "x@no-such-host.invalid", "--cookie", "c"}, env);
    CHECK(unknown.exit_status == 6);
    CHECK(has(unknown.err, "x@no-such-host.invalid is unreachable: cannot resolve"));
    Loop loop;
    EpmdClient client(loop.io, client_for(cluster.epmd_port()));
    const std::string ghost = unique_name("ghost");
    Registration registered(client, {ghost, free_port(), NodeType::hidden, 6, 6, {}});
    REQUIRE(registered.wait().has_value());
    for (const auto& args : every_command(ghost + "@" + host, "interop_cookie")) {
        CAPTURE(args[0]);
        const auto r = run_cli(args, env);
        CHECK(r.exit_status == 6);
        CHECK(has(r.err, ghost + "@" + host + " is unreachable"));
    }
    // ping prints pang for each of them, and pong (status 0) when it works.
    const auto pang = run_cli({"ping", "nobody@" + host, "--cookie", "interop_cookie"}, env);
    CHECK(pang.out == "pang\n");
    const auto pong = run_cli({"ping", erl.node_name(), "--cookie", "interop_cookie"}, env);
    CHECK(pong.exit_status == 0);
    CHECK(pong.out == "pong\n");
}

TEST_CASE("--sname and --name name the command's own node, as erl sees it") {
    require_cli();
    Cluster cluster;
    ErlNode erl(cluster.erl_options("named"));
    const std::vector<std::string> env = {"ERL_EPMD_PORT=" + std::to_string(cluster.epmd_port())};
    const std::string mine = unique_name("cli");
    const auto r = run_cli({"rpc", erl.node_name(), "erlang", "nodes", "[hidden]", "--sname", mine,
                            "--cookie", "interop_cookie"},
                           env);
    CHECK(r.exit_status == 0);
    CHECK(r.out == "[" + mine + "@" + short_host() + "]\n");  // '@' needs no quotes

    // A long-names erl with an IP host, on a machine whose host name has no domain.
    ErlNodeOptions long_options = cluster.erl_options("ip");
    long_options.long_host = "127.0.0.1";
    ErlNode ip(long_options);
    const auto by_default = run_cli({"ping", ip.node_name(), "--cookie", "interop_cookie"}, env);
    CHECK(by_default.exit_status == 0);
    CHECK(by_default.out == "pong\n");
    // The ping's node has gone by the time erl lists its hidden nodes.
    eventually([&] { return ip.eval("nodes(hidden)") == "[]"; });
    const std::string named = unique_name("cli") + "@127.0.0.1";
    const auto with_name = run_cli({"rpc", ip.node_name(), "erlang", "nodes", "[hidden]", "--name",
                                    named, "--cookie", "interop_cookie"},
                                   env);
    CHECK(with_name.exit_status == 0);
    CHECK(with_name.out == "['" + named + "']\n");
    // call and send reach it too.
    CHECK(ip.eval("register(inbox, self())") == "true");
    const auto sent = run_cli(
        {"send", ip.node_name(), "inbox", "{from_cli, 1}", "--cookie", "interop_cookie"}, env);
    CHECK(sent.exit_status == 0);
    CHECK(ip.eval("receive M -> M after 5000 -> none end") == "{from_cli,1}");

    const auto both = run_cli({"ping", ip.node_name(), "--sname", "a", "--name", "b"}, env);
    CHECK(both.exit_status == 2);
}
