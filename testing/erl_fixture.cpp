#include "erl_fixture.hpp"

#include <glob.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <utility>

#include "subprocess.hpp"

namespace distribute::testing {
namespace {

using std::chrono::milliseconds;

// No erl_crash.dump files in the working directory when a node is killed or fails to boot.
const std::vector<std::string> erl_env = {"ERL_CRASH_DUMP_SECONDS=0"};

std::string tail(const std::string& text, std::size_t max = 4000) {
    return text.size() <= max ? text : "..." + text.substr(text.size() - max);
}

std::string report(std::string_view what, const std::string& out, const std::string& err) {
    std::string message(what);
    if (!out.empty()) message += "\n--- stdout ---\n" + tail(out);
    if (!err.empty()) message += "\n--- stderr ---\n" + tail(err);
    return message;
}

bool is_machine_release(std::string_view release) {
    return release.empty() || release == "25";
}

std::string find_epmd() {
    if (::access("/usr/bin/epmd", X_OK) == 0) return "/usr/bin/epmd";
    glob_t found{};
    std::string result;
    if (::glob("/usr/lib/erlang/erts-*/bin/epmd", 0, nullptr, &found) == 0 && found.gl_pathc > 0)
        result = found.gl_pathv[found.gl_pathc - 1];
    ::globfree(&found);
    if (result.empty()) throw FixtureError("cannot find OTP's epmd binary");
    return result;
}

// The read-eval-print loop a node runs over its stdin. Each answer is one line:
// <marker><sequence> ok|error|ready <~0p text>; sequence numbers let eval() skip the late
// answer of an expression that timed out.
std::string repl_source(const std::string& marker) {
    return R"ERL(
Mark = ")ERL" +
           marker +
           R"ERL(",
Reply = fun(N, Tag, Text) ->
    io:put_chars([Mark, integer_to_list(N), $\s, Tag, $\s, Text, $\n]) end,
Loop = fun Loop(N) ->
    case io:parse_erl_exprs('') of
        {ok, Exprs, _} ->
            try erl_eval:exprs(Exprs, erl_eval:new_bindings()) of
                {value, V, _} -> Reply(N, "ok", io_lib:format("~0p", [V]))
            catch C:R:S -> Reply(N, "error", io_lib:format("~0p", [{C, R, S}]))
            end,
            Loop(N + 1);
        {error, E, _} ->
            Reply(N, "error", io_lib:format("~0p", [{parse_error, E}])),
            Loop(N + 1);
        {eof, _} -> halt(0);
        eof -> halt(0);
        Other -> io:format(standard_error, "fixture loop: ~0p~n", [Other]), halt(1)
    end
end,
io:setopts(standard_io, [{encoding, unicode}]),
spawn(fun() -> Reply(0, "ready", atom_to_list(node())), Loop(1) end).
)ERL";
}

}  // namespace

std::string default_otp_release() {
    const char* release = std::getenv("DISTRIBUTE_OTP_RELEASE");
    return release != nullptr ? release : "";
}

std::vector<std::string> otp_argv(std::vector<std::string> argv, std::string_view release) {
    static const std::string_view programs[] = {"erl",  "erlc",    "elixir", "elixirc",
                                                "epmd", "escript", "iex",    "mix"};
    if (argv.empty() || is_machine_release(release) ||
        std::find(std::begin(programs), std::end(programs), argv[0]) == std::end(programs))
        return argv;
    // What the root must see at the same paths as here: the sources (interop/erl), the build
    // tree and the temporary directories (compiled helpers); the current directory is added by
    // the script itself.
    const char* tmp = std::getenv("TMPDIR");
    std::string share = std::string("OTP_ROOT_SHARE=") + DISTRIBUTE_SOURCE_ROOT + ":" +
                        DISTRIBUTE_BUILD_ROOT + (tmp != nullptr && *tmp != '\0' ? ":" : "") +
                        (tmp != nullptr ? tmp : "");
    std::vector<std::string> wrapped = {"env", std::move(share),
                                        std::string(DISTRIBUTE_SOURCE_ROOT) + "/scripts/otp-root",
                                        std::string(release), "--"};
    wrapped.insert(wrapped.end(), std::make_move_iterator(argv.begin()),
                   std::make_move_iterator(argv.end()));
    return wrapped;
}

std::string unique_name(std::string_view prefix) {
    static std::atomic<unsigned> counter{0};
    const auto stamp = Clock::now().time_since_epoch().count() % 1000000;
    return std::string(prefix) + "_" + std::to_string(::getpid()) + "_" +
           std::to_string(counter.fetch_add(1)) + "_" + std::to_string(stamp);
}

namespace {

// Binds 127.0.0.1:port (0: any) and releases it; the port bound, or 0 when it was taken.
std::uint16_t try_bind(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw FixtureError("socket failed");
    // As epmd binds: connections of an EPMD killed a moment ago, in TIME_WAIT, do not count as
    // the port being taken (a listener on it still does), so one can be started again on it.
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    socklen_t length = sizeof address;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    ::close(fd);
    return ok ? ntohs(address.sin_port) : 0;
}

// The lowest port the kernel hands out by itself (to a connect, or a bind to port 0).
int first_ephemeral_port() {
    std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
    int low = 0;
    return range >> low ? low : 32768;
}

}  // namespace

std::uint16_t free_port() {
    // Below the kernel's ephemeral range when there is room there: a port from that range, free
    // when looked at, may go to any process's next connection before the test binds it.
    constexpr int lowest = 10000;
    const int below = first_ephemeral_port();
    if (below - lowest >= 1000) {
        thread_local std::mt19937 random{std::random_device{}()};
        std::uniform_int_distribution<int> pick(lowest, below - 1);
        for (int attempt = 0; attempt < 100; ++attempt)
            if (const auto port = try_bind(static_cast<std::uint16_t>(pick(random)))) return port;
    }
    const auto port = try_bind(0);
    if (port == 0) throw FixtureError("free_port: bind failed");
    return port;
}

std::string short_host() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) throw FixtureError("gethostname failed");
    std::string host(name);
    return host.substr(0, host.find('.'));
}

RunResult run(const std::vector<std::string>& argv, milliseconds timeout,
              const std::vector<std::string>& extra_env, std::string_view input,
              const std::string& release) {
    const auto deadline = Clock::now() + timeout;
    Child child = spawn_child(otp_argv(argv, release), extra_env);
    RunResult result;
    std::optional<int> status;
    while (!status || child.out >= 0 || child.err >= 0) {
        if (pump(child, input, true, result.out, result.err, deadline) == PumpResult::timed_out) {
            kill_child(child);
            throw FixtureError(report(
                "'" + argv[0] + "' timed out after " + std::to_string(timeout.count()) + " ms",
                result.out, result.err));
        }
        if (!status) status = try_reap(child);
        // A daemon it left behind may hold the pipes open: once it has exited, take what is
        // there and stop.
        if (status && (child.out >= 0 || child.err >= 0)) {
            while (pump(child, input, true, result.out, result.err, deadline, milliseconds(1)) ==
                   PumpResult::moved) {
            }
            break;
        }
    }
    kill_child(child);  // closes the pipes; the group is gone already
    result.exit_status = *status;
    return result;
}

std::string run_erl_eval(std::string_view expression, milliseconds timeout,
                         const std::vector<std::string>& extra_args, const std::string& release) {
    std::string body(expression);
    while (!body.empty() &&
           (std::isspace(static_cast<unsigned char>(body.back())) != 0 || body.back() == '.'))
        body.pop_back();
    const std::string program =
        "try begin " + body +
        " end of _ -> init:stop(0) catch C:R:S -> "
        "io:format(standard_error, \"~p:~p~n~p~n\", [C, R, S]), init:stop(1) end.";
    std::vector<std::string> argv = {"erl", "-noshell"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    argv.insert(argv.end(), {"-eval", program});
    RunResult result = run(argv, timeout, erl_env, {}, release);
    if (result.exit_status != 0)
        throw FixtureError(report(
            "erl -eval exited with status " + std::to_string(result.exit_status) + ": " + body,
            result.out, result.err));
    return result.out;
}

TempDir::TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                          "/distribute-interop-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr)
        throw FixtureError("mkdtemp failed for " + pattern + ": " + std::strerror(errno));
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::file(std::string_view name) const {
    return path_ + "/" + std::string(name);
}

void compile_erl(const std::string& source, const std::string& out_dir) {
    const RunResult result = run({"erlc", "-o", out_dir, source}, milliseconds(60000));
    if (result.exit_status != 0)
        throw FixtureError(report("erlc " + source + " failed", result.out, result.err));
}

EpmdProcess::EpmdProcess(std::uint16_t port, std::string otp_release)
    : port_(port), otp_release_(std::move(otp_release)) {
    // The machine's epmd by its path (it may not be in PATH); another release's through its root.
    const std::string epmd = is_machine_release(otp_release_) ? find_epmd() : "epmd";
    const std::string port_text = std::to_string(port);
    // Otherwise the probe below would be answered by whoever has the port.
    if (try_bind(port) == 0) throw FixtureError("epmd: port " + port_text + " is taken");
    Child child = spawn_child(
        otp_argv({epmd, "-address", "127.0.0.1", "-port", port_text}, otp_release_), {});
    pid_ = child.pid;
    err_ = child.err;
    ::close(child.in);
    ::close(child.out);
    const auto deadline = Clock::now() + milliseconds(10000);
    for (;;) {
        Child probe{pid_, -1, -1, -1};
        const auto status = try_reap(probe);
        RunResult names;
        try {
            if (!status)
                names = run(otp_argv({epmd, "-port", port_text, "-names"}, otp_release_),
                            milliseconds(5000));
        } catch (const FixtureError&) {
            // A probe that hangs counts as no answer yet.
        }
        if (names.exit_status == 0) return;
        if (status || Clock::now() >= deadline) {
            Child doomed{probe.pid, -1, -1, err_};
            std::string_view none;
            std::string out, err;
            pump(doomed, none, false, out, err, Clock::now() + milliseconds(100));
            kill_child(doomed);
            pid_ = err_ = -1;
            throw FixtureError(report("epmd on port " + port_text +
                                          (status ? " exited with status " + std::to_string(*status)
                                                  : std::string(" did not answer")),
                                      names.out + out, names.err + err));
        }
        std::this_thread::sleep_for(milliseconds(50));
    }
}

EpmdProcess::~EpmdProcess() {
    Child child{pid_, -1, -1, err_};
    kill_child(child);
}

ErlNode::ErlNode(ErlNodeOptions options) {
    const std::string name = options.name.empty() ? unique_name(options.name_prefix) : options.name;
    marker_ = "@@fixture:" + name + "@@";
    std::vector<std::string> argv = {"erl", "-noshell", "-kernel", "inet_dist_use_interface",
                                     options.interface,
                                     // Idle schedulers sleep: the machine is shared.
                                     "+sbwt", "none", "+sbwtdcpu", "none", "+sbwtdio", "none"};
    if (options.long_host.empty())
        argv.insert(argv.end(), {"-sname", name});
    else
        argv.insert(argv.end(), {"-name", name + "@" + options.long_host});
    if (!options.cookie.empty()) argv.insert(argv.end(), {"-setcookie", options.cookie});
    std::vector<std::string> env = erl_env;
    env.insert(env.end(), options.extra_env.begin(), options.extra_env.end());
    if (options.epmd_port) {
        env.push_back("ERL_EPMD_PORT=" + std::to_string(*options.epmd_port));
        // Its EPMD is the test's: never start a stray one that would outlive the test.
        argv.insert(argv.end(), {"-start_epmd", "false"});
    }
    if (options.hidden) argv.push_back("-hidden");
    argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
    argv.insert(argv.end(), {"-eval", repl_source(marker_)});

    Child child = spawn_child(otp_argv(std::move(argv), options.otp_release), env);
    pid_ = child.pid;
    to_node_ = child.in;
    from_node_ = child.out;
    err_from_node_ = child.err;
    try {
        node_name_ = await_reply(0, options.start_timeout, {});
    } catch (...) {
        Child started{pid_, to_node_, from_node_, err_from_node_};
        kill_child(started);
        pid_ = to_node_ = from_node_ = err_from_node_ = -1;
        throw;
    }
}

ErlNode::~ErlNode() {
    Child child{pid_, to_node_, from_node_, err_from_node_};
    kill_child(child);
}

std::string ErlNode::eval(std::string_view expression, milliseconds timeout) {
    std::string text(expression);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0)
        text.pop_back();
    if (text.empty() || text.back() != '.') text += '.';
    text += '\n';
    const auto sequence = ++sequence_;
    return await_reply(sequence, timeout, text);
}

std::string ErlNode::await_reply(std::uint64_t sequence, milliseconds timeout,
                                 std::string_view input) {
    if (pid_ < 0) throw FixtureError("the node is gone: " + errors_);
    const std::string what =
        sequence == 0 ? "starting node" : "evaluating " + std::string(input.substr(0, 400));
    const auto deadline = Clock::now() + timeout;
    Child child{pid_, to_node_, from_node_, err_from_node_};
    // What a timed-out eval could not write goes first, so the node's reader stays in step.
    std::string to_write = std::exchange(unsent_, {}) + std::string(input);
    input = to_write;
    const std::string prefix = marker_ + std::to_string(sequence) + " ";
    for (;;) {
        std::size_t end;
        while ((end = pending_.find('\n')) != std::string::npos) {
            std::string line = pending_.substr(0, end);
            pending_.erase(0, end + 1);
            if (line.rfind(prefix, 0) == 0) {
                const std::string rest = line.substr(prefix.size());
                const auto space = rest.find(' ');
                const std::string tag = rest.substr(0, space);
                const std::string value = space == std::string::npos ? "" : rest.substr(space + 1);
                if (tag == "error")
                    throw FixtureError(report(what + " raised " + value, output_, diagnostics()));
                return value;
            }
            // Older answers (of timed-out expressions) are dropped; anything else is the node's
            // own output, kept for failure messages.
            if (line.rfind(marker_, 0) != 0) output_ = tail(output_ + line + "\n", 65536);
        }
        const auto result = pump(child, input, false, pending_, errors_, deadline);
        to_node_ = child.in;
        from_node_ = child.out;
        err_from_node_ = child.err;
        if (result == PumpResult::timed_out) {
            unsent_ = std::string(input);
            throw FixtureError(
                report(what + ": no answer within " + std::to_string(timeout.count()) + " ms",
                       output_ + pending_, diagnostics()));
        }
        if (child.out < 0 && pending_.find('\n') == std::string::npos) {
            std::string status = "still running";
            for (int i = 0; i < 100 && status == "still running"; ++i) {
                if (auto s = try_reap(child))
                    status = "exit status " + std::to_string(*s);
                else
                    std::this_thread::sleep_for(milliseconds(20));
            }
            pid_ = child.pid;
            throw FixtureError(report(what + ": the node closed its output (" + status + ")",
                                      output_ + pending_, diagnostics()));
        }
    }
}

std::string ErlNode::diagnostics() {
    if (err_from_node_ >= 0) {
        Child child{-1, -1, -1, err_from_node_};
        std::string_view none;
        std::string ignored;
        pump(child, none, false, ignored, errors_, Clock::now() + milliseconds(1), milliseconds(0));
        err_from_node_ = child.err;
    }
    return errors_;
}

}  // namespace distribute::testing
