// Processes of a C++ node. A ProcessHandle acts as one process: it sends, links, monitors and
// sends exit signals with that process as the sender, with Erlang's semantics and ordering. A
// Mailbox is a handle that also owns its process and receives from it on a plain C++ thread,
// selectively if asked, as a C node does.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "distribute/error.hpp"
#include "distribute/expected.hpp"
#include "distribute/server_ref.hpp"
#include "distribute/term.hpp"

namespace distribute {

namespace node {
class Process;
class Runtime;
struct Access;
}  // namespace node

inline constexpr std::chrono::milliseconds infinity_timeout = std::chrono::milliseconds::max();

enum class ReceiveErrc {
    timeout = 1,  // nothing (that matched) arrived in time
    exited,       // the process was ended by an exit signal; ReceiveError::reason says why
    // A receive that would wait, made on one of a node's threads (inside a handler or an actor's
    // callback): it fails at once instead of holding a thread the node needs. Use a handler, a
    // coroutine (coroutine.hpp) or a timer there; a zero timeout still looks at the queue.
    node_thread,
};
const std::error_category& receive_category() noexcept;
std::error_code make_error_code(ReceiveErrc e) noexcept;

struct ReceiveError {
    ReceiveErrc code{};
    Term reason;  // exited: the exit reason
};

class ProcessHandle {
  public:
    ProcessHandle() = default;
    explicit ProcessHandle(std::shared_ptr<node::Process> process);

    const Pid& pid() const;
    Atom node_name() const;
    bool alive() const;
    explicit operator bool() const { return process_ != nullptr; }

    // Erlang's `!`: never fails; a message to something that does not exist is dropped.
    void send(const Pid& to, Term message) const;
    // To a local registered name.
    void send(Atom name, Term message) const;
    // To {Name, Node}: connects to Node first if need be.
    void send(Atom name, Atom node, Term message) const;
    // To any form of server (server_ref.hpp); a name nobody has drops the message, as `!`.
    void send(const ServerRef& to, Term message) const;
    // To a process alias (erlang:alias/0), here or on another node.
    void send_alias(const Reference& alias, Term message) const;
    // erlang:send(Alias, Msg, [priority]) (OTP 28): a priority message, which the receiver takes
    // before its ordinary ones, when `alias` is a priority alias (alias([priority]) there, or
    // priority_alias() here); otherwise an ordinary message. Needs a peer of OTP 28 or later
    // (ALTACT_SIG); to an older one it goes as an ordinary message.
    void send_priority(const Reference& alias, Term message) const;

    // link/1: a missing or dead process gives this one an exit signal `noproc`.
    void link(const Pid& other) const;
    void unlink(const Pid& other) const;
    // monitor(process, Pid): 'DOWN' arrives as {'DOWN', Ref, process, Pid, Reason}.
    Reference monitor(const Pid& target) const;
    // monitor(process, {Name, Node}); Node may be this node.
    Reference monitor(Atom name, Atom node) const;
    // demonitor/1; true when the monitor was still active.
    bool demonitor(const Reference& ref) const;
    // exit/2: sends an exit signal to `target` (kill cannot be trapped).
    void exit(const Pid& target, Term reason) const;
    // exit_signal(Alias, Reason[, [priority]]) (OTP 28): an exit signal to the process behind an
    // active alias; a priority one reaches a process trapping exits ahead of its ordinary
    // messages when `alias` is a priority alias. Needs ALTACT_SIG: a peer before OTP 28 has no
    // way to take it, and it is dropped, as the BEAM drops it.
    void exit(const Reference& alias, Term reason, bool priority = false) const;
    // Ends this process with `reason`, as exit/1 does.
    void exit_self(Term reason) const;
    // process_flag(trap_exit, On): exit signals become {'EXIT', From, Reason} messages.
    void trap_exit(bool on) const;

    // A new reference, unique on this node (make_ref/0).
    Reference make_ref() const;
    // alias/0 and unalias/1: a reference others can send to.
    Reference alias() const;
    // alias([priority]) (OTP 28): an alias that also takes priority messages and priority exit
    // signals (send_priority, erlang:send(Alias, Msg, [priority])).
    Reference priority_alias() const;
    bool unalias(const Reference& alias) const;

  protected:
    friend struct node::Access;
    std::shared_ptr<node::Process> process_;
};

class Mailbox : public ProcessHandle {
  public:
    Mailbox() = default;
    explicit Mailbox(std::shared_ptr<node::Process> process);
    Mailbox(Mailbox&&) noexcept = default;
    Mailbox& operator=(Mailbox&& other) noexcept;
    // Ends the process with reason `normal` unless it ended already.
    ~Mailbox();

    // The oldest message. Blocks up to `timeout`.
    [[nodiscard]] Expected<Term, ReceiveError> receive(
        std::chrono::milliseconds timeout = infinity_timeout);
    // The oldest message `match` accepts; the others stay queued in order (selective receive).
    // `match` runs with no lock held: it may send, to this process as well.
    [[nodiscard]] Expected<Term, ReceiveError> receive_if(
        const std::function<bool(const Term&)>& match,
        std::chrono::milliseconds timeout = infinity_timeout);
    // Messages waiting now. From the mailbox's own thread.
    std::size_t queued() const;
    // Ends the process with `reason` (normal: links see a normal exit).
    void close(Term reason = Term(atoms::normal));
};

// A monitor's message, {'DOWN', Ref, process, Object, Reason}, as a value.
struct Down {
    Reference ref;
    // What was monitored, as the message names it: the pid, or {Name, Node} for a monitor by
    // name.
    Term object;
    // Why it ended: its exit reason, noproc (it did not exist), noconnection (its node went).
    Term reason;

    // The pid of a monitor by pid; nullopt for a monitor by name.
    std::optional<Pid> pid() const;
    // nullopt for anything that is not a process monitor's 'DOWN'.
    static std::optional<Down> from_term(const Term& message);
    Term to_term() const;
};

// The 'DOWN' of the monitor `ref`; other messages stay queued in order.
[[nodiscard]] Expected<Down, ReceiveError> receive_down(
    Mailbox& mailbox, const Reference& ref, std::chrono::milliseconds timeout = infinity_timeout);
// The oldest 'DOWN' of any monitor.
[[nodiscard]] Expected<Down, ReceiveError> receive_down(
    Mailbox& mailbox, std::chrono::milliseconds timeout = infinity_timeout);

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::ReceiveErrc> : std::true_type {};
