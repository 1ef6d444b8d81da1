// One place to find a process by name, whether the name is registered on this node (register/2)
// or for the whole cluster (global). Names are checked before use; a lookup can wait for a name
// to appear (it is told when it does, it does not poll); registration can go under a retry policy
// that retries only what may pass (a name someone else has is final); a typed lookup gives a
// typed subject; and a standby process takes over a global name when its owner goes.
//
//   Registry registry(node);
//   (void)registry.register_name(NameScope::global, "billing", server.pid());
//   auto pid = registry.await(NameScope::global, "ledger", 5s);     // once somebody registers it
//   Subject<Order> orders = named_subject<Order>(me, "orders");     // the owner's side
//   auto to = registry.lookup<Order>(NameScope::local, "orders");   // anyone's side
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "distribute/error.hpp"
#include "distribute/expected.hpp"
#include "distribute/global.hpp"
#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"
#include "distribute/retry.hpp"
#include "distribute/subject.hpp"
#include "distribute/term.hpp"

namespace distribute {

enum class NameScope {
    local,   // this node's register/2 names
    global,  // global's names, the same on every node of the cluster
};

enum class RegistryErrc {
    invalid_name = 1,  // empty, over 255 characters, or not UTF-8: never an atom
    taken,             // another process has the name (final: never retried)
    has_a_name,        // global: the process has another global name already (final)
    not_alive,         // the process has exited (final)
    hidden,            // global on a hidden node (final)
    not_running,       // the node has stopped (final)
    busy,              // global: the cluster-wide lock could not be had in time; may pass
    timeout,           // await: the name did not appear in time
};
const std::error_category& registry_category() noexcept;
std::error_code make_error_code(RegistryErrc e) noexcept;

struct RegistryError {
    RegistryErrc code{};
    std::string detail;
    // What a retry policy retries.
    bool transient() const { return code == RegistryErrc::busy; }
};

class Registry {
  public:
    explicit Registry(Node& node) : node_(&node) {}

    // The atom a name becomes, or invalid_name saying why not.
    [[nodiscard]] static Expected<Atom, RegistryError> validate(std::string_view name);

    [[nodiscard]] Expected<void, RegistryError> register_name(NameScope scope,
                                                              std::string_view name,
                                                              const Pid& pid) const;
    // Tries again, as `policy` says, while the failure is transient (busy): a taken name, a dead
    // process or a bad name ends it at once.
    [[nodiscard]] Expected<void, RegistryError> register_name(NameScope scope,
                                                              std::string_view name, const Pid& pid,
                                                              const RetryPolicy& policy) const;
    // True when the name was registered (and no longer is).
    bool unregister_name(NameScope scope, std::string_view name) const;
    std::optional<Pid> whereis(NameScope scope, std::string_view name) const;
    // The pid once the name is registered, at once when it is already: told by the node when it
    // happens, not polled. timeout when it does not appear in time. Blocking: for plain threads.
    [[nodiscard]] Expected<Pid, RegistryError> await(NameScope scope, std::string_view name,
                                                     std::chrono::milliseconds timeout) const;

    // The subject its owner made with named_subject<T>(owner, name), from the name alone.
    template <class T>
    std::optional<Subject<T>> lookup(NameScope scope, std::string_view name) const {
        auto pid = whereis(scope, name);
        if (!pid) return std::nullopt;
        return Subject<T>(*pid, subject_tag(*pid, name));
    }

    // The tag of the subject named `name` of `owner`: made from the owner's node, its
    // incarnation and the name, so that every node makes the same one. A reference of five words
    // whose first marks it, so that it never equals one make_ref() gives.
    static Reference subject_tag(const Pid& owner, std::string_view name);

  private:
    Expected<void, RegistryError> register_once(NameScope scope, Atom name, const Pid& pid) const;
    Node* node_;
};

// The subject of `owner` that Registry::lookup<T>(scope, name) finds once `owner` is registered
// as `name`.
template <class T>
Subject<T> named_subject(const ProcessHandle& owner, std::string_view name) {
    return Subject<T>(owner.pid(), Registry::subject_tag(owner.pid(), name));
}

// A process that stands by to take over a global name: while another process has the name it
// watches that one (a monitor), and when it exits or its node goes down the standby registers
// the name for `standby`. Callers of the name never go unanswered meanwhile: a call to the old
// owner fails (noproc, nodedown), a lookup finds nobody (and a {global, Name} call fails with
// noproc) until the standby has it. `on_takeover` runs (on a node thread) each time it takes it.
class Standby {
  public:
    [[nodiscard]] static Expected<Standby, RegistryError> start(
        Node& node, std::string_view name, const Pid& standby,
        std::function<void(const Pid& previous)> on_takeover = {});
    // Stops watching; the name stays with whoever has it.
    void stop();
    bool active() const;

    struct State;

  private:
    explicit Standby(std::shared_ptr<State> state) : state_(std::move(state)) {}
    std::shared_ptr<State> state_;
};

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::RegistryErrc> : std::true_type {};
