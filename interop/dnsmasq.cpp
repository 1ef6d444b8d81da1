#include "dnsmasq.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "subprocess.hpp"

namespace distribute::testing {

namespace {

using std::chrono::milliseconds;

std::string dnsmasq_binary() {
    for (const char* path : {"/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"})
        if (::access(path, X_OK) == 0) return path;
    throw FixtureError("dnsmasq is not installed (Debian package dnsmasq-base)");
}

// dnsmasq drops root for a user of its own, which could not read our files: keep ours.
std::string current_user() {
    const passwd* entry = ::getpwuid(::geteuid());
    if (!entry) throw FixtureError("getpwuid failed");
    return entry->pw_name;
}

bool accepts_tcp(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return ok;
}

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
    std::ofstream out(path, std::ios::trunc);
    for (auto& line : lines)
        out << line << '\n';
    if (!out) throw FixtureError("cannot write " + path);
}

}  // namespace

Dnsmasq::Dnsmasq(const std::vector<std::string>& hosts, const std::vector<SrvRecord>& srv,
                 std::uint16_t port)
    : port_(port != 0 ? port : free_port()) {
    write_lines(dir_.file("hosts"), hosts);
    std::vector<std::string> argv = {dnsmasq_binary(),
                                     "--keep-in-foreground",
                                     "--conf-file=/dev/null",
                                     "--port=" + std::to_string(port_),
                                     "--listen-address=127.0.0.1",
                                     "--bind-interfaces",
                                     "--no-resolv",
                                     "--no-hosts",
                                     "--no-negcache",
                                     "--local=/test/",
                                     "--addn-hosts=" + dir_.file("hosts"),
                                     "--pid-file=",
                                     "--user=" + current_user(),
                                     "--log-queries",
                                     "--log-facility=" + dir_.file("log")};
    for (auto& record : srv)
        argv.push_back("--srv-host=" + record.name + "," + record.target + "," +
                       std::to_string(record.port) + "," + std::to_string(record.priority) + "," +
                       std::to_string(record.weight));
    Child child = spawn_child(argv, {});
    pid_ = child.pid;
    out_ = child.out;
    err_ = child.err;
    ::close(child.in);
    const auto deadline = Clock::now() + milliseconds(10000);
    while (!accepts_tcp(port_)) {
        Child probe{pid_, -1, out_, err_};
        const auto status = try_reap(probe);
        if (status || Clock::now() >= deadline) {
            const std::string why = status ? "exited with status " + std::to_string(*status)
                                           : std::string("did not answer in 10 s");
            const std::string seen = diagnostics();
            Child doomed{probe.pid, -1, out_, err_};
            kill_child(doomed);
            pid_ = out_ = err_ = -1;
            throw FixtureError("dnsmasq on port " + std::to_string(port_) + " " + why + "\n" +
                               seen);
        }
        std::this_thread::sleep_for(milliseconds(20));
    }
}

Dnsmasq::~Dnsmasq() {
    Child child{pid_, -1, out_, err_};
    kill_child(child);
}

void Dnsmasq::set_hosts(const std::vector<std::string>& hosts) {
    write_lines(dir_.file("hosts"), hosts);
    if (::kill(pid_, SIGHUP) != 0) throw FixtureError("dnsmasq is gone");
}

std::string Dnsmasq::diagnostics() {
    Child child{pid_, -1, out_, err_};
    std::string_view none;
    std::string out, err;
    if (pid_ > 0) pump(child, none, false, out, err, Clock::now() + milliseconds(50));
    out_ = child.out;  // pump closes a pipe that reached its end
    err_ = child.err;
    output_ += out + err;
    std::ifstream log(dir_.file("log"));
    std::ostringstream text;
    text << log.rdbuf();
    return output_ + text.str();
}

}  // namespace distribute::testing
