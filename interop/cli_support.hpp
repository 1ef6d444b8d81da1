// Running the `distribute` command in interop tests: one-shot subcommands through run(), and
// `distribute node` in the background for the length of a test.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "erl_fixture.hpp"
#include "peer_process.hpp"
#include "subprocess.hpp"

namespace distribute::testing {

// The command of this build.
const std::string& cli_path();
// Fails the test (FixtureError) when the command is not built.
void require_cli();

// `distribute ARGS...` run to completion (60 s at most) with `env` added to ours.
RunResult run_cli(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

// `distribute node ARGS...` started with `env` added to ours, once it has printed that it is up.
// Killed with its process group when this goes. Throws FixtureError with its stderr when it exits
// or does not come up within 20 s.
class ForegroundNode {
  public:
    ForegroundNode(const std::vector<std::string>& args, const std::vector<std::string>& env);
    ForegroundNode(const ForegroundNode&) = delete;
    ForegroundNode& operator=(const ForegroundNode&) = delete;

    const std::string& name() const { return name_; }
    std::uint16_t port() const { return port_; }
    // What it wrote to stderr so far (its log).
    std::string log() { return process_.errors(); }
    // The program itself: its stdout lines, signals, its exit.
    PeerProcess& process() { return process_; }

  private:
    PeerProcess process_;
    std::string name_;
    std::uint16_t port_ = 0;
};

// The local addresses `ss -ltn` shows listening on `port`, sorted ("127.0.0.1:4369",
// "[::1]:4369", "*:9100" for a dual-stack socket).
std::vector<std::string> listening_on(std::uint16_t port);

}  // namespace distribute::testing
