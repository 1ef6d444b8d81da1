#include "peer_process.hpp"

#include <sys/stat.h>

#include <csignal>

#include <string_view>

namespace distribute::testing {

namespace {

using std::chrono::milliseconds;

std::string tail(const std::string& text, std::size_t max = 4000) {
    return text.size() <= max ? text : "..." + text.substr(text.size() - max);
}

bool exists(const std::string& path) {
    struct stat info {};
    return ::stat(path.c_str(), &info) == 0;
}

// OtpErlang.jar: where erlang-jinterface puts it in the machine's OTP tree, or Debian's copy.
// Asked of the machine's erl whatever release the BEAM peers run (DISTRIBUTE_OTP_RELEASE):
// the roots of other releases have no JInterface, and the Java node is a peer of its own.
std::string jinterface_jar() {
    const std::string lib =
        run_erl_eval("io:format(\"~s\", [code:lib_dir(jinterface)])", milliseconds(30000), {}, "");
    for (const std::string& path :
         {lib + "/priv/OtpErlang.jar", std::string("/usr/share/java/OtpErlang.jar")})
        if (exists(path)) return path;
    throw FixtureError(
        "no OtpErlang.jar (Debian package erlang-jinterface) for the JInterface peer");
}

}  // namespace

PeerProcess::PeerProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env)
    : child_(spawn_child(argv, env)) {}

PeerProcess::~PeerProcess() {
    kill_child(child_);
}

void PeerProcess::pump(milliseconds slice) {
    std::string_view no_input;
    testing::pump(child_, no_input, false, out_, err_, Clock::now() + slice, slice);
    if (ended_) return;
    if (auto status = try_reap(child_)) {
        ended_ = true;
        exit_status_ = *status;
    }
}

std::string PeerProcess::await_line(std::string_view prefix, milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
        // Lines after the last one handed out.
        std::size_t at = taken_;
        while (at < out_.size()) {
            const auto end = out_.find('\n', at);
            if (end == std::string::npos) break;
            const std::string_view line(out_.data() + at, end - at);
            at = end + 1;
            if (line.substr(0, prefix.size()) == prefix) {
                taken_ = at;
                return std::string(line);
            }
        }
        if (Clock::now() >= deadline || (ended_ && child_.out < 0))
            throw FixtureError("no line starting with '" + std::string(prefix) + "' from the peer" +
                               (ended_ ? " (it ended)" : "") + "\n" + output());
        pump(milliseconds(50));
    }
}

void PeerProcess::await_output(std::string_view text, milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (out_.find(text) == std::string::npos && err_.find(text) == std::string::npos) {
        if (Clock::now() >= deadline || (ended_ && child_.out < 0 && child_.err < 0))
            throw FixtureError("no '" + std::string(text) + "' from the program" +
                               (ended_ ? " (it ended)" : "") + "\n" + output());
        pump(milliseconds(50));
    }
}

std::vector<std::string> PeerProcess::lines() {
    pump(milliseconds(1));
    std::vector<std::string> out;
    std::size_t at = 0;
    for (auto end = out_.find('\n'); end != std::string::npos; end = out_.find('\n', at)) {
        out.emplace_back(out_.substr(at, end - at));
        at = end + 1;
    }
    return out;
}

void PeerProcess::kill() {
    kill_child(child_);
    ended_ = true;
}

void PeerProcess::send_signal(int signal) {
    if (!ended_ && child_.pid > 0) ::kill(child_.pid, signal);
}

int PeerProcess::stop_with(int signal, milliseconds limit) {
    send_signal(signal);
    const auto deadline = Clock::now() + limit;
    while (!ended_) {
        if (Clock::now() >= deadline)
            throw FixtureError("the peer did not end within " + std::to_string(limit.count()) +
                               " ms of signal " + std::to_string(signal) + "\n" + output());
        pump(milliseconds(50));
    }
    // What it printed while ending.
    std::string_view no_input;
    while ((child_.out >= 0 || child_.err >= 0) &&
           testing::pump(child_, no_input, false, out_, err_, Clock::now() + milliseconds(100),
                         milliseconds(10)) == PumpResult::moved) {
    }
    return exit_status_;
}

std::string PeerProcess::output() const {
    return "--- stdout ---\n" + tail(out_) + "\n--- stderr ---\n" + tail(err_);
}

std::string PeerProcess::errors() {
    std::string_view no_input;
    while (child_.err >= 0 &&
           testing::pump(child_, no_input, false, out_, err_, Clock::now() + milliseconds(100),
                         milliseconds(10)) == PumpResult::moved) {
    }
    return err_;
}

std::vector<std::string> ei_peer_argv(const std::vector<std::string>& args) {
    std::vector<std::string> argv{EI_PEER_EXE};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

std::vector<std::string> java_peer_argv(const TempDir& classes,
                                        const std::vector<std::string>& args) {
    const std::string jar = jinterface_jar();
    if (!exists(classes.file("JPeer.class"))) {
        const RunResult built = run({"javac", "-cp", jar, "-d", classes.path(),
                                     std::string(INTEROP_SOURCE_DIR) + "/peers/JPeer.java"},
                                    milliseconds(180000));
        if (built.exit_status != 0)
            throw FixtureError("javac JPeer.java failed\n" + built.out + built.err);
    }
    std::vector<std::string> argv{"java", "-cp", classes.path() + ":" + jar, "JPeer"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

std::string epmd_env(std::uint16_t port) {
    return "ERL_EPMD_PORT=" + std::to_string(port);
}

}  // namespace distribute::testing
