// Running Elixir scripts against our node in interop tests.
#pragma once

#include <string>

#include "node_support.hpp"

namespace distribute::testing {

// An `elixir --sname` node running `script` to its end, on the cluster's EPMD; its stdout.
// `cpp` in the script is our node's name. Fails the test when elixir exits with an error.
struct ElixirRun {
    std::string name = unique_name("ex") + "@" + short_host();
    std::string run_script(const Cluster& cluster, const Node& node, const std::string& script,
                           std::chrono::milliseconds limit = std::chrono::seconds(90)) const {
        const std::string program = "cpp = :\"" + std::string(node.name().name()) + "\"\n" + script;
        RunResult r = run(
            {"elixir", "--sname", name.substr(0, name.find('@')), "--cookie", "interop_cookie",
             "-e", program},
            limit,
            {"ERL_EPMD_PORT=" + std::to_string(cluster.epmd_port()), "ERL_CRASH_DUMP_SECONDS=0"});
        INFO("elixir stdout: " << r.out);
        INFO("elixir stderr: " << r.err);
        REQUIRE(r.exit_status == 0);
        return r.out;
    }
};

// The last non-empty line of `out`.
inline std::string last_line(const std::string& out) {
    std::string s = out;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    const auto nl = s.rfind('\n');
    return nl == std::string::npos ? s : s.substr(nl + 1);
}

}  // namespace distribute::testing
