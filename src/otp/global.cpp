// The public face of global (global.hpp), over this node's global_name_server and registrar.
#include "distribute/global.hpp"

#include <future>

#include "node/access.hpp"
#include "otp/global_atoms.hpp"
#include "otp/global_registrar.hpp"
#include "otp/global_server.hpp"
#include "otp/membership.hpp"

namespace distribute {

namespace {

const char* message_of(GlobalErrc e) noexcept {
    switch (e) {
        case GlobalErrc::taken:
            return "the name is registered already";
        case GlobalErrc::has_a_name:
            return "the process is registered under another name";
        case GlobalErrc::not_found:
            return "no process has the name";
        case GlobalErrc::hidden:
            return "a hidden node takes no part in global";
        case GlobalErrc::not_running:
            return "the node is not running";
        case GlobalErrc::timeout:
            return "timed out";
    }
    return nullptr;
}

// The method other nodes keep for a name registered here.
Term method_of(Resolve resolve) {
    const otp::GlobalAtoms& a = otp::global_atoms();
    switch (resolve) {
        case Resolve::random_exit_name:
            return Term(ExportFun{a.global, a.random_exit_name, 3});
        case Resolve::random_notify_name:
            return Term(ExportFun{a.global, a.random_notify_name, 3});
        case Resolve::notify_all_name:
            return Term(ExportFun{a.global, a.notify_all_name, 3});
    }
    return Term(ExportFun{a.global, a.random_exit_name, 3});
}

Term cpp_method() {
    const otp::GlobalAtoms& a = otp::global_atoms();
    return Term(ExportFun{a.distribute_global, a.resolve, 3});
}

GlobalError stopped() {
    return {GlobalErrc::not_running, "the node has stopped"};
}

}  // namespace

const std::error_category& global_category() noexcept {
    static const ErrorCategory<GlobalErrc> category("distribute.global", message_of);
    return category;
}

std::error_code make_error_code(GlobalErrc e) noexcept {
    return {static_cast<int>(e), global_category()};
}

Expected<Global, GlobalError> global(Node& node) {
    auto& runtime = node::Access::runtime(node);
    if (runtime.stopped()) return unexpected(stopped());
    auto server = otp::Membership::of(runtime).global();
    if (!server)
        return unexpected(GlobalError{GlobalErrc::hidden, "a hidden node takes no part in global"});
    return Global(std::move(server));
}

Expected<void, GlobalError> Global::wait(std::function<void(Done)> start) const {
    // Only the request holds the promise: a node that stops with the request still queued drops
    // it, and the wait ends with not_running instead of never.
    auto promise = std::make_shared<std::promise<Expected<void, GlobalError>>>();
    auto future = promise->get_future();
    start([promise](Expected<void, GlobalError> result) { promise->set_value(std::move(result)); });
    promise.reset();
    try {
        return future.get();
    } catch (const std::future_error&) {
        return unexpected(stopped());
    }
}

Expected<void, GlobalError> Global::register_name(const Term& name, const Pid& pid,
                                                  Resolve resolve) const {
    return wait([&](Done done) { register_name_async(name, pid, resolve, std::move(done)); });
}

Expected<void, GlobalError> Global::register_name(const Term& name, const Pid& pid,
                                                  GlobalResolver resolver) const {
    return wait([&](Done done) {
        if (auto registrar = server_->registrar())
            registrar->register_name(name, pid, cpp_method(), std::move(resolver), false,
                                     std::move(done));
        else
            done(unexpected(stopped()));
    });
}

Expected<void, GlobalError> Global::re_register_name(const Term& name, const Pid& pid,
                                                     Resolve resolve) const {
    return wait([&](Done done) {
        if (auto registrar = server_->registrar())
            registrar->register_name(name, pid, method_of(resolve), std::nullopt, true,
                                     std::move(done));
        else
            done(unexpected(stopped()));
    });
}

Expected<void, GlobalError> Global::unregister_name(const Term& name) const {
    return wait([&](Done done) { unregister_name_async(name, std::move(done)); });
}

Expected<void, GlobalError> Global::register_name(const Term& name, const Pid& pid, Resolve resolve,
                                                  std::chrono::milliseconds lock_timeout) const {
    return wait(
        [&](Done done) { register_name_async(name, pid, resolve, std::move(done), lock_timeout); });
}

void Global::register_name_async(const Term& name, const Pid& pid, Resolve resolve, Done done,
                                 std::chrono::milliseconds lock_timeout) const {
    auto registrar = server_->registrar();
    if (!registrar) return done(unexpected(stopped()));
    using Deadline = otp::GlobalRegistrar::Deadline;
    const Deadline deadline = lock_timeout == infinity_timeout
                                  ? Deadline::max()
                                  : std::chrono::steady_clock::now() + lock_timeout;
    registrar->register_name(name, pid, method_of(resolve), std::nullopt, false, std::move(done),
                             deadline);
}

void Global::unregister_name_async(const Term& name, Done done) const {
    auto registrar = server_->registrar();
    if (!registrar) return done(unexpected(stopped()));
    registrar->unregister_name(name, std::move(done));
}

std::optional<Pid> Global::whereis_name(const Term& name) const {
    return server_->whereis(name);
}

std::vector<Term> Global::registered_names() const {
    return server_->registered_names();
}

Expected<Pid, GlobalError> Global::send(const ProcessHandle& from, const Term& name,
                                        Term message) const {
    auto pid = server_->whereis(name);
    if (!pid)
        return unexpected(
            GlobalError{GlobalErrc::not_found, "no process is registered as " + to_string(name)});
    from.send(*pid, std::move(message));
    return *pid;
}

bool Global::sync(std::chrono::milliseconds timeout) const {
    return server_->wait_synced(timeout);
}

std::vector<Atom> Global::known_nodes() const {
    return server_->known_nodes();
}

bool Global::set_lock(const Term& resource, const Term& requester, const std::vector<Atom>& nodes,
                      unsigned retries) const {
    auto set = wait([&](Done done) {
        auto registrar = server_->registrar();
        if (!registrar) return done(unexpected(stopped()));
        registrar->set_lock(tuple(resource, requester), nodes, retries, [done](bool is_set) {
            done(is_set ? Expected<void, GlobalError>()
                        : unexpected(GlobalError{GlobalErrc::timeout, "the lock is taken"}));
        });
    });
    return set.has_value();
}

void Global::del_lock(const Term& resource, const Term& requester,
                      const std::vector<Atom>& nodes) const {
    (void)wait([&](Done done) {
        auto registrar = server_->registrar();
        if (!registrar) return done(unexpected(stopped()));
        registrar->del_lock(tuple(resource, requester), nodes, [done] { done({}); });
    });
}

}  // namespace distribute
