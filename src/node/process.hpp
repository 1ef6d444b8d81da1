// A process of this node: its messages, its flags, and the process-local state of its links and
// monitors. The runtime (runtime.hpp) applies signals to it; the shared fields are guarded by
// `mutex`, and the runtime never holds two processes' mutexes at once.
//
// Messages arrive in two steps, as on the BEAM: senders append to `inbox` under the mutex; the
// process's one consumer (the thread of a Mailbox, or the handler or coroutine on its turn) moves
// the inbox to `seen` and works there without the lock. A selective receive runs its predicate
// on `seen` with no lock held, so the predicate may send, even to its own process.
//
// Three kinds, one class each: a Mailbox's process (a plain thread blocks on `arrived`), a
// handler process (a function per message, run in turns on the node's executor) and a coroutine
// process (coroutine.cpp). A process that has never linked, monitored, registered or aliased
// anything carries no maps at all: a million idle processes must fit in well under 1 GiB.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "distribute/node.hpp"
#include "distribute/term.hpp"
#include "node/identity_hash.hpp"
#include "node/message_queue.hpp"
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
    // The reference is also an alias of this process that goes with the monitor, as
    // erlang:monitor/3's {alias, demonitor} (what gen calls use).
    bool alias = false;
};

// A monitor somebody holds on this process.
struct Watcher {
    Pid watcher;
    bool by_name = false;
    Atom name;                     // when by_name: the name it was monitored by
    std::uint64_t connection = 0;  // remote watchers
};

// Spawn requests sent and not yet answered: the connection each went over, and whether a
// success is reported (spawn_request's reply option).
struct PendingSpawn {
    std::uint64_t connection;
    bool report_success;
};

// A connection this process has something over (a link, a monitor, a watcher, a spawn request):
// the connection holds the process in its list, and the process takes itself out when it ends.
struct Crossing {
    Atom peer;
    std::uint64_t connection;
};

// Everything a process has with others, made on first use.
struct Relations {
    std::unordered_map<Pid, LinkState, PidHash> links;
    std::unordered_map<Reference, HeldMonitor, ReferenceHash> monitors;
    std::unordered_map<Reference, Watcher, ReferenceHash> watchers;
    std::unordered_map<Reference, PendingSpawn, ReferenceHash> spawning;
    std::vector<Atom> names;
    std::vector<Reference> aliases;
    std::vector<Crossing> crossings;
};

// What tools read of a process through erlang:process_info (src/otp/process_info.cpp), beyond
// what the runtime knows itself: set by whoever starts the process (an actor names its C++ type;
// proc_lib-style starts add '$ancestors' and '$initial_call'), under the process's mutex, with
// describe() and put_in_dictionary() below. A process without one shows its kind.
struct Description {
    Term initial_call;      // {M, F, A}; [] (none): the kind's
    Term current_function;  // {M, F, A}; [] (none): the initial call
    std::vector<std::pair<Term, Term>> dictionary;
    // An actor that returned Hibernate and has taken no message since (current_function
    // {erlang, hibernate, 3} on the BEAM); how often it hibernated and what that gave back.
    bool hibernating = false;
    std::uint64_t hibernations = 0;
    std::uint64_t bytes_returned = 0;
};

class Process : public std::enable_shared_from_this<Process> {
  public:
    enum class Kind : std::uint8_t { mailbox, handler, coroutine };

    Process(std::shared_ptr<Runtime> owner, Pid pid, Kind kind, bool trap_exit)
        : owner(std::move(owner)),
          runtime(*this->owner),
          pid(pid),
          kind(kind),
          trap_exit(trap_exit) {}
    virtual ~Process() = default;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    // Handles may outlive the Node: the runtime (stopped by then) stays until the last goes.
    const std::shared_ptr<Runtime> owner;
    Runtime& runtime;
    const Pid pid;
    const Kind kind;

    // Guards what follows, except `alive` for reading (it only ever goes from true to false,
    // under the mutex) and `seen`.
    std::mutex mutex;
    // Priority messages (OTP 28) first, in the order they arrived, then ordinary ones.
    LanedQueue inbox;
    std::atomic<bool> alive{true};
    bool trap_exit = false;
    bool scheduled = false;  // handler and coroutine: a turn is posted or running
    bool woken = false;      // ...and something happened since it began: another turn follows
    // ...and a turn found it behind and handed it to another node thread: it keeps to that
    // thread until it catches up (Runtime::run_turn).
    bool handed_on = false;
    Term exit_reason;
    std::unique_ptr<Relations> relations;
    std::unique_ptr<Description> description;
    Relations& related() {
        if (!relations) relations = std::make_unique<Relations>();
        return *relations;
    }
    // Messages queued to it so far (exit signals and DOWNs that became messages included): the
    // work it was given, which process_info reports as its reductions.
    std::uint64_t delivered = 0;

    // The consumer's own: messages moved out of the inbox, oldest first (priority ones ahead),
    // not yet taken.
    LanedQueue seen;
    // The consumer's own: the process has ended and what only its consumer could let go of
    // (its queue, a coroutine's frame) is gone; no turn is needed any more.
    bool released = false;
    // Moves what arrived to `seen`; false when the process has ended. Consumer only.
    bool gather() {
        std::lock_guard lock(mutex);
        seen.append(inbox);
        return alive.load(std::memory_order_relaxed);
    }

    // A message arrived or the process ended; called with `lock` (on `mutex`) held, which it may
    // release. Handler and coroutine processes are scheduled for a turn.
    virtual void wake(std::unique_lock<std::mutex>& lock);
    // Handler and coroutine processes: one turn on a node thread, never two at once. Returns
    // true when it stopped with work left (its budget ran out), so another turn must follow.
    virtual bool turn() { return false; }
};

// Sets what process_info shows as the process's initial call and current function ({M, F, A}
// tuples; [] leaves one as it was).
void describe(Process& process, Term initial_call, Term current_function);
// put(Key, Value) in the process dictionary that process_info shows (replacing Key's value).
void put_in_dictionary(Process& process, Term key, Term value);

// {cpp_exception, <<"what()">>}: why a process whose code threw `thrown` ends; `what` gets the
// text for the log line.
Term crash_reason(const std::exception_ptr& thrown, std::string& what);

// A process a plain C++ thread consumes through a Mailbox, C-node style.
class MailboxProcess final : public Process {
  public:
    MailboxProcess(std::shared_ptr<Runtime> owner, Pid pid)
        : Process(std::move(owner), pid, Kind::mailbox, false) {}
    void wake(std::unique_lock<std::mutex>& lock) override {
        lock.unlock();
        arrived.notify_all();
    }

    std::condition_variable arrived;  // a message came, or the process ended
};

// A process whose handler runs on the node's threads, a bounded number of messages per turn.
class HandlerProcess final : public Process {
  public:
    HandlerProcess(std::shared_ptr<Runtime> owner, Pid pid, Node::Handler handler, bool trap_exit)
        : Process(std::move(owner), pid, Kind::handler, trap_exit), handler_(std::move(handler)) {}
    bool turn() override;

  private:
    const Node::Handler handler_;
};

}  // namespace distribute::node
