#include "cli_support.hpp"

#include <algorithm>
#include <chrono>
#include <sstream>

namespace distribute::testing {

using namespace std::chrono_literals;

const std::string& cli_path() {
    static const std::string path = DISTRIBUTE_BUILD_ROOT "/src/cli/distribute";
    return path;
}

void require_cli() {
    if (run({"test", "-x", cli_path()}, 5s).exit_status != 0)
        throw FixtureError(cli_path() + " is not built");
}

RunResult run_cli(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    std::vector<std::string> argv = {cli_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, 60s, env);
}

namespace {

std::vector<std::string> node_argv(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {cli_path(), "node"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

}  // namespace

ForegroundNode::ForegroundNode(const std::vector<std::string>& args,
                               const std::vector<std::string>& env)
    : process_(node_argv(args), env) {
    // "NAME is up (port N); ..."
    const std::string line = process_.await_line("", 20s);
    const std::string up = " is up (port ";
    const auto at = line.find(up);
    if (at == std::string::npos)
        throw FixtureError("distribute node said: " + line + "\n" + process_.output());
    name_ = line.substr(0, at);
    port_ = static_cast<std::uint16_t>(std::stoul(line.substr(at + up.size())));
}

std::vector<std::string> listening_on(std::uint16_t port) {
    const RunResult ss = run({"ss", "-ltnH"}, 10s);
    if (ss.exit_status != 0) throw FixtureError("ss -ltnH failed: " + ss.err);
    // State, Recv-Q, Send-Q, Local Address:Port, Peer Address:Port
    const std::string suffix = ":" + std::to_string(port);
    std::vector<std::string> found;
    std::istringstream lines(ss.out);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        std::string state, receive, send, local;
        fields >> state >> receive >> send >> local;
        if (local.size() > suffix.size() && local.ends_with(suffix)) found.push_back(local);
    }
    std::sort(found.begin(), found.end());
    return found;
}

}  // namespace distribute::testing
