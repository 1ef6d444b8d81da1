// Global names, as OTP's global: a name (any term) registered once for the whole cluster, known
// to every node, so that a process is found without knowing where it runs. Our node runs
// global's own protocol (OTP 25, version 8) as a visible BEAM node does: names registered here
// show on every BEAM node, names registered there are known here without asking (whereis_name
// reads this node's copy), `global:sync()` on a BEAM node returns while we are connected, and
// global:set_lock/trans from a BEAM node take their lock on this node too.
//
//   Global g = global(node).value();
//   (void)g.register_name("orders"_a, server.pid());   // erl: global:whereis_name(orders)
//   auto pid = g.whereis_name("billing"_a);             // registered by an Erlang process
//   (void)call(me, ServerRef::global("billing"_a), request);
//
// A name goes when its process exits or its node goes down. When two partitions that each have
// the name meet, one of them resolves the clash, with the method the name was registered with:
// the standard ones (random_exit_name, random_notify_name, notify_all_name) or a C++ function.
// A hidden node takes no part in global (BEAM nodes leave it out): global(node) refuses it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "distribute/error.hpp"
#include "distribute/expected.hpp"
#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"
#include "distribute/term.hpp"

namespace distribute {

namespace otp {
class GlobalServer;
}

enum class GlobalErrc {
    taken = 1,    // register_name: another process has the name
    has_a_name,   // register_name: the process is registered under another name already
    not_found,    // send: nobody has the name
    hidden,       // the node is hidden: it takes no part in global
    not_running,  // the node was stopped
    timeout,      // the lock or the registration could not be had in time
};
const std::error_category& global_category() noexcept;
std::error_code make_error_code(GlobalErrc e) noexcept;

using GlobalError = CodedError<GlobalErrc>;

// How a clash is resolved when partitions that both have a name meet (global:register_name/3's
// Resolve). The standard methods keep the process on the node whose name sorts first:
enum class Resolve {
    random_exit_name,    // the other one is killed (exit(Pid, kill)): global's default
    random_notify_name,  // the other one gets {global_name_conflict, Name} and loses the name
    notify_all_name,     // both get {global_name_conflict, Name, OtherPid}; the name goes
};
// A resolver of our own: given the name and the two processes, the one that keeps the name, or
// nullopt for neither (the name goes). Runs on one of the node's threads and must not block; it
// may tell the processes (a send) whatever they need to know.
using GlobalResolver =
    std::function<std::optional<Pid>(const Term& name, const Pid& one, const Pid& other)>;

class Global {
  public:
    using Done = std::function<void(Expected<void, GlobalError>)>;

    // global:register_name/3. Blocking (the `global` lock is taken across the cluster): call it
    // from a plain thread, or use the asynchronous form from a handler or an actor.
    [[nodiscard]] Expected<void, GlobalError> register_name(
        const Term& name, const Pid& pid, Resolve resolve = Resolve::random_exit_name) const;
    [[nodiscard]] Expected<void, GlobalError> register_name(const Term& name, const Pid& pid,
                                                            GlobalResolver resolver) const;
    // global:re_register_name/3: takes the name whoever has it.
    [[nodiscard]] Expected<void, GlobalError> re_register_name(
        const Term& name, const Pid& pid, Resolve resolve = Resolve::random_exit_name) const;
    // global:unregister_name/1 (nothing to do when nobody has it).
    [[nodiscard]] Expected<void, GlobalError> unregister_name(const Term& name) const;
    // The same, giving up with `timeout` when the `global` lock cannot be had within
    // `lock_timeout` (other registrations or partitions merging hold it); nothing has changed
    // then, and trying again later may work.
    [[nodiscard]] Expected<void, GlobalError> register_name(
        const Term& name, const Pid& pid, Resolve resolve,
        std::chrono::milliseconds lock_timeout) const;
    // The same without waiting: `done` runs on one of the node's threads.
    void register_name_async(const Term& name, const Pid& pid, Resolve resolve, Done done,
                             std::chrono::milliseconds lock_timeout = infinity_timeout) const;
    void unregister_name_async(const Term& name, Done done) const;

    // Read from this node's copy of the names, without asking anybody.
    std::optional<Pid> whereis_name(const Term& name) const;
    std::vector<Term> registered_names() const;
    // global:send/2: the pid it went to, or not_found.
    [[nodiscard]] Expected<Pid, GlobalError> send(const ProcessHandle& from, const Term& name,
                                                  Term message) const;

    // global:sync/0: true once this node is in step with every visible node connected now (each
    // went through the connection protocol with us, or went down); false when `timeout` passes.
    bool sync(std::chrono::milliseconds timeout = infinity_timeout) const;
    // The visible nodes this node's global knows.
    std::vector<Atom> known_nodes() const;

    // global:set_lock({Resource, Requester}, Nodes, Retries) and del_lock/2, held by this node's
    // registrar process (the lock goes if this node goes down). Blocking; Retries as global's:
    // 0 tries once, infinity_retries never gives up.
    static constexpr unsigned infinity_retries = ~0u;
    [[nodiscard]] bool set_lock(const Term& resource, const Term& requester,
                                const std::vector<Atom>& nodes, unsigned retries = 0) const;
    void del_lock(const Term& resource, const Term& requester,
                  const std::vector<Atom>& nodes) const;

  private:
    friend Expected<Global, GlobalError> global(Node&);
    explicit Global(std::shared_ptr<otp::GlobalServer> server) : server_(std::move(server)) {}
    Expected<void, GlobalError> wait(std::function<void(Done)> start) const;
    std::shared_ptr<otp::GlobalServer> server_;
};

// The global service of `node`; `hidden` for a hidden node.
[[nodiscard]] Expected<Global, GlobalError> global(Node& node);

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::GlobalErrc> : std::true_type {};
