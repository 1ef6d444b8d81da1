// Programs that run beside an interop test and print one line per event on stdout, which a
// PeerProcess reads: the foreign peers, the erl_interface C node (interop/peers/ei_peer.cpp, built
// against Debian's libei) and the JInterface node (interop/peers/JPeer.java, compiled here against
// Debian's OtpErlang.jar), and `distribute node` (ForegroundNode, cli_support.hpp). Each is killed
// (its process group) when its PeerProcess goes. A fixture that cannot start one throws
// FixtureError.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "erl_fixture.hpp"
#include "subprocess.hpp"

namespace distribute::testing {

class PeerProcess {
  public:
    PeerProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env);
    ~PeerProcess();
    PeerProcess(const PeerProcess&) = delete;
    PeerProcess& operator=(const PeerProcess&) = delete;

    // The first line (whole, without its newline) that starts with `prefix` and was not taken
    // by an earlier call; waits for it up to `limit`. Throws FixtureError, with everything the
    // program printed, when none comes or the program ends first.
    std::string await_line(std::string_view prefix,
                           std::chrono::milliseconds limit = std::chrono::seconds(20));
    // Waits until stdout or stderr (where `distribute node` logs) holds `text`, up to `limit`;
    // throws as await_line does when it does not come.
    void await_output(std::string_view text,
                      std::chrono::milliseconds limit = std::chrono::seconds(20));
    // Every line printed so far (reading what is there now, without waiting).
    std::vector<std::string> lines();
    // SIGKILL to the program's process group, now.
    void kill();
    // Sends `signal` to the program alone (not its process group), and returns.
    void send_signal(int signal);
    // Sends `signal` to the program alone and waits up to `limit` for it to end, reading its
    // output meanwhile: its exit status (128 + N when signal N ended it). Throws FixtureError,
    // with its output, when it is still running after `limit`.
    int stop_with(int signal, std::chrono::milliseconds limit = std::chrono::seconds(20));
    // stdout and stderr so far, for failure messages.
    std::string output() const;
    // Everything it wrote to stderr so far (its log), reading what is there now.
    std::string errors();

  private:
    void pump(std::chrono::milliseconds slice);

    Child child_;
    std::string out_, err_;
    std::size_t taken_ = 0;  // lines handed out by await_line
    bool ended_ = false;
    int exit_status_ = -1;  // once ended_ by itself
};

// The erl_interface C node's command line: `serve ALIVE HOST COOKIE` or
// `connect ALIVE|- HOST COOKIE TARGET` (see ei_peer.cpp).
std::vector<std::string> ei_peer_argv(const std::vector<std::string>& args);

// The JInterface peer: compiles JPeer.java into `classes` (once per directory) and returns the
// java command line for `args`.
std::vector<std::string> java_peer_argv(const TempDir& classes,
                                        const std::vector<std::string>& args);

// ERL_EPMD_PORT=port, for a peer's environment.
std::string epmd_env(std::uint16_t port);

}  // namespace distribute::testing
