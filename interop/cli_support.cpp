#include "cli_support.hpp"

#include <algorithm>
#include <chrono>
#include <sstream>

namespace distribute::interop {

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

ForegroundNode::ForegroundNode(const std::vector<std::string>& args,
                               const std::vector<std::string>& env) {
    std::vector<std::string> argv = {cli_path(), "node"};
    argv.insert(argv.end(), args.begin(), args.end());
    child_ = spawn_child(argv, env);
    const auto deadline = Clock::now() + 20s;
    std::string_view none;
    // "NAME is up (port N); ..."
    const std::string up = " is up (port ";
    while (out_.find('\n') == std::string::npos) {
        const bool late = pump(child_, none, false, out_, err_, deadline) == PumpResult::timed_out;
        const auto exited = late ? std::nullopt : try_reap(child_);
        if (late || exited || child_.out < 0) {
            kill_child(child_);
            throw FixtureError("distribute node " +
                               (late
                                    ? std::string("did not come up in time")
                                    : "exited with status " + std::to_string(exited.value_or(-1))) +
                               "\nstdout: " + out_ + "\nstderr: " + err_);
        }
    }
    const auto at = out_.find(up);
    if (at == std::string::npos) {
        kill_child(child_);
        throw FixtureError("distribute node said: " + out_ + "\nstderr: " + err_);
    }
    name_ = out_.substr(0, at);
    port_ = static_cast<std::uint16_t>(std::stoul(out_.substr(at + up.size())));
}

ForegroundNode::~ForegroundNode() {
    kill_child(child_);
}

std::string ForegroundNode::log() {
    std::string_view none;
    while (child_.err >= 0 &&
           pump(child_, none, false, out_, err_, Clock::now() + 100ms, 10ms) == PumpResult::moved) {
    }
    return err_;
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

}  // namespace distribute::interop
