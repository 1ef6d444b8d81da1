// What the node interop tests share: our node and erl nodes on one private EPMD, a log that is
// printed only when a test fails, waiting for a condition, and moving pids and other values
// between the erl side and the C++ side (an erl node's answers are text, so values that must stay
// exact, like pids, travel as messages instead).
#pragma once

#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"
#include "erl_fixture.hpp"
#include "waits.hpp"

namespace distribute::testing {

using namespace std::chrono_literals;

// The node's log lines, kept to explain a failure. DISTRIBUTE_TEST_LOG=1 also prints them as
// they come.
class LogCapture {
  public:
    LogSink sink() {
        return [self = state_](LogLevel, std::string_view line) {
            std::lock_guard lock(self->mutex);
            if (self->echo)
                std::fprintf(stderr, "[%s] %.*s\n", self->label.c_str(),
                             static_cast<int>(line.size()), line.data());
            self->lines.emplace_back(line);
            if (self->lines.size() > 400) self->lines.erase(self->lines.begin());
        };
    }
    void label(std::string name) {
        std::lock_guard lock(state_->mutex);
        state_->label = std::move(name);
    }
    std::string text() const {
        std::lock_guard lock(state_->mutex);
        std::string out;
        for (auto& line : state_->lines)
            out += line + "\n";
        return out;
    }
    bool contains(std::string_view needle) const {
        std::lock_guard lock(state_->mutex);
        for (auto& line : state_->lines)
            if (line.find(needle) != std::string::npos) return true;
        return false;
    }

  private:
    struct State {
        std::mutex mutex;
        std::vector<std::string> lines;
        std::string label;
        bool echo = std::getenv("DISTRIBUTE_TEST_LOG") != nullptr;
    };
    std::shared_ptr<State> state_ = std::make_shared<State>();
};

inline Atom atom(std::string_view text) {
    auto a = Atom::make(text);
    REQUIRE(a.has_value());
    return *a;
}

// An Erlang atom literal for the node name `name`, quoted for erl's parser.
inline std::string quoted(std::string_view name) {
    // Appended piece by piece: "'" + std::string(name) makes GCC 12 warn (-Wrestrict) wrongly.
    std::string text;
    text.reserve(name.size() + 2);
    text.append(1, '\'').append(name).append(1, '\'');
    return text;
}
inline std::string quoted(Atom name) {
    return quoted(name.name());
}

// Whether erl counts `node` among its connections (nodes(connected)).
inline bool erl_connected_to(ErlNode& erl, Atom node) {
    return erl.eval("lists:member(" + quoted(node) + ", nodes(connected))") == "true";
}
// Waits for erl to count `node` among its connections: our side is up when erl's challenge ack
// arrives, and erl marks us up just after sending it.
inline void wait_erl_connected_to(ErlNode& erl, Atom node) {
    eventually([&] { return erl_connected_to(erl, node); });
}

// The node events a node reported. The callback keeps the list alive by itself: one already
// running on a node thread may finish after unsubscribe() returns.
class NodeEvents {
  public:
    explicit NodeEvents(Node& node) : node_(node) {
        id_ = node.on_node_event([state = state_](const NodeEvent& e) {
            std::lock_guard lock(state->mutex);
            state->all.push_back(e);
        });
    }
    ~NodeEvents() { node_.unsubscribe(id_); }
    NodeEvents(const NodeEvents&) = delete;
    NodeEvents& operator=(const NodeEvents&) = delete;

    std::size_t count(Atom peer, bool up) const {
        std::lock_guard lock(state_->mutex);
        std::size_t n = 0;
        for (auto& e : state_->all)
            n += e.node == peer && e.up == up;
        return n;
    }
    std::optional<NodeEvent> first(Atom peer, bool up) const {
        std::lock_guard lock(state_->mutex);
        for (auto& e : state_->all)
            if (e.node == peer && e.up == up) return e;
        return std::nullopt;
    }
    std::optional<NodeEvent> last(Atom peer, bool up) const {
        std::lock_guard lock(state_->mutex);
        for (auto it = state_->all.rbegin(); it != state_->all.rend(); ++it)
            if (it->node == peer && it->up == up) return *it;
        return std::nullopt;
    }
    // up (true) and down (false), in the order they came, for `peer`.
    std::vector<bool> sequence(Atom peer) const {
        std::lock_guard lock(state_->mutex);
        std::vector<bool> out;
        for (auto& e : state_->all)
            if (e.node == peer) out.push_back(e.up);
        return out;
    }

  private:
    struct State {
        std::mutex mutex;
        std::vector<NodeEvent> all;
    };
    Node& node_;
    std::shared_ptr<State> state_ = std::make_shared<State>();
    std::uint64_t id_ = 0;
};

// One private EPMD (OTP's own) for a test, and options for the nodes that use it.
class Cluster {
  public:
    Cluster() : epmd_(free_port()) {}
    std::uint16_t epmd_port() const { return epmd_.port(); }

    NodeOptions node_options(std::string_view prefix, LogCapture* log = nullptr) const {
        NodeOptions o;
        o.name = unique_name(prefix);
        o.cookie = "interop_cookie";
        o.epmd_mode = EpmdMode::use_running;
        o.epmd.endpoint.host = "127.0.0.1";
        o.epmd.endpoint.port = epmd_.port();
        o.threads = 2;
        if (log) {
            log->label(o.name);
            o.log = log->sink();
        }
        return o;
    }
    ErlNodeOptions erl_options(std::string_view prefix) const {
        ErlNodeOptions o;
        o.name_prefix = std::string(prefix);
        o.epmd_port = epmd_.port();
        return o;
    }

  private:
    EpmdProcess epmd_;
};

// A mailbox registered under `name` on `node`, so that erl can reach it as {name, Node}.
inline Mailbox named_mailbox(Node& node, std::string_view name) {
    Mailbox m = node.open_mailbox();
    REQUIRE(node.register_name(atom(name), m.pid()).has_value());
    return m;
}

// Evaluates `expression` on `erl` and returns its value as a term, sent by erl to `inbox`
// (registered as `inbox_name` on `node`).
inline Term erl_value(ErlNode& erl, const Node& node, Mailbox& inbox, std::string_view expression,
                      std::string_view inbox_name = "inbox") {
    std::string send = "{";  // built by appending: "{" + std::string(...) trips GCC 12's -Wrestrict
    send.append(inbox_name).append(", ").append(quoted(node.name()));
    send.append("} ! {'$value', begin ").append(expression).append(" end}, ok");
    CHECK(erl.eval(send) == "ok");
    static const Atom tag = Atom::make("$value").value();
    auto got =
        inbox.receive_if([](const Term& t) { return t.is_tuple(2) && t[0].is_atom(tag); }, 15s);
    REQUIRE_MESSAGE(got.has_value(),
                    "the value of '" << expression << "' did not arrive from " << erl.node_name());
    return (*got)[1];
}

inline Pid erl_pid(ErlNode& erl, const Node& node, Mailbox& inbox, std::string_view expression,
                   std::string_view inbox_name = "inbox") {
    Term value = erl_value(erl, node, inbox, expression, inbox_name);
    auto pid = value.to<Pid>();
    REQUIRE_MESSAGE(pid.has_value(), "not a pid: " << to_string(value));
    return *pid;
}

// Makes `value` a process-dictionary entry `key` of erl's evaluating process, where later
// expressions read it with get(key). The evaluating process registered itself as `tester`.
inline void give_erl(ErlNode& erl, const ProcessHandle& from, std::string_view key,
                     const Term& value) {
    from.send(atom("tester"), atom(erl.node_name()), tuple(atom("$give"), atom(key), value));
    CHECK(erl.eval("receive {'$give', " + std::string(key) + ", V} -> put(" + std::string(key) +
                   ", V), ok after 15000 -> no_value end") == "ok");
}

// The erl node's evaluating process, registered as `tester`; it keeps its mailbox and process
// dictionary from one eval() to the next.
inline void register_tester(ErlNode& erl) {
    CHECK(erl.eval("register(tester, self())") == "true");
}

// SIGSTOPs a process (an erl node, say) and SIGCONTs it whatever happens to the test.
struct Stopped {
    explicit Stopped(pid_t pid) : pid(pid) { REQUIRE(::kill(pid, SIGSTOP) == 0); }
    ~Stopped() { resume(); }
    Stopped(const Stopped&) = delete;
    Stopped& operator=(const Stopped&) = delete;
    void resume() {
        if (pid > 0) ::kill(pid, SIGCONT);
        pid = -1;
    }
    pid_t pid;
};

// The operating-system process of an erl node.
inline pid_t os_pid(ErlNode& erl) {
    return static_cast<pid_t>(std::stol(erl.eval("list_to_integer(os:getpid())")));
}

// An Erlang expression spawning a process that waits for {exit, Reason} and exits with it.
inline constexpr std::string_view spawn_waiter =
    "spawn(fun() -> receive {exit, R} -> exit(R) end end)";

}  // namespace distribute::testing
