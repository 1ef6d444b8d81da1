#include "subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "erl_fixture.hpp"

extern char** environ;

namespace distribute::testing {
namespace {

std::string find_in_path(const std::string& program) {
    if (program.find('/') != std::string::npos) return program;
    const char* path = std::getenv("PATH");
    std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
    while (!dirs.empty()) {
        const auto colon = dirs.find(':');
        const std::string dir(dirs.substr(0, colon));
        dirs = colon == std::string_view::npos ? std::string_view{} : dirs.substr(colon + 1);
        const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + program;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    throw FixtureError("cannot find program '" + program + "' in PATH");
}

std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry(*e);
        const auto name = entry.substr(0, entry.find('=') + 1);
        const bool overridden = std::any_of(extra.begin(), extra.end(), [&](const std::string& x) {
            return std::string_view(x).substr(0, x.find('=') + 1) == name;
        });
        if (!overridden) env.emplace_back(entry);
    }
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
    std::vector<char*> result;
    for (auto& s : strings)
        result.push_back(s.data());
    result.push_back(nullptr);
    return result;
}

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

// Reads what is there; false at end of file.
bool read_some(int fd, std::string& into) {
    std::array<char, 65536> buffer{};
    for (;;) {
        const auto n = ::read(fd, buffer.data(), buffer.size());
        if (n > 0) {
            into.append(buffer.data(), static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) return false;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK;
    }
}

}  // namespace

Child spawn_child(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
    if (argv.empty()) throw FixtureError("spawn_child: empty argv");
    // A node that dies under us must surface as EPIPE, not kill the test program.
    std::signal(SIGPIPE, SIG_IGN);
    std::vector<std::string> args = argv;
    args[0] = find_in_path(argv[0]);
    std::vector<std::string> env = merged_environment(extra_env);
    auto arg_ptrs = pointers(args);
    auto env_ptrs = pointers(env);

    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0) throw FixtureError("pipe2 failed");
    if (::pipe2(out, O_CLOEXEC) != 0) throw FixtureError("pipe2 failed");
    if (::pipe2(err, O_CLOEXEC) != 0) throw FixtureError("pipe2 failed");
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw FixtureError(std::string("fork failed: ") + std::strerror(errno));
    if (pid == 0) {
        // Only async-signal-safe calls until execve.
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::signal(SIGPIPE, SIG_DFL);
        ::dup2(in[0], 0);
        ::dup2(out[1], 1);
        ::dup2(err[1], 2);
        ::execve(arg_ptrs[0], arg_ptrs.data(), env_ptrs.data());
        ::_exit(127);
    }
    ::setpgid(pid, pid);  // also here, so the group exists before anyone signals it
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    for (int fd : {in[1], out[0], err[0]})
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return Child{pid, in[1], out[0], err[0]};
}

void kill_child(Child& child) {
    if (child.pid > 0) {
        ::kill(-child.pid, SIGKILL);
        ::kill(child.pid, SIGKILL);
        int status = 0;
        while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
        }
        child.pid = -1;
    }
    close_fd(child.in);
    close_fd(child.out);
    close_fd(child.err);
}

std::optional<int> try_reap(Child& child) {
    if (child.pid <= 0) return std::nullopt;
    int status = 0;
    const pid_t r = ::waitpid(child.pid, &status, WNOHANG);
    if (r != child.pid) return std::nullopt;
    child.pid = -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

PumpResult pump(Child& child, std::string_view& input, bool close_after_input, std::string& out,
                std::string& err, Clock::time_point deadline, std::chrono::milliseconds slice) {
    if (input.empty() && close_after_input) close_fd(child.in);
    const auto now = Clock::now();
    if (now >= deadline) return PumpResult::timed_out;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    const int wait_ms = static_cast<int>(std::max<long>(1, std::min(left, slice).count()));

    std::array<pollfd, 3> fds{};
    nfds_t n = 0;
    const bool writing = child.in >= 0 && !input.empty();
    if (writing) fds[n++] = pollfd{child.in, POLLOUT, 0};
    if (child.out >= 0) fds[n++] = pollfd{child.out, POLLIN, 0};
    if (child.err >= 0) fds[n++] = pollfd{child.err, POLLIN, 0};
    if (n == 0) {
        ::poll(nullptr, 0, wait_ms);
        return PumpResult::idle;
    }
    const int ready = ::poll(fds.data(), n, wait_ms);
    if (ready < 0 && errno != EINTR) throw FixtureError("poll failed");
    if (ready <= 0) return PumpResult::idle;
    for (nfds_t i = 0; i < n; ++i) {
        if (fds[i].revents == 0) continue;
        if (fds[i].fd == child.in) {
            const auto w = ::write(child.in, input.data(), input.size());
            if (w > 0)
                input.remove_prefix(static_cast<std::size_t>(w));
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                close_fd(child.in);  // EPIPE
            if (input.empty() && close_after_input) close_fd(child.in);
        } else if (fds[i].fd == child.out) {
            if (!read_some(child.out, out)) close_fd(child.out);
        } else if (fds[i].fd == child.err) {
            if (!read_some(child.err, err)) close_fd(child.err);
        }
    }
    return PumpResult::moved;
}

}  // namespace distribute::testing
