// Cluster membership over a node: members joined through seed nodes (and every node that
// connects), an adaptive failure detector, health, quorum, a deterministic leader, and an ordered
// leave. The detector is phi accrual over heartbeats: each member's net_kernel is asked
// {is_auth, Node} every heartbeat interval (what net_adm:ping asks, so BEAM nodes answer it with
// nothing installed) and the gaps between answers set how suspicious a silence is.
//
// It never contradicts the BEAM silently. A member that stops answering while its distribution
// connection is still up is `suspect`, with the reason saying both; it becomes `dead` only once
// the connection is down (net_ticktime, or a close), or, when asked with disconnect_dead, by
// disconnecting it (as erlang:disconnect_node/1 does, links and monitors firing noconnection),
// which the log and the event say. A suspect that answers again refutes the suspicion: it is
// alive again with a higher incarnation number.
//
//   Cluster cluster(node, {.seeds = {"app@db1", "app@db2"}});
//   cluster.subscribe([](const ClusterEvent& e) { ... });
//   (void)cluster.join(10s);
//   if (cluster.leader() == node.name()) { ... }
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "distribute/error.hpp"
#include "distribute/expected.hpp"
#include "distribute/node.hpp"
#include "distribute/retry.hpp"
#include "distribute/term.hpp"

namespace distribute {

enum class ClusterErrc {
    no_seed = 1,  // join: no seed could be connected in time
    bad_seed,     // a seed is not a node name
    not_running,  // the cluster has left or the node stopped
};
const std::error_category& cluster_category() noexcept;
std::error_code make_error_code(ClusterErrc e) noexcept;

using ClusterError = CodedError<ClusterErrc>;

enum class MemberState {
    alive,    // connected and answering heartbeats
    suspect,  // silent past the detector's threshold, or its connection went down
    dead,     // suspect for dead_after and not connected (or disconnected by the detector)
    left,     // left the cluster on purpose (a C++ member's Cluster::leave told us)
};
std::string_view to_string(MemberState state);

struct Member {
    Atom node;
    MemberState state = MemberState::alive;
    // Our count of this member's lives: raised each time it comes back from suspect or dead, so
    // that an "alive" always outranks the suspicion it refutes.
    std::uint64_t incarnation = 0;
    bool connected = false;  // the distribution connection is up
    double phi = 0;          // the detector's suspicion now
    std::string reason;      // suspect, dead, left: why; alive after a refutation: how
    std::chrono::steady_clock::time_point since;  // in this state since
};

struct ClusterHealth {
    std::vector<Atom> connected;    // distribution connection up
    std::vector<Atom> reachable;    // alive: answering heartbeats
    std::vector<Atom> unreachable;  // suspect or dead (a suspect may still be connected)
};

struct ClusterEvent {
    enum class Kind {
        joined,          // a member was added (member)
        state_changed,   // member.state changed from `previous`
        removed,         // remove_member() (member)
        leader_changed,  // `leader` replaces `previous_leader`
    };
    Kind kind{};
    Member member;
    std::optional<MemberState> previous;
    std::optional<Atom> leader;
    std::optional<Atom> previous_leader;
};

struct DetectorOptions {
    std::chrono::milliseconds heartbeat_interval{1000};
    double suspect_phi = 8.0;  // phi at which a silent member becomes suspect
    // A silence this much longer than the usual gap raises no suspicion (a GC pause, a burst).
    std::chrono::milliseconds acceptable_pause{3000};
    std::chrono::milliseconds min_std_deviation{100};
    std::size_t window = 100;  // answer gaps kept per member
    // Suspect this long, and no longer connected, and a member is dead.
    std::chrono::milliseconds dead_after{10000};
    // When set, a member suspect for dead_after while still connected is disconnected and
    // declared dead, instead of waiting for the distribution to drop it (net_ticktime).
    bool disconnect_dead = false;
};

// The steps of leave() that other modules take part in, in the order they run.
enum class LeaveStage {
    groups,        // leave the pg groups this node's processes joined
    global_names,  // release the names registered in `global`
};

struct ClusterOptions {
    std::vector<std::string> seeds{};
    // Connecting to a seed that does not answer, within join()'s timeout.
    RetryPolicy join_retry{RetryPolicy::unlimited, std::chrono::milliseconds(200),
                           std::chrono::milliseconds(5000), 2.0, Jitter::full};
    // Every node that connects becomes a member, as in a BEAM cluster's full mesh.
    bool adopt_connected = true;
    // How often a member that is not connected (suspect or dead) is dialled again.
    std::chrono::milliseconds reconnect_interval{2000};
    DetectorOptions detector;
    // The size quorum is counted against; 0: the members known (left ones excepted).
    std::size_t expected_size = 0;
};

class Cluster {
  public:
    // Starts detecting at once (seeds are dialled by join()). This node is a member too. The
    // nodes connected already join at once: `on_event`, subscribed before anything starts,
    // sees them (a later subscribe() does not).
    Cluster(Node& node, ClusterOptions options = {},
            std::function<void(const ClusterEvent&)> on_event = {});
    // Stops detecting; it does not leave (connections stay up).
    ~Cluster();
    Cluster(const Cluster&) = delete;
    Cluster& operator=(const Cluster&) = delete;

    // Dials every seed, retrying under join_retry, and returns the seeds connected once at
    // least one is (the others keep being tried in the background); no_seed when none came up
    // within `timeout`. Blocking: not from a node thread.
    [[nodiscard]] Expected<std::vector<Atom>, ClusterError> join(std::chrono::milliseconds timeout);
    void add_member(Atom node);
    void remove_member(Atom node);

    // Leaves in order: for each LeaveStage, the steps registered for it and then the node's own
    // part (every local process leaves its pg groups; then the global names of local processes
    // are unregistered, waiting up to 10 s for each), telling the C++ members running a Cluster,
    // closing every connection, and unregistering from EPMD. The node keeps running, alone; stop
    // it next. Blocking.
    void leave();
    // A step of leave(): steps of one stage run in the order added.
    void on_leave(LeaveStage stage, std::function<void()> step);

    std::vector<Member> members() const;  // by node name; this node included
    std::optional<Member> member(Atom node) const;
    ClusterHealth health() const;
    // More than half of expected_size (or of the members known) is alive, this node included.
    bool has_quorum() const;
    // The alive member with the greatest name (this node included): every member that sees the
    // same alive set picks the same leader.
    std::optional<Atom> leader() const;

    // Events in order, from the node's threads, never two at once. Returns an id.
    std::uint64_t subscribe(std::function<void(const ClusterEvent&)> callback);
    void unsubscribe(std::uint64_t id);

    struct State;

  private:
    std::shared_ptr<State> state_;
};

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::ClusterErrc> : std::true_type {};
