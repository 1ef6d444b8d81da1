// One C++ process of the chaos soak: a registered mailbox on its own thread that exchanges
// sequence-numbered messages with the BEAM processes of interop/erl/soak_peer.erl and checks the
// delivery, link and monitor rules of docs/soak.md as messages arrive.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"

namespace distribute::soak {

struct WorkerCounts {
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t gaps_across_nodedown = 0;  // allowed: a connection loss between the pair
    std::uint64_t finals_checked = 0;
    std::uint64_t monitors_made = 0;
    std::uint64_t downs = 0;
    std::uint64_t links_made = 0;
    std::uint64_t exits = 0;
    std::size_t peers_watched = 0;  // BEAM processes with an active monitor now
    std::size_t monitors_active = 0;
    std::size_t links_active = 0;
};

class Worker {
  public:
    // Registers the mailbox as `name` on `node`; the thread starts at once.
    Worker(Node& node, Atom name);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Stops sending and tells every peer it sent to the last number it sent it.
    void finish();
    // Ends the thread and closes the mailbox.
    void stop();

    WorkerCounts counts() const;
    std::vector<std::string> violations() const;
    // Peers whose final number arrived and matched what was received from them.
    std::size_t finals_from_peers() const;

  private:
    struct Peer {
        std::uint64_t next = 1;  // the next number to send it
        std::optional<Reference> monitor;
        bool linked = false;
        std::uint64_t last_received = 0;
        std::uint64_t nodedowns_then = 0;  // nodedowns of its node when last_received came
        bool final_checked = false;
    };

    void run();
    void send_round();
    void handle(const Term& message);
    void on_hello(const Pid& from);
    void on_seq(const Pid& from, std::uint64_t seq);
    void on_final(const Pid& from, std::uint64_t last);
    void on_down(const Down& down);
    void on_exit(const Pid& from, const Term& reason);
    void violation(std::string text);

    Node& node_;
    Atom name_;
    Mailbox mailbox_;
    std::atomic<bool> sending_{true};
    std::atomic<bool> finish_requested_{false};
    std::atomic<bool> stopping_{false};

    mutable std::mutex mutex_;  // guards everything below, taken while one message is handled
    std::map<Pid, Peer> peers_;
    std::map<Reference, Pid> active_monitors_;
    std::map<Atom, std::uint64_t> nodedowns_;
    WorkerCounts counts_;
    std::vector<std::string> violations_;

    std::thread thread_;  // last: it starts once everything above exists
};

}  // namespace distribute::soak
