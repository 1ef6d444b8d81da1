// Real BEAM nodes for interop tests: started on loopback with unique names, their own EPMD port
// and hard timeouts, and driven over their standard input. A fixture that cannot do what it was
// asked throws FixtureError: it fails loudly, never quietly.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace distribute::testing {

struct FixtureError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A name no other test of this run or of a concurrent run can have: prefix, pid and a counter.
std::string unique_name(std::string_view prefix);

// A TCP port on 127.0.0.1 that was free a moment ago (bound, then released), picked at random
// below the kernel's ephemeral range, which other processes' connections draw from.
std::uint16_t free_port();

// The host part `erl -sname` uses on this machine (the short host name).
std::string short_host();

// Which Erlang/OTP release the fixture's erl, erlc, elixir and epmd come from: the environment's
// DISTRIBUTE_OTP_RELEASE (25, 27 or 29), or this machine's own OTP when it is unset or empty.
// Releases other than the machine's run from a Debian root through scripts/otp-root (see
// docs/otp-releases.md); they share this machine's network, host name and /tmp.
std::string default_otp_release();

// `argv` as it runs with `release`: an OTP program (erl, erlc, elixir, epmd, ...) goes through
// scripts/otp-root; anything else, or the machine's own release (empty or "25"), is unchanged.
std::vector<std::string> otp_argv(std::vector<std::string> argv, std::string_view release);

// A program run to completion with a hard timeout. Throws FixtureError on timeout (after killing
// the whole process group) or when it cannot be started; the exit status is returned. OTP
// programs run with `release` (default_otp_release() unless given; empty: the machine's own).
struct RunResult {
    int exit_status = -1;
    std::string out;  // stdout
    std::string err;  // stderr
};
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const std::vector<std::string>& extra_env = {}, std::string_view input = {},
              const std::string& release = default_otp_release());

// `erl -noshell` of `release` evaluating `expression`, then halting. Throws FixtureError unless
// it exits 0.
std::string run_erl_eval(std::string_view expression, std::chrono::milliseconds timeout,
                         const std::vector<std::string>& extra_args = {},
                         const std::string& release = default_otp_release());

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it when this goes.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    // path() + "/" + name
    std::string file(std::string_view name) const;

  private:
    std::string path_;
};

// Compiles an Erlang source file with erlc into `out_dir` (pass it to a node with -pa).
// Throws FixtureError with erlc's messages when it does not compile.
void compile_erl(const std::string& source, const std::string& out_dir);

// An `epmd` daemon of OTP's on a private port, killed when this object goes.
class EpmdProcess {
  public:
    explicit EpmdProcess(std::uint16_t port, std::string otp_release = default_otp_release());
    ~EpmdProcess();
    EpmdProcess(const EpmdProcess&) = delete;
    EpmdProcess& operator=(const EpmdProcess&) = delete;
    std::uint16_t port() const { return port_; }

  private:
    std::uint16_t port_;
    std::string otp_release_;
    pid_t pid_ = -1;
    int err_ = -1;  // its stderr, for failure messages
};

struct ErlNodeOptions {
    std::string name_prefix = "erl";  // the node is <unique name>@<short host>
    // Set: exactly this name (before the @) instead of a unique one, for a node that must come
    // back under the name of one that was killed.
    std::string name;
    // Set: a long name, -name <unique name>@long_host (an IP address like 127.0.0.1 or ::1
    // works on a machine without a domain), instead of -sname.
    std::string long_host;
    // The address its distribution listens on (-kernel inet_dist_use_interface), as an Erlang
    // tuple; {0,0,0,0,0,0,0,1} with -proto_dist inet6_tcp.
    std::string interface = "{127,0,0,1}";
    std::string cookie = "interop_cookie";   // empty: no -setcookie, erl reads its cookie file
    std::vector<std::string> extra_env;      // "NAME=value" entries (HOME, say)
    std::optional<std::uint16_t> epmd_port;  // ERL_EPMD_PORT for the node
    bool hidden = false;
    std::vector<std::string> extra_args;  // more `erl` arguments
    std::chrono::milliseconds start_timeout{20000};
    std::string otp_release = default_otp_release();  // "25", "27", "29"; empty: the machine's
};

// A running `erl -sname` node, driven through its standard input: eval() sends one Erlang
// expression and returns what it evaluated to, printed with ~0p on one line. Killed (its whole
// process group) when destroyed; its stderr is kept for failure messages.
class ErlNode {
  public:
    explicit ErlNode(ErlNodeOptions options = {});
    ~ErlNode();
    ErlNode(const ErlNode&) = delete;
    ErlNode& operator=(const ErlNode&) = delete;

    // name@host
    const std::string& node_name() const { return node_name_; }
    // Throws FixtureError when the expression raises, the node dies or the timeout passes.
    std::string eval(std::string_view expression,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(15000));
    // Everything the node wrote to stderr so far.
    std::string diagnostics();

  private:
    // Waits for the answer numbered `sequence` (0: the ready line) while writing `input`.
    std::string await_reply(std::uint64_t sequence, std::chrono::milliseconds timeout,
                            std::string_view input);

    std::string node_name_;
    std::string marker_;  // starts every answer line of the node's loop
    std::uint64_t sequence_ = 0;
    std::string output_;  // what the node printed besides answers (the last 64 KiB)
    std::string unsent_;  // input a timed-out eval could not write
    pid_t pid_ = -1;
    int to_node_ = -1;
    int from_node_ = -1;
    int err_from_node_ = -1;
    std::string pending_;
    std::string errors_;
};

}  // namespace distribute::testing
