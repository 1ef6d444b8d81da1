// Cluster membership: members and their states, the heartbeat process, the phi accrual detector
// applied every heartbeat interval, connection events, the leader, and the ordered leave.
#include "distribute/cluster.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <sstream>

#include "cluster/phi_detector.hpp"
#include "distribute/rpc.hpp"
#include "node/access.hpp"
#include "otp/global_server.hpp"
#include "otp/membership.hpp"
#include "support/event_queue.hpp"
#include "wire/node_name.hpp"

namespace distribute {

namespace asio = net::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

const char* message_of(ClusterErrc e) noexcept {
    switch (e) {
        case ClusterErrc::no_seed:
            return "no seed node could be connected";
        case ClusterErrc::bad_seed:
            return "a seed is not a node name";
        case ClusterErrc::not_running:
            return "the cluster has left or its node stopped";
    }
    return nullptr;
}

const Atom is_auth = Atom::make("is_auth").value();
const Atom yes = Atom::make("yes").value();
const Atom net_kernel = Atom::make("net_kernel").value();
// The name of each node's heartbeat process, which C++ members tell when they leave.
const Atom cluster_process = Atom::make("distribute_cluster").value();
const Atom left_atom = Atom::make("left").value();

long long ms_since(Clock::time_point then, Clock::time_point now) {
    return std::chrono::duration_cast<milliseconds>(now - then).count();
}

std::string phi_text(double phi) {
    std::ostringstream out;
    out.precision(3);
    out << phi;
    return out.str();
}

}  // namespace

const std::error_category& cluster_category() noexcept {
    static const ErrorCategory<ClusterErrc> category("distribute.cluster", message_of);
    return category;
}

std::error_code make_error_code(ClusterErrc e) noexcept {
    return {static_cast<int>(e), cluster_category()};
}

std::string_view to_string(MemberState state) {
    switch (state) {
        case MemberState::alive:
            return "alive";
        case MemberState::suspect:
            return "suspect";
        case MemberState::dead:
            return "dead";
        case MemberState::left:
            return "left";
    }
    return "?";
}

struct Cluster::State : std::enable_shared_from_this<State> {
    struct Entry {
        explicit Entry(const cluster::PhiOptions& options) : detector(options) {}
        Member member;
        cluster::PhiDetector detector;
        Clock::time_point last_answer{};
        Clock::time_point latest_answered{};  // when the newest answered heartbeat was sent
        Clock::time_point last_dial{};
        bool dialling = false;
    };

    State(std::shared_ptr<node::Runtime> runtime, ClusterOptions options)
        : runtime(std::move(runtime)),
          options(std::move(options)),
          strand(asio::make_strand(this->runtime->io())),
          timer(strand) {
        self.node = this->runtime->name();
        self.connected = true;
        self.since = Clock::now();
        phi_options.first_interval = this->options.detector.heartbeat_interval;
        phi_options.acceptable_pause = this->options.detector.acceptable_pause;
        phi_options.min_std_deviation = this->options.detector.min_std_deviation;
        phi_options.window = this->options.detector.window;
    }

    void start() {
        std::weak_ptr<State> weak = weak_from_this();
        auto handler = [weak](const ProcessHandle&, Term message) {
            if (auto state = weak.lock()) state->on_message(message);
        };
        process = ProcessHandle(runtime->spawn_handler(handler, false));
        if (!runtime->register_name(cluster_process, process.pid()))
            runtime->log(LogLevel::warning,
                         "cluster: distribute_cluster is taken (a second Cluster on this node?); "
                         "members will not hear of this one's leave");
        node_events = runtime->on_node_event([weak](const NodeEvent& e) {
            if (auto state = weak.lock()) state->on_node_event(e);
        });
        {
            std::lock_guard lock(mutex);
            if (options.adopt_connected)
                for (bool hidden : {false, true})
                    for (Atom node : runtime->connected(hidden))
                        add(node, true);
            update_leader();
        }
        deliver();
        asio::post(strand, [state = shared_from_this()] { state->tick(); });
    }

    // Under the mutex.
    Entry& add(Atom node, bool connected) {
        auto [it, fresh] = members.try_emplace(std::string(node.name()), phi_options);
        Entry& entry = it->second;
        if (!fresh) return entry;
        const auto now = Clock::now();
        entry.member.node = node;
        entry.member.connected = connected;
        entry.member.since = now;
        entry.last_answer = now;  // a grace period as long as the detector's first estimate
        if (!connected) {
            entry.member.state = MemberState::suspect;
            entry.member.reason = "not connected yet";
        }
        events.push({ClusterEvent::Kind::joined, entry.member, {}, {}, {}});
        return entry;
    }

    // Under the mutex.
    void move(Entry& entry, MemberState to, std::string reason) {
        const MemberState from = entry.member.state;
        entry.member.reason = std::move(reason);
        if (from == to) return;  // a new reason alone is no event, and the state's age stays
        if (to == MemberState::alive) ++entry.member.incarnation;
        entry.member.state = to;
        entry.member.since = Clock::now();
        runtime->log(to == MemberState::alive ? LogLevel::info : LogLevel::warning,
                     "cluster: " + std::string(entry.member.node.name()) + " is " +
                         std::string(to_string(to)) + " (incarnation " +
                         std::to_string(entry.member.incarnation) + "): " + entry.member.reason);
        events.push({ClusterEvent::Kind::state_changed, entry.member, from, {}, {}});
    }

    // Under the mutex: the alive member with the greatest name, this node included.
    void update_leader() {
        std::optional<Atom> now;
        if (!left) now = self.node;
        for (auto& [name, entry] : members)
            if (entry.member.state == MemberState::alive &&
                (!now || name > std::string(now->name())))
                now = entry.member.node;
        if (now == leader) return;
        ClusterEvent e{ClusterEvent::Kind::leader_changed, {}, {}, now, leader};
        leader = now;
        events.push(std::move(e));
    }

    // On the strand, every heartbeat interval.
    void tick() {
        const auto now = Clock::now();
        const auto& d = options.detector;
        std::vector<Atom> beat, dial, cut;
        {
            std::lock_guard lock(mutex);
            if (stopped || left) return;
            for (auto& [name, entry] : members) {
                Member& m = entry.member;
                if (m.state == MemberState::left) continue;
                const auto silent = now - entry.last_answer;
                m.phi = m.connected ? entry.detector.phi(silent) : 0;
                if (m.connected) {
                    beat.push_back(m.node);
                    if (m.state == MemberState::alive && m.phi >= d.suspect_phi)
                        move(entry, MemberState::suspect,
                             "no heartbeat answer for " +
                                 std::to_string(ms_since(entry.last_answer, now)) + " ms (phi " +
                                 phi_text(m.phi) + "); the distribution still sees it connected");
                    if (m.state == MemberState::suspect && d.disconnect_dead &&
                        now - m.since >= d.dead_after)
                        cut.push_back(m.node);
                } else {
                    if (m.state == MemberState::suspect && now - m.since >= d.dead_after)
                        move(entry, MemberState::dead,
                             "suspect for " + std::to_string(ms_since(m.since, now)) +
                                 " ms and not connected (" + m.reason + ")");
                    if (!entry.dialling && now - entry.last_dial >= options.reconnect_interval) {
                        entry.dialling = true;
                        entry.last_dial = now;
                        dial.push_back(m.node);
                    }
                }
            }
            update_leader();
            std::erase_if(outstanding, [&](const auto& o) {
                return now - o.second.second > max_outstanding_age();
            });
        }
        deliver();
        for (Atom node : cut)
            disconnect_dead(node);
        for (Atom node : beat)
            heartbeat(node, now);
        for (Atom node : dial)
            redial(node);
        timer.expires_after(d.heartbeat_interval);
        timer.async_wait([weak = weak_from_this()](const boost::system::error_code& e) {
            if (e) return;
            if (auto state = weak.lock()) state->tick();
        });
    }

    Clock::duration max_outstanding_age() const {
        return std::max<Clock::duration>(std::chrono::minutes(2), options.detector.dead_after * 4);
    }

    void heartbeat(Atom node, Clock::time_point now) {
        const Reference ref = process.make_ref();
        {
            std::lock_guard lock(mutex);
            outstanding.emplace(ref, std::pair(std::string(node.name()), now));
        }
        process.send(net_kernel, node,
                     tuple(atoms::gen_call, tuple(process.pid(), ref), tuple(is_auth, self.node)));
    }

    void redial(Atom node) {
        runtime->async_connect(node,
                               [weak = weak_from_this(), node](const Expected<void, NodeError>&) {
                                   auto state = weak.lock();
                                   if (!state) return;
                                   std::lock_guard lock(state->mutex);
                                   auto it = state->members.find(std::string(node.name()));
                                   if (it != state->members.end()) it->second.dialling = false;
                               });
    }

    void disconnect_dead(Atom node) {
        {
            std::lock_guard lock(mutex);
            auto it = members.find(std::string(node.name()));
            if (it == members.end() || it->second.member.state != MemberState::suspect) return;
            move(it->second, MemberState::dead,
                 "suspect for " + std::to_string(ms_since(it->second.member.since, Clock::now())) +
                     " ms (" + it->second.member.reason +
                     "); disconnected by the failure detector");
            update_leader();
        }
        runtime->log(LogLevel::warning, "cluster: disconnecting " + std::string(node.name()) +
                                            ", declared dead while still connected");
        deliver();
        runtime->disconnect(node);
    }

    void on_message(const Term& message) {
        if (message.is_tuple(2) && message[1].is_atom(yes)) {
            if (auto ref = message[0].to<Reference>()) on_answer(*ref);
        } else if (message.is_tuple(3) && message[0].is_atom(cluster_process) &&
                   message[1].is_atom(left_atom)) {
            if (auto node = message[2].to<Atom>()) on_left(*node);
        }
    }

    void on_answer(const Reference& ref) {
        const auto now = Clock::now();
        {
            std::lock_guard lock(mutex);
            auto sent = outstanding.find(ref);
            if (sent == outstanding.end()) return;
            auto [name, sent_at] = sent->second;
            outstanding.erase(sent);
            auto it = members.find(name);
            if (it == members.end() || left) return;
            Entry& entry = it->second;
            // An answer to a heartbeat older than one answered already says the member is
            // there, but its gap is not a sample (answers that queued up while it was paused).
            const bool newest = sent_at >= entry.latest_answered;
            if (newest) entry.latest_answered = sent_at;
            const auto gap = now - entry.last_answer;
            if (entry.member.state == MemberState::alive && newest)
                entry.detector.add_interval(cluster::PhiDetector::Duration(gap));
            entry.last_answer = now;
            entry.member.phi = 0;
            if (entry.member.connected && (entry.member.state == MemberState::suspect ||
                                           entry.member.state == MemberState::dead))
                move(entry, MemberState::alive,
                     "answered again after " + std::to_string(ms_since(now - gap, now)) +
                         " ms of silence: refutes the suspicion");
            update_leader();
        }
        deliver();
    }

    void on_left(Atom node) {
        {
            std::lock_guard lock(mutex);
            auto it = members.find(std::string(node.name()));
            if (it == members.end()) return;
            move(it->second, MemberState::left, "it left the cluster");
            update_leader();
        }
        deliver();
    }

    void on_node_event(const NodeEvent& e) {
        {
            std::lock_guard lock(mutex);
            if (stopped || left) return;
            auto it = members.find(std::string(e.node.name()));
            if (it == members.end()) {
                if (!e.up || !options.adopt_connected) return;
                add(e.node, true);
            } else {
                Entry& entry = it->second;
                entry.member.connected = e.up;
                if (e.up) {
                    // Connected is not alive: a heartbeat answer makes it so. Until then the
                    // silence is measured from now.
                    entry.last_answer = Clock::now();
                    if (entry.member.state == MemberState::left)
                        move(entry, MemberState::suspect, "connected again after it left");
                } else if (entry.member.state == MemberState::alive ||
                           entry.member.state == MemberState::suspect) {
                    move(entry, MemberState::suspect, "the connection went down: " + e.reason);
                }
            }
            update_leader();
        }
        deliver();
    }

    void deliver() { events.deliver(); }

    void stop() {
        std::vector<RetryHandle> joins;
        {
            std::lock_guard lock(mutex);
            if (stopped) return;
            stopped = true;
            joins.swap(join_runs);
        }
        for (auto& run : joins)
            run.cancel();
        runtime->unsubscribe(node_events);
        runtime->unregister_name(cluster_process);
        if (process) process.exit(process.pid(), Term(atoms::kill));
        asio::post(strand, [state = shared_from_this()] { state->timer.cancel(); });
        events.close();
    }

    std::shared_ptr<node::Runtime> runtime;
    ClusterOptions options;
    cluster::PhiOptions phi_options;
    asio::strand<asio::io_context::executor_type> strand;
    asio::steady_timer timer;
    ProcessHandle process;
    std::uint64_t node_events = 0;

    mutable std::mutex mutex;
    std::condition_variable connected_changed;  // join() waits on it
    Member self;
    std::map<std::string, Entry> members;  // others, by name
    std::map<Reference, std::pair<std::string, Clock::time_point>> outstanding;
    std::optional<Atom> leader;
    std::vector<std::pair<LeaveStage, std::function<void()>>> leave_steps;
    std::vector<RetryHandle> join_runs;
    bool stopped = false;
    bool left = false;
    support::EventQueue<ClusterEvent> events;  // pushed under `mutex`, in order
};

Cluster::Cluster(Node& node, ClusterOptions options,
                 std::function<void(const ClusterEvent&)> on_event)
    : state_(std::make_shared<State>(node::Access::shared(node), std::move(options))) {
    if (on_event) state_->events.subscribe(std::move(on_event));
    state_->start();
}

Cluster::~Cluster() {
    state_->stop();
}

void Cluster::add_member(Atom node) {
    if (node == state_->self.node) return;
    {
        std::lock_guard lock(state_->mutex);
        bool connected = false;
        for (bool hidden : {false, true})
            for (Atom up : state_->runtime->connected(hidden))
                connected = connected || up == node;
        state_->add(node, connected);
        state_->update_leader();
    }
    state_->deliver();
}

void Cluster::remove_member(Atom node) {
    {
        std::lock_guard lock(state_->mutex);
        auto it = state_->members.find(std::string(node.name()));
        if (it == state_->members.end()) return;
        state_->events.push({ClusterEvent::Kind::removed, it->second.member, {}, {}, {}});
        state_->members.erase(it);
        state_->update_leader();
    }
    state_->deliver();
}

Expected<std::vector<Atom>, ClusterError> Cluster::join(std::chrono::milliseconds timeout) {
    std::vector<Atom> seeds;
    for (auto& text : state_->options.seeds) {
        auto atom = Atom::make(text);
        if (!wire::NodeName::parse(text) || !atom)
            return unexpected(ClusterError{ClusterErrc::bad_seed,
                                           "seed '" + text + "' is not a node name (alive@host)"});
        if (*atom != state_->self.node) seeds.push_back(*atom);
    }
    for (Atom seed : seeds)
        add_member(seed);
    auto connected = std::make_shared<std::vector<Atom>>();
    std::weak_ptr<State> weak = state_;
    for (Atom seed : seeds) {
        auto handle = async_retry(
            state_->runtime->io(), state_->options.join_retry,
            [weak, seed](std::function<void(std::error_code)> done) {
                auto state = weak.lock();
                if (!state) return done(make_error_code(ClusterErrc::not_running));
                state->runtime->async_connect(seed, [done](const Expected<void, NodeError>& up) {
                    done(up.has_value() ? std::error_code()
                                        : make_error_code(ClusterErrc::no_seed));
                });
            },
            [](const std::error_code& e) { return e == ClusterErrc::no_seed; },
            [weak, seed, connected](std::error_code e) {
                auto state = weak.lock();
                if (!state || e) return;
                std::lock_guard lock(state->mutex);
                connected->push_back(seed);
                state->connected_changed.notify_all();
            });
        std::lock_guard lock(state_->mutex);
        state_->join_runs.push_back(handle);
    }
    std::unique_lock lock(state_->mutex);
    state_->connected_changed.wait_for(
        lock, timeout, [&] { return !connected->empty() || state_->stopped || seeds.empty(); });
    if (connected->empty() && !seeds.empty())
        return unexpected(
            ClusterError{ClusterErrc::no_seed,
                         "no seed connected within " + std::to_string(timeout.count()) + " ms"});
    return *connected;
}

void Cluster::on_leave(LeaveStage stage, std::function<void()> step) {
    std::lock_guard lock(state_->mutex);
    state_->leave_steps.emplace_back(stage, std::move(step));
}

void Cluster::leave() {
    std::vector<std::pair<LeaveStage, std::function<void()>>> steps;
    {
        std::lock_guard lock(state_->mutex);
        if (state_->left || state_->stopped) return;
        steps = state_->leave_steps;
    }
    auto& runtime = *state_->runtime;
    // Each stage: the steps registered for it, then the node's own part.
    auto& membership = otp::Membership::of(runtime);
    for (LeaveStage stage : {LeaveStage::groups, LeaveStage::global_names}) {
        for (auto& [s, step] : steps)
            if (s == stage) step();
        if (stage == LeaveStage::groups)
            membership.leave_local_groups();
        else
            membership.release_local_names(std::chrono::seconds(10));
    }
    std::vector<Atom> peers;
    {
        std::lock_guard lock(state_->mutex);
        state_->left = true;
        state_->self.state = MemberState::left;
        state_->self.reason = "left the cluster";
        state_->self.since = Clock::now();
        state_->events.push(
            {ClusterEvent::Kind::state_changed, state_->self, MemberState::alive, {}, {}});
        state_->update_leader();
    }
    state_->deliver();
    for (bool hidden : {false, true})
        for (Atom node : runtime.connected(hidden))
            peers.push_back(node);
    // C++ members hear it before the connection goes; a ping's answer comes back over the same
    // ordered connection, after the notice arrived. BEAM nodes see a plain disconnect.
    for (Atom peer : peers)
        state_->process.send(cluster_process, peer,
                             tuple(cluster_process, left_atom, state_->self.node));
    Mailbox caller(runtime.spawn_mailbox());
    for (Atom peer : peers)
        (void)call(caller, ServerRef(net_kernel, peer), tuple(is_auth, state_->self.node),
                   std::chrono::milliseconds(2000));
    // The connections close on purpose: global reports none of them as lost (the others would
    // split among themselves to prevent overlapping partitions, and a peer told to drop us
    // would have its connection dialled again by a ping still to come: every ping is done).
    if (auto global = membership.global()) global->leaving();
    for (Atom peer : peers)
        runtime.disconnect(peer);
    runtime.unregister_epmd();
    runtime.log(LogLevel::info, "cluster: left; " + std::to_string(peers.size()) +
                                    " connections closed and the EPMD name released");
}

std::vector<Member> Cluster::members() const {
    std::lock_guard lock(state_->mutex);
    std::vector<Member> out;
    for (auto& [name, entry] : state_->members)
        out.push_back(entry.member);
    out.push_back(state_->self);
    std::sort(out.begin(), out.end(),
              [](const Member& a, const Member& b) { return a.node.name() < b.node.name(); });
    return out;
}

std::optional<Member> Cluster::member(Atom node) const {
    std::lock_guard lock(state_->mutex);
    if (node == state_->self.node) return state_->self;
    auto it = state_->members.find(std::string(node.name()));
    if (it == state_->members.end()) return std::nullopt;
    return it->second.member;
}

ClusterHealth Cluster::health() const {
    std::lock_guard lock(state_->mutex);
    ClusterHealth out;
    for (auto& [name, entry] : state_->members) {
        const Member& m = entry.member;
        if (m.connected) out.connected.push_back(m.node);
        if (m.state == MemberState::alive) out.reachable.push_back(m.node);
        if (m.state == MemberState::suspect || m.state == MemberState::dead)
            out.unreachable.push_back(m.node);
    }
    return out;
}

bool Cluster::has_quorum() const {
    std::lock_guard lock(state_->mutex);
    if (state_->left) return false;
    std::size_t alive = 1;  // this node
    std::size_t known = 1;
    for (auto& [name, entry] : state_->members) {
        if (entry.member.state == MemberState::left) continue;
        ++known;
        alive += entry.member.state == MemberState::alive;
    }
    const std::size_t size = state_->options.expected_size ? state_->options.expected_size : known;
    return alive * 2 > size;
}

std::optional<Atom> Cluster::leader() const {
    std::lock_guard lock(state_->mutex);
    return state_->leader;
}

std::uint64_t Cluster::subscribe(std::function<void(const ClusterEvent&)> callback) {
    return state_->events.subscribe(std::move(callback));
}

void Cluster::unsubscribe(std::uint64_t id) {
    state_->events.unsubscribe(id);
}

}  // namespace distribute
