// What the node-level unit tests add to the test-support library (testing/): nodes on loopback
// with an embedded EPMD on a free port, and a probe actor that reports what happens to it as
// messages to a test mailbox.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "distribute/actor.hpp"
#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"
#include "erl_fixture.hpp"
#include "waits.hpp"

namespace distribute::testing {

using namespace std::chrono_literals;

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

// One node with its own embedded EPMD.
struct LocalNode {
    std::uint16_t epmd_port = free_port();
    Node node = start_node(node_options(epmd_port, "local", EpmdMode::embedded));
};

// Every node `node` is connected to, visible or hidden.
inline std::vector<Atom> connected_nodes(const Node& node) {
    std::vector<Atom> all = node.nodes();
    for (Atom hidden : node.hidden_nodes())
        all.push_back(hidden);
    return all;
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

}  // namespace distribute::testing
