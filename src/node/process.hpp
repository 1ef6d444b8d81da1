// A process of this node: its mailbox, its flags, and the process-local state of its links and
// monitors. The runtime (runtime.hpp) applies signals to it; each field is guarded by `mutex`,
// and the runtime never holds two processes' mutexes at once.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "distribute/node.hpp"
#include "distribute/term.hpp"
#include "node/identity_hash.hpp"
#include "wire/control.hpp"

namespace distribute::node {

class Runtime;

// The link protocol's process-local state (erl_dist_protocol, "Link Protocol").
struct LinkState {
    bool active = true;
    std::uint64_t unlink_id = 0;   // the UNLINK_ID not yet acknowledged, while inactive
    std::uint64_t connection = 0;  // remote links: the connection it was made over
};

// A monitor this process holds.
struct HeldMonitor {
    wire::ProcessId target;  // a pid, or a name on `node`
    Atom node;
    std::uint64_t connection = 0;  // remote targets: the connection the monitor went over
};

// A monitor somebody holds on this process.
struct Watcher {
    Pid watcher;
    bool by_name = false;
    Atom name;                     // when by_name: the name it was monitored by
    std::uint64_t connection = 0;  // remote watchers
};

class Process : public std::enable_shared_from_this<Process> {
  public:
    enum class Kind { mailbox, handler };

    Process(std::shared_ptr<Runtime> owner, Pid pid, Kind kind, Node::Handler handler,
            bool trap_exit)
        : owner(std::move(owner)),
          runtime(*this->owner),
          pid(pid),
          kind(kind),
          handler(std::move(handler)),
          trap_exit(trap_exit) {}

    // Handles may outlive the Node: the runtime (stopped by then) stays until the last goes.
    const std::shared_ptr<Runtime> owner;
    Runtime& runtime;
    const Pid pid;
    const Kind kind;
    const Node::Handler handler;

    std::mutex mutex;
    std::condition_variable arrived;  // mailbox: a message came, or the process ended
    // Priority messages (OTP 28) come first, in the order they arrived, then ordinary ones.
    std::deque<Term> queue;
    std::size_t priority_queued = 0;      // how many at the front of `queue` are priority messages
    std::uint64_t priority_arrivals = 0;  // counts priority messages ever queued: a selective
                                          // receive scans again when one came in before its place
    bool alive = true;
    Term exit_reason;
    bool trap_exit = false;
    bool scheduled = false;  // handler: a run of it is posted to the io_context
    std::unordered_map<Pid, LinkState, PidHash> links;
    std::unordered_map<Reference, HeldMonitor, ReferenceHash> monitors;
    std::unordered_map<Reference, Watcher, ReferenceHash> watchers;
    // Spawn requests sent and not yet answered: the connection each went over, and whether a
    // success is reported (spawn_request's reply option).
    struct PendingSpawn {
        std::uint64_t connection;
        bool report_success;
    };
    std::unordered_map<Reference, PendingSpawn, ReferenceHash> spawning;
    std::vector<Atom> names;
    std::vector<Reference> aliases;
};

}  // namespace distribute::node
