// What the node-level unit tests share: nodes on loopback with an embedded EPMD on a free port,
// waiting for messages with a bound that only turns a hang into a failure, and a probe actor that
// reports what happens to it as messages to a test mailbox.
#pragma once

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "distribute/actor.hpp"
#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"

namespace distribute::test_support {

using namespace std::chrono_literals;

inline std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    ::close(fd);
    return ntohs(address.sin_port);
}

// A node name no other test of this run (or of a concurrent run) uses.
inline std::string unique_name(std::string_view prefix) {
    static std::atomic<unsigned> counter{0};
    return std::string(prefix) + "_" + std::to_string(::getpid()) + "_" +
           std::to_string(counter.fetch_add(1));
}

// Automatic EPMD mode: the first node of a test starts the embedded EPMD on `epmd_port`.
inline NodeOptions node_options(std::uint16_t epmd_port, std::string_view prefix = "unit",
                                EpmdMode mode = EpmdMode::automatic) {
    NodeOptions o;
    o.name = unique_name(prefix);
    o.cookie = "unit_test_cookie";
    o.epmd_mode = mode;
    o.epmd.endpoint.host = "127.0.0.1";
    o.epmd.endpoint.port = epmd_port;
    o.threads = 2;
    return o;
}

// A hidden node: only what a test sends crosses between two of them (visible nodes also speak pg
// and global).
inline NodeOptions hidden_node_options(std::uint16_t epmd_port, std::string_view prefix,
                                       EpmdMode mode = EpmdMode::automatic) {
    NodeOptions o = node_options(epmd_port, prefix, mode);
    o.hidden = true;
    return o;
}

inline Node start_node(NodeOptions o) {
    auto node = Node::start(std::move(o));
    REQUIRE_MESSAGE(node.has_value(), (node ? std::string() : node.error().detail));
    return std::move(*node);
}

// A fresh directory under $TMPDIR (or /tmp), removed with what is in it when this goes.
struct TempDirectory {
    TempDirectory() {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base && *base ? base : "/tmp") + "/distribute_XXXXXX";
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDirectory() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    TempDirectory(const TempDirectory&) = delete;
    TempDirectory& operator=(const TempDirectory&) = delete;
    std::string path;
};

// One node with its own embedded EPMD.
struct LocalNode {
    std::uint16_t epmd_port = free_port();
    Node node = start_node(node_options(epmd_port, "local", EpmdMode::embedded));
};

// The next message; the bound only turns a hang into a failure.
// Every node `node` is connected to, visible or hidden.
inline std::vector<Atom> connected_nodes(const Node& node) {
    std::vector<Atom> all = node.nodes();
    for (Atom hidden : node.hidden_nodes())
        all.push_back(hidden);
    return all;
}

inline Term next(Mailbox& m, std::chrono::milliseconds limit = 10s) {
    auto got = m.receive(limit);
    REQUIRE_MESSAGE(got.has_value(), (got ? std::string()
                                      : got.error().code == ReceiveErrc::timeout
                                          ? std::string("no message in time")
                                          : "exited: " + to_string(got.error().reason)));
    return std::move(*got);
}

// The next message tagged `tag` ({tag, ...}); others stay queued.
inline Term next_tagged(Mailbox& m, Atom tag, std::chrono::milliseconds limit = 10s) {
    auto got = m.receive_if(
        [&](const Term& t) { return t.is_tuple() && !t.elements().empty() && t[0].is_atom(tag); },
        limit);
    REQUIRE_MESSAGE(got.has_value(), "no {" << tag.name() << ", ...} message in time");
    return std::move(*got);
}

// Nothing that matches is queued now (checked after the messages that were sent before it
// arrive: `flush` is a message sent last through the same path).
inline bool none_queued(Mailbox& m, const std::function<bool(const Term&)>& match) {
    return !m.receive_if(match, 0ms).has_value();
}

// The reason of a 'DOWN' for `ref`.
inline Term down_reason(Mailbox& m, const Reference& ref, std::chrono::milliseconds limit = 10s) {
    auto got = receive_down(m, ref, limit);
    REQUIRE_MESSAGE(got.has_value(), "no DOWN in time");
    return got->reason;
}

// The reason a process ended with: its mailbox's receive fails with `exited`.
inline Term exited_with(Mailbox& m, std::chrono::milliseconds limit = 10s) {
    auto got = m.receive(limit);
    REQUIRE_FALSE(got.has_value());
    REQUIRE(got.error().code == ReceiveErrc::exited);
    return got.error().reason;
}

template <class F>
void eventually(F condition, std::chrono::milliseconds limit = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                        "a condition did not come true in time");
        std::this_thread::sleep_for(5ms);
    }
}

// An actor that reports to `observer`: {started, Id, Pid} after init and
// {terminated, Id, Reason} from terminate. It traps exits (so terminate runs when its supervisor
// stops it), answers the call `ping` with pong, and on the cast {exit, Reason} stops with Reason.
class Probe : public Actor {
  public:
    Probe(Pid observer, std::string id) : observer_(observer), id_(std::move(id)) {}

    InitResult init() override {
        self().send(observer_, tuple("started"_a, binary(id_), self().pid()));
        return Ready{};
    }
    CallResult handle_call(const Term& request, From) override {
        if (request.is_atom("ping"_a)) return Reply{Term("pong"_a)};
        return Reply{tuple(atoms::error, request)};
    }
    HandleResult handle_cast(const Term& message) override {
        if (auto e = message.tagged<Term>("exit"_a)) return Stop{std::get<0>(*e), std::nullopt};
        return NoReply{};
    }
    void terminate(const Term& reason) override {
        self().send(observer_, tuple("terminated"_a, binary(id_), reason));
    }

  private:
    Pid observer_;
    std::string id_;
};

inline std::unique_ptr<Actor> probe(const Mailbox& observer, std::string id) {
    return std::make_unique<Probe>(observer.pid(), std::move(id));
}

// The pid in the next {started, Id, Pid} for `id`.
inline Pid started_pid(Mailbox& observer, const std::string& id,
                       std::chrono::milliseconds limit = 10s) {
    auto got = observer.receive_if(
        [&](const Term& t) {
            return t.is_tuple(3) && t[0].is_atom("started"_a) && t[1] == binary(id);
        },
        limit);
    REQUIRE_MESSAGE(got.has_value(), "child " << id << " did not start in time");
    return (*got)[2].to<Pid>().value();
}

// The reason in the next {terminated, Id, Reason} for `id`.
inline Term terminated_reason(Mailbox& observer, const std::string& id,
                              std::chrono::milliseconds limit = 10s) {
    auto got = observer.receive_if(
        [&](const Term& t) {
            return t.is_tuple(3) && t[0].is_atom("terminated"_a) && t[1] == binary(id);
        },
        limit);
    REQUIRE_MESSAGE(got.has_value(), "child " << id << " did not terminate in time");
    return (*got)[2];
}

// sys:Request sent to `to` as sys sends it, with a plain reference tag: the reply.
inline Term sys_request(Mailbox& me, const Pid& to, Term request) {
    const Reference tag = me.make_ref();
    me.send(to, tuple("system"_a, tuple(me.pid(), tag), std::move(request)));
    Term reply = next(me);
    REQUIRE(reply.is_tuple(2));
    CHECK(reply[0] == Term(tag));
    return reply[1];
}

}  // namespace distribute::test_support
