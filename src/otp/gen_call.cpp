// gen_server calls and casts from C++, as gen.erl's do_call makes them (OTP 24 on): a monitor on
// the server, the request tagged with an alias, and a selective receive on the reply or the
// monitor's DOWN.
#include <string>

#include "distribute/rpc.hpp"
#include "node/access.hpp"
#include "otp/global_server.hpp"
#include "otp/membership.hpp"
#include "otp/rpc_shapes.hpp"

namespace distribute {

namespace {

class CallCategory : public std::error_category {
  public:
    const char* name() const noexcept override { return "distribute.call"; }
    std::string message(int code) const override {
        switch (static_cast<CallErrc>(code)) {
            case CallErrc::timeout:
                return "no reply in time";
            case CallErrc::noproc:
                return "no such process";
            case CallErrc::nodedown:
                return "the server's node is down";
            case CallErrc::exited:
                return "the server exited during the call";
        }
        return "unknown call error";
    }
};

// A DOWN still on its way when demonitor() came too late is close behind: the thread that took
// the monitor delivers it right after. This bounds the wait in case of a bug, nothing more.
constexpr std::chrono::milliseconds down_in_flight{2000};

// A {global, Name} server as the pid global has for it now.
std::optional<ServerRef> resolve_global(const ProcessHandle& self, const ServerRef& server) {
    auto& runtime = node::Access::process(self).runtime;
    auto global = runtime.services() ? otp::Membership::of(runtime).global() : nullptr;
    auto pid = global ? global->whereis(*server.global_name) : std::nullopt;
    if (!pid) return std::nullopt;
    return ServerRef(*pid);
}

void send_to(const ProcessHandle& self, const ServerRef& server, Term message) {
    if (server.global_name) {
        if (auto found = resolve_global(self, server)) send_to(self, *found, std::move(message));
        return;
    }
    if (server.pid)
        self.send(*server.pid, std::move(message));
    else
        self.send(server.name, server.node.value_or(self.node_name()), std::move(message));
}

}  // namespace

const std::error_category& call_category() noexcept {
    static const CallCategory category;
    return category;
}

std::error_code make_error_code(CallErrc e) noexcept {
    return {static_cast<int>(e), call_category()};
}

ServerRef ServerRef::global(Term name) {
    ServerRef server{Atom()};
    server.global_name = std::move(name);
    return server;
}

std::optional<ServerRef> ServerRef::from_term(const Term& term) {
    static const Atom global_tag = Atom::make("global").value();
    if (auto pid = term.to<Pid>()) return ServerRef(*pid);
    if (term.is_tuple(2) && term[0].is_atom(global_tag)) return ServerRef::global(term[1]);
    if (auto name = term.to<Atom>()) return ServerRef(*name);
    if (auto named = term.unpack<Atom, Atom>())
        return ServerRef(std::get<0>(*named), std::get<1>(*named));
    return std::nullopt;
}

Expected<Term, CallError> call(Mailbox& self, const ServerRef& server, Term request,
                               std::chrono::milliseconds timeout) {
    static const Atom calling_self = Atom::make("calling_self").value();
    if (server.global_name) {
        auto found = resolve_global(self, server);
        if (!found)
            return unexpected(CallError{
                CallErrc::noproc, Term(atoms::noproc),
                "no process is registered globally as " + to_string(*server.global_name)});
        return call(self, *found, std::move(request), timeout);
    }
    if (server.pid && *server.pid == self.pid())
        return unexpected(
            CallError{CallErrc::exited, Term(calling_self), "a process cannot call itself"});
    const Atom node = server.pid ? server.pid->node : server.node.value_or(self.node_name());
    // The monitor first: a server that is missing or dies says so before any timeout.
    const Reference monitor =
        server.pid ? self.monitor(*server.pid) : self.monitor(server.name, node);
    const Reference alias = self.alias();
    const Term alias_head[] = {Term(atoms::alias)};
    const Term tag = list_from(alias_head, Term(alias));  // [alias | Alias]
    send_to(self, server, tuple(atoms::gen_call, tuple(self.pid(), tag), std::move(request)));

    const Term monitor_term(monitor);
    auto is_reply = [&](const Term& m) { return m.is_tuple(2) && m[0] == tag; };
    auto is_down = [&](const Term& m) {
        return m.is_tuple(5) && m[0].is_atom(atoms::DOWN) && m[1] == monitor_term;
    };
    // Alias first, so no reply gets in after this; then the monitor, with any DOWN it already
    // queued, as demonitor(Mref, [flush]) does.
    auto finish = [&] {
        self.unalias(alias);
        if (!self.demonitor(monitor)) (void)self.receive_if(is_down, down_in_flight);
    };

    auto got = self.receive_if([&](const Term& m) { return is_reply(m) || is_down(m); }, timeout);
    if (got && is_reply(*got)) {
        finish();
        return (*got)[1];
    }
    if (got) {
        self.unalias(alias);
        return unexpected(otp::call_down_error((*got)[4], node));
    }
    if (got.error().code == ReceiveErrc::exited)
        return unexpected(CallError{CallErrc::exited, got.error().reason,
                                    "the calling process ended: " + to_string(got.error().reason)});
    finish();
    // As gen.erl: a reply that made it in before the alias went still counts.
    if (auto late = self.receive_if(is_reply, std::chrono::milliseconds(0))) return (*late)[1];
    return unexpected(CallError{CallErrc::timeout, Term(atoms::timeout), "no reply in time"});
}

Expected<Term, CallError> call(Node& node, const ServerRef& server, Term request,
                               std::chrono::milliseconds timeout) {
    Mailbox self = node.open_mailbox();
    return call(self, server, std::move(request), timeout);
}

void cast(const ProcessHandle& self, const ServerRef& server, Term request) {
    send_to(self, server, tuple(atoms::gen_cast, std::move(request)));
}

}  // namespace distribute
