#include "worker.hpp"

#include <chrono>
#include <utility>

namespace distribute::soak {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto send_every = 10ms;
// A gap may reach the worker just before the nodedown that explains it: they come by different
// ways (the new connection, the old one's teardown). Wait this long for the nodedown.
constexpr auto nodedown_grace = 2000ms;

Atom tag(const char* text) {
    return Atom::make(text).value();
}
const Atom soak_hello = tag("soak_hello");
const Atom soak_seq = tag("soak_seq");
const Atom soak_final = tag("soak_final");
const Atom soak_welcome = tag("soak_welcome");
const Atom exit_tag = tag("EXIT");
const Atom nodedown = tag("nodedown");
const Atom nodeup = tag("nodeup");

std::string text(const Term& t) {
    return to_string(t);
}

}  // namespace

Worker::Worker(Node& node, Atom name) : node_(node), name_(name), mailbox_(node.open_mailbox()) {
    mailbox_.trap_exit(true);
    node_.monitor_nodes(mailbox_.pid());
    if (!node_.register_name(name_, mailbox_.pid()))
        violation("could not register " + std::string(name_.name()));
    thread_ = std::thread([this] { run(); });
}

Worker::~Worker() {
    stop();
}

void Worker::finish() {
    finish_requested_ = true;
}

void Worker::stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    if (mailbox_) {
        node_.monitor_nodes(mailbox_.pid(), false);
        node_.unregister_name(name_);
        mailbox_.close();
    }
}

WorkerCounts Worker::counts() const {
    std::lock_guard lock(mutex_);
    WorkerCounts out = counts_;
    out.monitors_active = active_monitors_.size();
    for (auto& [pid, peer] : peers_) {
        out.peers_watched += peer.monitor.has_value();
        out.links_active += peer.linked;
    }
    return out;
}

std::vector<std::string> Worker::violations() const {
    std::lock_guard lock(mutex_);
    return violations_;
}

std::size_t Worker::finals_from_peers() const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (auto& [pid, peer] : peers_)
        n += peer.final_checked;
    return n;
}

void Worker::run() {
    auto next_send = Clock::now();
    while (!stopping_) {
        if (finish_requested_.exchange(false)) {
            std::lock_guard lock(mutex_);
            sending_ = false;
            for (auto& [pid, peer] : peers_)
                if (peer.next > 1) mailbox_.send(pid, tuple(soak_final, name_, peer.next - 1));
        }
        const auto now = Clock::now();
        if (now >= next_send) {
            if (sending_) send_round();
            next_send = now + send_every;
        }
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_send - now);
        auto got = mailbox_.receive(std::max(wait, 1ms));
        if (got) {
            std::lock_guard lock(mutex_);
            handle(*got);
        } else if (got.error().code != ReceiveErrc::timeout) {
            std::lock_guard lock(mutex_);
            violation("the worker's process ended: " + text(got.error().reason));
            return;
        }
    }
}

void Worker::send_round() {
    std::lock_guard lock(mutex_);
    for (auto& [pid, peer] : peers_) {
        if (!peer.monitor) continue;  // gone or unreachable until it says hello again
        mailbox_.send(pid, tuple(soak_seq, name_, peer.next++));
        ++counts_.sent;
    }
}

void Worker::handle(const Term& message) {
    if (auto hello = message.tagged<Pid>(soak_hello)) return on_hello(std::get<0>(*hello));
    if (auto seq = message.tagged<Pid, std::int64_t>(soak_seq))
        return on_seq(std::get<0>(*seq), static_cast<std::uint64_t>(std::get<1>(*seq)));
    if (auto final = message.tagged<Pid, std::int64_t>(soak_final))
        return on_final(std::get<0>(*final), static_cast<std::uint64_t>(std::get<1>(*final)));
    if (auto down = Down::from_term(message)) return on_down(*down);
    if (auto exit = message.tagged<Pid, Term>(exit_tag))
        return on_exit(std::get<0>(*exit), std::get<1>(*exit));
    if (auto down = message.tagged<Atom>(nodedown)) {
        ++nodedowns_[std::get<0>(*down)];
        return;
    }
    if (message.tagged<Atom>(nodeup)) return;
    violation("unexpected message " + text(message));
}

void Worker::on_hello(const Pid& from) {
    Peer& peer = peers_[from];
    // A monitor and a link at a time: a hello repeated while they stand adds neither.
    if (!peer.monitor) {
        peer.monitor = mailbox_.monitor(from);
        active_monitors_.emplace(*peer.monitor, from);
        ++counts_.monitors_made;
    }
    if (!peer.linked) {
        mailbox_.link(from);
        peer.linked = true;
        ++counts_.links_made;
    }
    mailbox_.send(from, tuple(soak_welcome, name_, mailbox_.pid()));
}

void Worker::on_seq(const Pid& from, std::uint64_t seq) {
    ++counts_.received;
    Peer& peer = peers_[from];
    const auto last = peer.last_received;
    std::uint64_t& downs = nodedowns_[from.node];
    if (seq <= last) {
        violation("from " + text(from) + ": " + std::to_string(seq) + " after " +
                  std::to_string(last) + " (duplicate or out of order)");
    } else if (seq > last + 1) {
        if (downs == peer.nodedowns_then) {
            const Atom node = from.node;
            auto late = mailbox_.receive_if(
                [node](const Term& t) {
                    auto d = t.tagged<Atom>(nodedown);
                    return d && std::get<0>(*d) == node;
                },
                nodedown_grace);
            if (late) ++downs;
        }
        if (downs > peer.nodedowns_then)
            ++counts_.gaps_across_nodedown;
        else
            violation("from " + text(from) + ": " + std::to_string(seq) + " after " +
                      std::to_string(last) + " with no nodedown between (lost)");
    }
    if (seq > last) peer.last_received = seq;
    peer.nodedowns_then = downs;
}

void Worker::on_final(const Pid& from, std::uint64_t last) {
    Peer& peer = peers_[from];
    if (peer.last_received == last) {
        peer.final_checked = true;
        ++counts_.finals_checked;
    } else {
        violation("from " + text(from) + ": last " + std::to_string(peer.last_received) +
                  " received, " + std::to_string(last) + " sent");
    }
}

void Worker::on_down(const Down& down) {
    auto active = active_monitors_.find(down.ref);
    if (active == active_monitors_.end()) {
        violation("a second or unknown DOWN " + text(down.to_term()));
        return;
    }
    Peer& peer = peers_[active->second];
    peer.monitor.reset();
    active_monitors_.erase(active);
    ++counts_.downs;
    // Its processes end only with their node (killed or halted): the connection is what goes.
    if (!down.reason.is_atom(atoms::noconnection))
        violation("DOWN with reason " + text(down.reason) + " for " + text(down.object));
}

void Worker::on_exit(const Pid& from, const Term& reason) {
    auto peer = peers_.find(from);
    if (peer == peers_.end() || !peer->second.linked) {
        violation("an exit signal without a link, or a second one, from " + text(from) + ": " +
                  text(reason));
        return;
    }
    peer->second.linked = false;
    ++counts_.exits;
    if (!reason.is_atom(atoms::noconnection))
        violation("exit signal " + text(reason) + " from " + text(from));
}

void Worker::violation(std::string text) {
    violations_.push_back(std::string(name_.name()) + ": " + std::move(text));
}

}  // namespace distribute::soak
