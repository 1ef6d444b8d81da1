// Where `distribute node` listens, checked with `ss -ltn`: --listen keeps the node and the EPMD it
// starts on that address (plus loopback, as epmd -address), the default is every interface of
// both families, and a node on every interface with a cookie from a default file says so. A real
// erl reaches the node through the EPMD it started.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

using Addresses = std::vector<std::string>;

// A HOME whose .erlang.cookie holds `cookie`, mode 0400.
std::string home_with_cookie(const TempDir& dir, const std::string& cookie) {
    const auto path = dir.file(".erlang.cookie");
    std::ofstream(path) << cookie;
    REQUIRE(::chmod(path.c_str(), 0400) == 0);
    return dir.path();
}

std::string at(const std::string& address, std::uint16_t port) {
    return address + ":" + std::to_string(port);
}

}  // namespace

TEST_CASE(
    "--listen 127.0.0.1 binds the node and the EPMD it starts to loopback, where erl finds it") {
    require_cli();
    TempDir home;
    home_with_cookie(home, "interop_cookie");
    const auto epmd = free_port();
    const auto port = free_port();
    const std::vector<std::string> env = {"ERL_EPMD_PORT=" + std::to_string(epmd),
                                          "HOME=" + home.path()};
    ForegroundNode node(
        {"--sname", unique_name("loop"), "--listen", "127.0.0.1", "--port", std::to_string(port)},
        env);
    INFO(node.log());
    CHECK(node.port() == port);
    CHECK(listening_on(port) == Addresses{at("127.0.0.1", port)});
    // As epmd -address 127.0.0.1 does: both loopbacks, nothing else.
    CHECK(listening_on(epmd) == Addresses{at("127.0.0.1", epmd), at("[::1]", epmd)});
    CHECK(node.log().find("every interface") == std::string::npos);

    ErlNodeOptions options;
    options.epmd_port = epmd;
    ErlNode erl(options);
    CHECK(erl.eval("net_adm:ping(" + quoted(node.name()) + ")") == "pong");
    CHECK(erl.eval("rpc:call(" + quoted(node.name()) + ", demo, add, [1, 2])") == "3");
}

TEST_CASE("by default the node listens on every interface of both families, and so does its EPMD") {
    require_cli();
    TempDir home;
    home_with_cookie(home, "interop_cookie");
    const auto epmd = free_port();
    const auto port = free_port();
    ForegroundNode node({"--sname", unique_name("every"), "--port", std::to_string(port)},
                        {"ERL_EPMD_PORT=" + std::to_string(epmd), "HOME=" + home.path()});
    const std::string log = node.log();
    INFO(log);
    CHECK(listening_on(port) == Addresses{at("*", port)});  // one dual-stack socket
    CHECK(listening_on(epmd) == Addresses{at("0.0.0.0", epmd), at("[::]", epmd)});
    // The cookie came from HOME: the node says where it listens and how to narrow it.
    CHECK(log.find("listening on every interface") != std::string::npos);
    CHECK(log.find(home.file(".erlang.cookie")) != std::string::npos);
    CHECK(log.find("--listen") != std::string::npos);
}

TEST_CASE(
    "no warning about every interface when the cookie was given, or the node is on loopback") {
    require_cli();
    const auto epmd = free_port();
    const std::vector<std::string> env = {"ERL_EPMD_PORT=" + std::to_string(epmd)};
    {
        ForegroundNode given({"--sname", unique_name("given"), "--cookie", "interop_cookie"}, env);
        CHECK(given.log().find("every interface") == std::string::npos);
    }
    TempDir dir;
    home_with_cookie(dir, "interop_cookie");
    ForegroundNode from_file(
        {"--sname", unique_name("file"), "--cookie-file", dir.file(".erlang.cookie")}, env);
    CHECK(from_file.log().find("every interface") == std::string::npos);
}

TEST_CASE("--port MIN-MAX takes the first free port of the range; --listen wants an address") {
    require_cli();
    const auto epmd = free_port();
    const auto first = free_port();
    const std::vector<std::string> env = {"ERL_EPMD_PORT=" + std::to_string(epmd)};
    const std::string range = std::to_string(first) + "-" + std::to_string(first + 5);
    ForegroundNode one({"--sname", unique_name("range"), "--cookie", "c", "--listen", "127.0.0.1",
                        "--port", range},
                       env);
    CHECK(one.port() == first);
    ForegroundNode two({"--sname", unique_name("range"), "--cookie", "c", "--listen", "127.0.0.1",
                        "--port", range},
                       env);
    CHECK(two.port() > first);
    CHECK(two.port() <= first + 5);

    const auto bad_address =
        run_cli({"node", "--sname", "x", "--cookie", "c", "--listen", "localhost"}, env);
    // The settings refuse it before the node starts: a bad command line, naming the setting.
    CHECK(bad_address.exit_status == 2);
    CHECK(bad_address.err.find("node.listen = 'localhost' (command line --listen): not an IP "
                               "address") != std::string::npos);
}
