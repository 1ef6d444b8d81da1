// Cluster membership with real erl nodes: joining through seeds, the failure detector against a
// SIGSTOPped BEAM node (suspect while the distribution still sees it, dead once it does not,
// alive again with a higher incarnation after SIGCONT), the detector disconnecting a dead member
// when asked to, a clean leave as erl sees it, and monitor_node against an erl node that halts.
#include <doctest/doctest.h>

#include "distribute/cluster.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

class ClusterLog {
  public:
    // To give the Discovery or Cluster at construction: it then misses no event.
    std::function<void(const ClusterEvent&)> callback() const {
        return [state = state_](const ClusterEvent& e) {
            std::lock_guard lock(state->mutex);
            state->all.push_back(e);
        };
    }
    // The state changes of `node`, in order.
    std::vector<Member> changes(Atom node) const {
        std::lock_guard lock(state_->mutex);
        std::vector<Member> out;
        for (auto& e : state_->all)
            if (e.kind == ClusterEvent::Kind::state_changed && e.member.node == node)
                out.push_back(e.member);
        return out;
    }
    std::size_t leader_changes() const {
        std::lock_guard lock(state_->mutex);
        std::size_t n = 0;
        for (auto& e : state_->all)
            n += e.kind == ClusterEvent::Kind::leader_changed;
        return n;
    }

  private:
    struct State {
        std::mutex mutex;
        std::vector<ClusterEvent> all;
    };
    std::shared_ptr<State> state_ = std::make_shared<State>();
};

std::optional<MemberState> state_of(const distribute::Cluster& cluster, Atom node) {
    auto m = cluster.member(node);
    if (!m) return std::nullopt;
    return m->state;
}

ClusterOptions detecting(std::vector<std::string> seeds) {
    ClusterOptions o;
    o.seeds = std::move(seeds);
    o.detector.heartbeat_interval = 250ms;
    o.detector.acceptable_pause = 500ms;
    o.detector.dead_after = 1000ms;
    o.reconnect_interval = 500ms;
    return o;
}

}  // namespace

TEST_CASE("erl nodes join through seeds; members, health and the leader agree with erl") {
    ::distribute::testing::Cluster fixture;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(fixture.node_options("cpp_join", &log));
    ErlNode one(fixture.erl_options("erl_join1"));
    ErlNode two(fixture.erl_options("erl_join2"));
    distribute::Cluster cluster(
        node, detecting({one.node_name(), two.node_name(), "nobody@" + short_host()}));
    auto joined = cluster.join(20s);
    REQUIRE(joined.has_value());
    eventually([&] {
        return state_of(cluster, atom(one.node_name())) == MemberState::alive &&
               state_of(cluster, atom(two.node_name())) == MemberState::alive;
    });
    CHECK(erl_connected_to(one, node.name()));
    CHECK(cluster.health().reachable.size() == 2);
    // The seed that does not exist stays unreachable, not silently dropped.
    const Atom nobody = atom("nobody@" + short_host());
    eventually([&] { return state_of(cluster, nobody) == MemberState::dead; });
    CHECK(cluster.health().unreachable == std::vector<Atom>{nobody});
    // Four members known, three alive: a quorum.
    CHECK(cluster.has_quorum());
    // The greatest alive name, as every member seeing the same set computes it.
    std::vector<std::string> names = {std::string(node.name().name()), one.node_name(),
                                      two.node_name()};
    CHECK(std::string(cluster.leader()->name()) == *std::max_element(names.begin(), names.end()));
}

TEST_CASE(
    "a SIGSTOPped erl node is suspect while connected, dead once disconnected, and alive "
    "again with a higher incarnation after SIGCONT") {
    ::distribute::testing::Cluster fixture;
    LogCapture log;
    INFO(log.text());
    auto options = fixture.node_options("cpp_detect", &log);
    options.net_ticktime = std::chrono::seconds(4);
    Node node = start_node(options);
    auto erl_options = fixture.erl_options("erl_detect");
    erl_options.extra_args = {"-kernel", "net_ticktime", "4"};
    ErlNode erl(erl_options);
    const Atom peer = atom(erl.node_name());
    ClusterLog events;
    distribute::Cluster cluster(node, detecting({erl.node_name()}), events.callback());
    REQUIRE(cluster.join(20s).has_value());
    eventually([&] { return state_of(cluster, peer) == MemberState::alive; });
    std::this_thread::sleep_for(2s);  // some heartbeat answers, to learn the usual gap
    const auto before = cluster.member(peer).value();
    CHECK(before.phi < 1);

    {
        Stopped frozen(os_pid(erl));
        eventually([&] { return state_of(cluster, peer) == MemberState::suspect; });
        const auto suspect = cluster.member(peer).value();
        // Detected before net_ticktime dropped the connection: the BEAM still sees it, and the
        // reason says so.
        CHECK(suspect.connected);
        CHECK(suspect.reason.find("the distribution still sees it connected") != std::string::npos);
        CHECK(suspect.phi >= 8);
        CHECK(cluster.health().connected == std::vector<Atom>{peer});
        CHECK(cluster.health().unreachable == std::vector<Atom>{peer});
        eventually([&] { return state_of(cluster, peer) == MemberState::dead; }, 30s);
        const auto dead = cluster.member(peer).value();
        CHECK_FALSE(dead.connected);
        CHECK(dead.reason.find("net_tick_timeout") != std::string::npos);
    }
    eventually([&] { return state_of(cluster, peer) == MemberState::alive; }, 30s);
    const auto back = cluster.member(peer).value();
    CHECK(back.incarnation > before.incarnation);
    CHECK(back.reason.find("refutes the suspicion") != std::string::npos);
    // The member's state changes under the cluster's lock; its event is delivered just after,
    // on the thread that changed it.
    eventually([&] {
        const auto changes = events.changes(peer);
        return !changes.empty() && changes.back().state == MemberState::alive;
    });
    const auto changes = events.changes(peer);
    REQUIRE(changes.size() >= 3);
    CHECK(changes[changes.size() - 3].state == MemberState::suspect);
    CHECK(changes[changes.size() - 2].state == MemberState::dead);
    CHECK(changes.back().state == MemberState::alive);
    CHECK(erl_connected_to(erl, node.name()));
}

TEST_CASE("with disconnect_dead, a silent erl node is disconnected and dead before net_ticktime") {
    ::distribute::testing::Cluster fixture;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(fixture.node_options("cpp_cut", &log));  // net_ticktime 60 s
    ErlNode erl(fixture.erl_options("erl_cut"));
    const Atom peer = atom(erl.node_name());
    auto options = detecting({erl.node_name()});
    options.detector.disconnect_dead = true;
    options.reconnect_interval = 60s;  // no redial while it is stopped
    distribute::Cluster cluster(node, options);
    NodeEvents node_events(node);
    REQUIRE(cluster.join(20s).has_value());
    eventually([&] { return state_of(cluster, peer) == MemberState::alive; });
    {
        Stopped frozen(os_pid(erl));
        eventually([&] { return state_of(cluster, peer) == MemberState::dead; }, 20s);
        const auto dead = cluster.member(peer).value();
        CHECK(dead.reason.find("disconnected by the failure detector") != std::string::npos);
        eventually([&] { return node_events.count(peer, false) == 1; });
        CHECK(node_events.last(peer, false)->reason == "disconnect_node");
        CHECK(log.contains("declared dead while still connected"));
    }
}

TEST_CASE("leaving closes every connection and unregisters from EPMD, as erl sees it") {
    ::distribute::testing::Cluster fixture;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(fixture.node_options("cpp_bye", &log));
    ErlNode erl(fixture.erl_options("erl_bye"));
    distribute::Cluster cluster(node, detecting({erl.node_name()}));
    REQUIRE(cluster.join(20s).has_value());
    // A program started now would inherit the EPMD registration and the connection to erl if
    // they were not close-on-exec, and keep both open after we close them.
    ErlNode bystander(fixture.erl_options("erl_bystander"));
    register_tester(erl);
    CHECK(erl.eval("monitor_node(" + quoted(node.name()) + ", true)") == "true");
    const std::string alive(node.name().name().substr(0, node.name().name().find('@')));
    CHECK(erl.eval("lists:keymember(\"" + alive + "\", 1, element(2, net_adm:names()))") == "true");

    cluster.leave();
    CHECK(erl.eval("receive {nodedown, N} -> N after 10000 -> timeout end") ==
          std::string(node.name().name()));
    CHECK_FALSE(erl_connected_to(erl, node.name()));
    // The name is gone from EPMD: erl cannot reach the node again.
    eventually([&] {
        return erl.eval("lists:keymember(\"" + alive + "\", 1, element(2, net_adm:names()))") ==
               "false";
    });
    CHECK(erl.eval("net_adm:ping(" + quoted(node.name()) + ")") == "pang");
    CHECK(cluster.member(node.name())->state == MemberState::left);
}

TEST_CASE("monitor_node on an erl node that halts gives {nodedown, Node} to each monitor") {
    ::distribute::testing::Cluster fixture;
    Node node = start_node(fixture.node_options("cpp_mon"));
    auto erl = std::make_unique<ErlNode>(fixture.erl_options("erl_mon"));
    const Atom peer = atom(erl->node_name());
    Mailbox me = node.open_mailbox();
    node.monitor_node(me.pid(), peer);
    node.monitor_node(me.pid(), peer);
    eventually([&] { return node.nodes().size() == 1; });
    erl.reset();  // killed: the connection closes
    CHECK(next_message(me) == tuple(atom("nodedown"), peer));
    CHECK(next_message(me) == tuple(atom("nodedown"), peer));
    CHECK_FALSE(me.receive(300ms).has_value());
}
