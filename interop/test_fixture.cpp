// The fixture itself: if these fail, every other interop test's verdict means nothing.
#include <doctest/doctest.h>

#include "erl_fixture.hpp"

using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

ErlNodeOptions options_for(std::uint16_t epmd_port, std::string prefix = "erl",
                           std::string cookie = "interop_cookie") {
    ErlNodeOptions options;
    options.name_prefix = std::move(prefix);
    options.cookie = std::move(cookie);
    options.epmd_port = epmd_port;
    return options;
}

}  // namespace

TEST_CASE("an erl node starts and evaluates expressions sent over its stdin") {
    EpmdProcess epmd(free_port());
    ErlNode node(options_for(epmd.port(), "fixture"));
    CHECK(node.node_name().find('@') != std::string::npos);
    CHECK(node.node_name().rfind("fixture_", 0) == 0);
    CHECK(node.eval("1+1") == "2");
    CHECK(node.eval("atom_to_list(node())") == "\"" + node.node_name() + "\"");
    CHECK(node.eval("X = [a, {b, <<\"c\">>}],\n  lists:reverse(X).") == "[{b,<<\"c\">>},a]");
}

TEST_CASE("an expression that raises is reported as a FixtureError with its class and reason") {
    EpmdProcess epmd(free_port());
    ErlNode node(options_for(epmd.port()));
    try {
        node.eval("erlang:error(fixture_boom)");
        FAIL("eval did not throw");
    } catch (const FixtureError& e) {
        CHECK(std::string(e.what()).find("{error,fixture_boom") != std::string::npos);
    }
    CHECK_THROWS_AS(node.eval("throw(up)"), FixtureError);
    CHECK_THROWS_AS(node.eval("1 +"), FixtureError);
    // The node keeps answering after a failure.
    CHECK(node.eval("2*21") == "42");
}

TEST_CASE("an expression that does not answer in time is a FixtureError, not a hang") {
    EpmdProcess epmd(free_port());
    ErlNode node(options_for(epmd.port()));
    CHECK_THROWS_AS(node.eval("timer:sleep(3000), late", 300ms), FixtureError);
    // The late answer is skipped, not taken for the next one.
    CHECK(node.eval("timer:sleep(3500), on_time") == "on_time");
}

TEST_CASE("two nodes on a private epmd find and ping each other") {
    EpmdProcess epmd(free_port());
    ErlNode a(options_for(epmd.port(), "ping_a"));
    ErlNode b(options_for(epmd.port(), "ping_b"));
    CHECK(a.eval("net_adm:ping('" + b.node_name() + "')") == "pong");
    CHECK(b.eval("lists:member('" + a.node_name() + "', nodes())") == "true");
    const std::string names = run({"epmd", "-port", std::to_string(epmd.port()), "-names"}, 5s).out;
    CHECK(names.find(a.node_name().substr(0, a.node_name().find('@'))) != std::string::npos);
}

TEST_CASE("nodes with different cookies cannot connect") {
    EpmdProcess epmd(free_port());
    ErlNode a(options_for(epmd.port(), "erl", "one"));
    ErlNode b(options_for(epmd.port(), "erl", "two"));
    CHECK(a.eval("net_adm:ping('" + b.node_name() + "')") == "pang");
}

TEST_CASE("a node that cannot reach its epmd fails to start with the node's own explanation") {
    const auto port = free_port();  // nobody listens there
    try {
        ErlNode node(options_for(port));
        FAIL("the node started without an epmd");
    } catch (const FixtureError& e) {
        const std::string message = e.what();
        CHECK(message.find("starting node") != std::string::npos);
        CHECK(message.find("register/listen error") != std::string::npos);
    }
}

TEST_CASE("run and run_erl_eval return output and refuse failures") {
    CHECK(run_erl_eval("io:format(\"~p\", [lists:seq(1,3)])", 20s) == "[1,2,3]");
    CHECK_THROWS_AS(run_erl_eval("erlang:error(nope)", 20s), FixtureError);
    const RunResult cat = run({"cat"}, 5s, {}, "hello");
    CHECK(cat.exit_status == 0);
    CHECK(cat.out == "hello");
    CHECK(run({"sh", "-c", "exit 3"}, 5s).exit_status == 3);
    CHECK_THROWS_AS(run({"sleep", "10"}, 200ms), FixtureError);
}

TEST_CASE("a second epmd on a taken port is a FixtureError") {
    EpmdProcess first(free_port());
    CHECK_THROWS_AS(EpmdProcess(first.port()), FixtureError);
}
