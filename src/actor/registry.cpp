// The registry (registry.hpp): names checked, registered, found and awaited on this node
// (register/2) or across the cluster (global).
#include "distribute/registry.hpp"

#include <sodium.h>

#include <future>

#include "node/access.hpp"
#include "otp/global_server.hpp"
#include "otp/membership.hpp"

namespace distribute {

namespace {

const char* message_of(RegistryErrc e) noexcept {
    switch (e) {
        case RegistryErrc::invalid_name:
            return "not a valid name";
        case RegistryErrc::taken:
            return "the name is registered already";
        case RegistryErrc::has_a_name:
            return "the process has another global name";
        case RegistryErrc::not_alive:
            return "the process is not alive";
        case RegistryErrc::hidden:
            return "a hidden node takes no part in global";
        case RegistryErrc::not_running:
            return "the node is not running";
        case RegistryErrc::busy:
            return "the global lock could not be had in time";
        case RegistryErrc::timeout:
            return "the name did not appear in time";
    }
    return nullptr;
}

// How long one global registration waits for the cluster-wide lock before it counts as busy.
constexpr std::chrono::seconds global_lock_wait{5};

RegistryError error(RegistryErrc code, std::string detail) {
    return {code, std::move(detail)};
}

RegistryError from_global(const GlobalError& e) {
    switch (e.code) {
        case GlobalErrc::taken:
            return error(RegistryErrc::taken, e.detail);
        case GlobalErrc::has_a_name:
            return error(RegistryErrc::has_a_name, e.detail);
        case GlobalErrc::hidden:
            return error(RegistryErrc::hidden, e.detail);
        case GlobalErrc::timeout:
            return error(RegistryErrc::busy, e.detail);
        case GlobalErrc::not_found:
        case GlobalErrc::not_running:
            break;
    }
    return error(RegistryErrc::not_running, e.detail);
}

}  // namespace

const std::error_category& registry_category() noexcept {
    static const ErrorCategory<RegistryErrc> category("distribute.registry", message_of);
    return category;
}

std::error_code make_error_code(RegistryErrc e) noexcept {
    return {static_cast<int>(e), registry_category()};
}

Expected<Atom, RegistryError> Registry::validate(std::string_view name) {
    if (name.empty()) return unexpected(error(RegistryErrc::invalid_name, "a name is not empty"));
    auto atom = Atom::make(name);
    if (atom) return *atom;
    switch (atom.error()) {
        case AtomErrc::too_long:
            return unexpected(
                error(RegistryErrc::invalid_name, "a name has at most 255 characters, not " +
                                                      std::to_string(name.size()) + " bytes"));
        case AtomErrc::invalid_utf8:
            return unexpected(error(RegistryErrc::invalid_name, "a name is UTF-8 text"));
        default:
            return unexpected(error(RegistryErrc::invalid_name, "the atom table is full"));
    }
}

Reference Registry::subject_tag(const Pid& owner, std::string_view name) {
    // 16 bytes of BLAKE2b of the name: the same on every node, and 128 bits against collisions.
    std::array<unsigned char, 16> digest{};
    crypto_generichash(digest.data(), digest.size(),
                       reinterpret_cast<const unsigned char*>(name.data()), name.size(), nullptr,
                       0);
    Reference tag;
    tag.node = owner.node;
    tag.creation = owner.creation;
    tag.size = 5;
    tag.words[0] = 0x5EB1EC7u;  // make_ref() never sets this word (its third is a salt, 3 words)
    for (std::size_t i = 0; i < 4; ++i)
        tag.words[i + 1] = static_cast<std::uint32_t>(digest[4 * i]) << 24 |
                           static_cast<std::uint32_t>(digest[4 * i + 1]) << 16 |
                           static_cast<std::uint32_t>(digest[4 * i + 2]) << 8 | digest[4 * i + 3];
    return tag;
}

Expected<void, RegistryError> Registry::register_once(NameScope scope, Atom name,
                                                      const Pid& pid) const {
    auto& runtime = node::Access::runtime(*node_);
    if (runtime.stopped()) return unexpected(error(RegistryErrc::not_running, "stopped"));
    if (runtime.is_local(pid.node) && !runtime.find(pid))
        return unexpected(error(RegistryErrc::not_alive, to_string(Term(pid)) + " is not alive"));
    if (scope == NameScope::local) {
        auto done = node_->register_name(name, pid);
        if (done) return {};
        if (done.error().code == NodeErrc::name_taken)
            return unexpected(error(RegistryErrc::taken, done.error().detail));
        if (done.error().code == NodeErrc::not_alive)
            return unexpected(error(RegistryErrc::not_alive, done.error().detail));
        return unexpected(error(RegistryErrc::not_running, done.error().detail));
    }
    auto g = global(*node_);
    if (!g) return unexpected(from_global(g.error()));
    auto done = g->register_name(Term(name), pid, Resolve::random_exit_name, global_lock_wait);
    if (!done) return unexpected(from_global(done.error()));
    return {};
}

Expected<void, RegistryError> Registry::register_name(NameScope scope, std::string_view name,
                                                      const Pid& pid) const {
    auto atom = validate(name);
    if (!atom) return unexpected(atom.error());
    return register_once(scope, *atom, pid);
}

Expected<void, RegistryError> Registry::register_name(NameScope scope, std::string_view name,
                                                      const Pid& pid,
                                                      const RetryPolicy& policy) const {
    auto atom = validate(name);
    if (!atom) return unexpected(atom.error());
    return retry_sync(
        policy, [&] { return register_once(scope, *atom, pid); },
        [](const RegistryError& e) { return e.transient(); });
}

bool Registry::unregister_name(NameScope scope, std::string_view name) const {
    auto atom = Atom::existing(name);
    if (!atom) return false;
    if (scope == NameScope::local) return node_->unregister_name(*atom);
    auto g = global(*node_);
    if (!g || !g->whereis_name(Term(*atom))) return false;
    return g->unregister_name(Term(*atom)).has_value();
}

std::optional<Pid> Registry::whereis(NameScope scope, std::string_view name) const {
    auto atom = Atom::existing(name);
    if (!atom) return std::nullopt;
    if (scope == NameScope::local) return node_->whereis(*atom);
    auto g = global(*node_);
    return g ? g->whereis_name(Term(*atom)) : std::nullopt;
}

Expected<Pid, RegistryError> Registry::await(NameScope scope, std::string_view name,
                                             std::chrono::milliseconds timeout) const {
    auto atom = validate(name);
    if (!atom) return unexpected(atom.error());
    auto& runtime = node::Access::runtime(*node_);
    std::shared_ptr<otp::GlobalServer> server;
    if (scope == NameScope::global) {
        server = otp::Membership::of(runtime).global();
        if (!server) return unexpected(error(RegistryErrc::hidden, "a hidden node has no global"));
    }
    auto appeared = std::make_shared<std::promise<Pid>>();
    auto future = appeared->get_future();
    auto once = std::make_shared<std::atomic<bool>>(false);
    auto tell = [appeared, once](const Pid& pid) {
        if (!once->exchange(true)) appeared->set_value(pid);
    };
    // Watch first, then look: a registration in between is seen by one of the two.
    const std::uint64_t watch =
        server ? server->watch_name(Term(*atom), tell) : runtime.watch_name(*atom, tell);
    if (auto now = whereis(scope, name)) tell(*now);
    const bool came =
        timeout == infinity_timeout || future.wait_for(timeout) == std::future_status::ready;
    if (server)
        server->unwatch_name(watch);
    else
        runtime.unwatch_name(watch);
    if (!came)
        return unexpected(
            error(RegistryErrc::timeout, std::string(name) + " was not registered within " +
                                             std::to_string(timeout.count()) + " ms"));
    return future.get();
}

}  // namespace distribute
