// Cluster membership between C++ nodes on loopback: the phi accrual detector's arithmetic, joining
// through seeds, the leader, quorum, health, a node that stops (suspect, then dead), a member that
// leaves (left, not dead), the order of leave's steps, and erlang:monitor_node/2's semantics.
// Against real erl nodes (SIGSTOP, SIGCONT) in interop/test_cluster.cpp.
#include <doctest/doctest.h>

#include <mutex>

#include "cluster/phi_detector.hpp"
#include "distribute/cluster.hpp"
#include "distribute/global.hpp"
#include "distribute/groups.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;
using distribute::cluster::PhiDetector;
using distribute::cluster::PhiOptions;

namespace {

class ClusterEvents {
  public:
    // To give the Discovery or Cluster at construction: it then misses no event.
    std::function<void(const ClusterEvent&)> callback() const {
        return [state = state_](const ClusterEvent& e) {
            std::lock_guard lock(state->mutex);
            state->all.push_back(e);
        };
    }
    // The states `node` went through, in order.
    std::vector<MemberState> states(Atom node) const {
        std::lock_guard lock(state_->mutex);
        std::vector<MemberState> out;
        for (auto& e : state_->all)
            if (e.kind == ClusterEvent::Kind::state_changed && e.member.node == node)
                out.push_back(e.member.state);
        return out;
    }
    std::vector<ClusterEvent> all() const {
        std::lock_guard lock(state_->mutex);
        return state_->all;
    }

  private:
    struct State {
        std::mutex mutex;
        std::vector<ClusterEvent> all;
    };
    std::shared_ptr<State> state_ = std::make_shared<State>();
};

ClusterOptions quick(std::vector<std::string> seeds = {}) {
    ClusterOptions o;
    o.seeds = std::move(seeds);
    o.detector.heartbeat_interval = std::chrono::milliseconds(100);
    o.detector.acceptable_pause = std::chrono::milliseconds(300);
    o.detector.dead_after = std::chrono::milliseconds(500);
    o.reconnect_interval = std::chrono::milliseconds(200);
    return o;
}

std::optional<MemberState> state_of(const Cluster& cluster, Atom node) {
    auto m = cluster.member(node);
    if (!m) return std::nullopt;
    return m->state;
}

}  // namespace

TEST_CASE("phi is near zero right after an answer and grows with the silence") {
    PhiDetector detector({.first_interval = std::chrono::milliseconds(1000),
                          .acceptable_pause = std::chrono::milliseconds(0),
                          .min_std_deviation = std::chrono::milliseconds(100)});
    for (int i = 0; i < 50; ++i)
        detector.add_interval(PhiDetector::Duration(1000));
    CHECK(detector.phi(PhiDetector::Duration(0)) < 0.01);
    CHECK(detector.phi(PhiDetector::Duration(1000)) == doctest::Approx(0.301).epsilon(0.01));
    const double later = detector.phi(PhiDetector::Duration(1500));
    CHECK(later > 3);
    CHECK(detector.phi(PhiDetector::Duration(2000)) > later);
    CHECK(detector.phi(PhiDetector::Duration(60000)) == 300);  // capped, not infinite
}

TEST_CASE("the acceptable pause and irregular answers make the same silence less suspicious") {
    PhiDetector steady({.acceptable_pause = std::chrono::milliseconds(0)});
    PhiDetector paused({.acceptable_pause = std::chrono::milliseconds(3000)});
    PhiDetector irregular({.acceptable_pause = std::chrono::milliseconds(0)});
    for (int i = 0; i < 100; ++i) {
        steady.add_interval(PhiDetector::Duration(1000));
        paused.add_interval(PhiDetector::Duration(1000));
        irregular.add_interval(PhiDetector::Duration(i % 2 ? 200 : 1800));
    }
    const PhiDetector::Duration silence(2500);
    CHECK(steady.phi(silence) > 8);
    CHECK(paused.phi(silence) < 1);
    CHECK(irregular.phi(silence) < steady.phi(silence));
    CHECK(irregular.std_deviation() == doctest::Approx(800));
}

TEST_CASE("the window keeps the latest answers only") {
    PhiDetector detector({.window = 3});
    for (double gap : {100.0, 100.0, 100.0, 400.0, 400.0, 400.0})
        detector.add_interval(PhiDetector::Duration(gap));
    CHECK(detector.samples() == 3);
    CHECK(detector.mean() == doctest::Approx(400));
}

TEST_CASE("nodes join through a seed: alive members, the greatest name leads, a quorum") {
    const auto epmd = free_port();
    Node a = start_node(node_options(epmd, "cl_a", EpmdMode::embedded));
    Node b = start_node(node_options(epmd, "cl_b"));
    Cluster second(b, quick());
    ClusterEvents events;
    Cluster first(a, quick({std::string(b.name().name())}), events.callback());
    auto joined = first.join(std::chrono::seconds(10));
    REQUIRE(joined.has_value());
    CHECK(*joined == std::vector<Atom>{b.name()});
    eventually([&] { return state_of(first, b.name()) == MemberState::alive; });
    eventually([&] { return state_of(second, a.name()) == MemberState::alive; });
    CHECK(first.members().size() == 2);
    CHECK(first.leader() == b.name());  // cl_b_... > cl_a_...
    CHECK(second.leader() == b.name());
    CHECK(first.has_quorum());
    CHECK(first.health().connected == std::vector<Atom>{b.name()});
    CHECK(first.health().reachable == std::vector<Atom>{b.name()});
    CHECK(first.health().unreachable.empty());
    CHECK(first.member(a.name())->state == MemberState::alive);
}

TEST_CASE("a seed that is not a node name is refused; one that never answers gives no_seed") {
    LocalNode local;
    Cluster bad(local.node, quick({"no_at_sign"}));
    auto refused = bad.join(std::chrono::seconds(1));
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == ClusterErrc::bad_seed);

    Cluster lonely(local.node, quick({"nobody_" + std::to_string(free_port()) + "@127.0.0.1"}));
    auto none = lonely.join(std::chrono::milliseconds(500));
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error().code == ClusterErrc::no_seed);
}

TEST_CASE("a member whose node stops is suspect (the connection went down), then dead") {
    const auto epmd = free_port();
    Node a = start_node(node_options(epmd, "cl_stop_a", EpmdMode::embedded));
    auto b = std::make_unique<Node>(start_node(node_options(epmd, "cl_stop_b")));
    const Atom b_name = b->name();
    ClusterEvents events;
    Cluster cluster(a, quick({std::string(b_name.name())}), events.callback());
    REQUIRE(cluster.join(std::chrono::seconds(10)).has_value());
    eventually([&] { return state_of(cluster, b_name) == MemberState::alive; });
    const auto leader_before = cluster.leader();

    b->stop();
    eventually([&] { return state_of(cluster, b_name) == MemberState::dead; });
    // The member's state changes under the cluster's lock; its event is delivered just after,
    // on the thread that changed it.
    eventually([&] {
        const auto states = events.states(b_name);
        return !states.empty() && states.back() == MemberState::dead;
    });
    const auto states = events.states(b_name);
    REQUIRE(states.size() >= 2);
    CHECK(states[states.size() - 2] == MemberState::suspect);
    CHECK(states.back() == MemberState::dead);
    const auto member = cluster.member(b_name).value();
    CHECK(member.reason.find("not connected") != std::string::npos);
    CHECK_FALSE(member.connected);
    CHECK(cluster.health().unreachable == std::vector<Atom>{b_name});
    CHECK(cluster.leader() == a.name());
    CHECK(cluster.leader() != leader_before);
    // Two members known, one alive: no more than half.
    CHECK_FALSE(cluster.has_quorum());
}

TEST_CASE("a member that leaves is reported left, not dead, and its EPMD name is gone") {
    const auto epmd = free_port();
    Node a = start_node(node_options(epmd, "cl_leave_a", EpmdMode::embedded));
    Node b = start_node(node_options(epmd, "cl_leave_b"));
    Cluster staying(a, quick());
    Cluster leaving(b, quick({std::string(a.name().name())}));
    REQUIRE(leaving.join(std::chrono::seconds(10)).has_value());
    eventually([&] { return state_of(staying, b.name()) == MemberState::alive; });

    std::vector<std::string> order;
    std::mutex mutex;
    auto step = [&](std::string what) {
        return [&, what] {
            std::lock_guard lock(mutex);
            order.push_back(what + (connected_nodes(b).empty() ? " (disconnected)" : ""));
        };
    };
    // The node's own part of the stages: its members leave their groups, its names go.
    ProcessHandle member = b.spawn([](const ProcessHandle&, Term) {});
    auto b_groups = groups(b);
    REQUIRE(b_groups.has_value());
    REQUIRE(b_groups->join(Term("workers"_a), member.pid()).has_value());
    REQUIRE(b_groups->join(Term("workers"_a), member.pid()).has_value());  // twice, as pg allows
    auto b_global = global(b);
    REQUIRE(b_global.has_value());
    REQUIRE(b_global->register_name(Term("leaver"_a), member.pid()).has_value());
    auto a_groups = groups(a);
    auto a_global = global(a);
    REQUIRE(a_groups.has_value());
    REQUIRE(a_global.has_value());
    eventually([&] { return a_groups->members(Term("workers"_a)).size() == 2; });
    eventually([&] { return a_global->whereis_name(Term("leaver"_a)) == member.pid(); });

    leaving.on_leave(LeaveStage::global_names, step("global"));
    leaving.on_leave(LeaveStage::groups, step("groups"));
    leaving.on_leave(LeaveStage::groups, step("groups 2"));
    leaving.leave();
    CHECK(order == std::vector<std::string>{"groups", "groups 2", "global"});
    CHECK(b_groups->local_members(Term("workers"_a)).empty());
    CHECK_FALSE(b_global->whereis_name(Term("leaver"_a)).has_value());
    CHECK(member.alive());  // it left; it did not die
    CHECK(leaving.member(b.name())->state == MemberState::left);
    CHECK_FALSE(leaving.has_quorum());
    eventually([&] { return state_of(staying, b.name()) == MemberState::left; });
    eventually([&] { return connected_nodes(b).empty(); });
    eventually([&] {
        auto names = epmd_names({"127.0.0.1", epmd});
        if (!names) return false;
        for (auto& n : *names)
            if (b.name().name().starts_with(n.name + "@")) return false;
        return true;
    });
    CHECK(staying.leader() == a.name());
    // a heard both before the connection went. The name's release is a call that a answered;
    // the groups' leave is a message a's pg scope, a process of its own, takes in its turn (not
    // necessarily before a's cluster process took b's notice).
    CHECK_FALSE(a_global->whereis_name(Term("leaver"_a)).has_value());
    eventually([&] { return a_groups->members(Term("workers"_a)).empty(); });
}

TEST_CASE("quorum counts against the expected size when one is given") {
    LocalNode local;
    auto options = quick({"ghost_" + std::to_string(free_port()) + "@127.0.0.1"});
    options.expected_size = 1;
    Cluster alone(local.node, options);
    CHECK(alone.has_quorum());
    options.expected_size = 2;
    Cluster pair(local.node, options);
    CHECK_FALSE(pair.has_quorum());
}

TEST_CASE("monitor_node: one nodedown per call when the connection goes, at once for no node") {
    const auto epmd = free_port();
    Node a = start_node(node_options(epmd, "mn_a", EpmdMode::embedded));
    Node b = start_node(node_options(epmd, "mn_b"));
    Mailbox me = a.open_mailbox();
    a.monitor_node(me.pid(), b.name());
    a.monitor_node(me.pid(), b.name());
    a.monitor_node(me.pid(), b.name());
    a.monitor_node(me.pid(), b.name(), false);                   // removes one of the three
    eventually([&] { return connected_nodes(a).size() == 1; });  // monitor_node connected it
    CHECK(me.queued() == 0);
    // b accepted the connection and registers it just after its challenge ack: until then its
    // disconnect would find nothing to close.
    eventually([&] { return connected_nodes(b).size() == 1; });
    b.disconnect(a.name());
    const Term nodedown = tuple("nodedown"_a, b.name());
    CHECK(next_message(me) == nodedown);
    CHECK(next_message(me) == nodedown);
    // Fired: the monitors are gone; the next disconnect tells nobody.
    CHECK(a.connect(b.name()).has_value());
    eventually([&] { return connected_nodes(b).size() == 1; });
    CHECK(b.disconnect(a.name()));
    CHECK_FALSE(me.receive(std::chrono::milliseconds(300)).has_value());

    const Atom nowhere = Atom::make("nosuch_" + std::to_string(free_port()) + "@127.0.0.1").value();
    a.monitor_node(me.pid(), nowhere);
    CHECK(next_message(me) == tuple("nodedown"_a, nowhere));
    // This node itself is never down.
    a.monitor_node(me.pid(), a.name());
    CHECK_FALSE(me.receive(std::chrono::milliseconds(100)).has_value());
}
