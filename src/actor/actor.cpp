// Actors: the gen_server loop (gen_server.erl's decode_msg and handle_msg) over a handler
// process. init runs on the starter's thread behind a StartGate; each message is then
// dispatched to a callback and the callback's result applied, as gen_server applies
// {reply, ...}, {noreply, ...} and {stop, ...}.
#include <deque>
#include <stdexcept>
#include <unordered_map>

#include "actor/process_start.hpp"
#include "actor/start_gate.hpp"
#include "actor/sys_debug.hpp"
#include "actor/sys_state_reply.hpp"
#include "actor/system_message.hpp"
#include "distribute/actor.hpp"
#include "node/access.hpp"
#include "node/identity_hash.hpp"
#include "otp/call_engine.hpp"

namespace distribute {

namespace {

template <class... F>
struct Overloaded : F... {
    using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

node::Runtime& runtime_of(const ProcessHandle& h) {
    return node::Access::process(h).runtime;
}

Atom atom(const char* name) {
    return Atom::make(name).value();
}

// {error, {callback_failed, {gen_server, Callback}, {error, Reason}}}: sys's reply when the
// state callback of a gen_server fails, which is what a C++ hook's refusal or exception is.
Term callback_failed(const char* callback, const Term& reason) {
    static const Atom callback_failed = atom("callback_failed");
    static const Atom gen_server = atom("gen_server");
    return tuple(atoms::error, tuple(callback_failed, tuple(gen_server, atom(callback)),
                                     tuple(atoms::error, reason)));
}

}  // namespace

// Friend of Actor: sets self() around each callback and turns exceptions into exit reasons.
class ActorRunner {
  public:
    ActorRunner(std::unique_ptr<Actor> actor, ActorOptions options, Reference token)
        : actor_(std::move(actor)),
          parent_(options.link_to),
          name_(options.name),
          state_replies_(options.sys_state_replies) {
        gate.set_token(token);
    }

    InitResult init(const ProcessHandle& self) {
        actor_->runner_ = this;
        auto result = guarded(self, [&] { return actor_->init(); });
        if (!result) {
            log_crash(self, "init", result.error());
            return Stop{result.error(), std::nullopt};
        }
        return *result;
    }

    void handle(const ProcessHandle& self, Term message) {
        gate.pass(std::move(message), [&](Term m) { return dispatch(self, std::move(m)); });
    }

    void call_async(const ProcessHandle& self, const ServerRef& server, Term request,
                    std::chrono::milliseconds timeout, Actor::CallDone done) {
        RequestId id = send_request(self, server, std::move(request));
        Timer timer;
        if (timeout != infinity_timeout)
            timer = send_after(self, timeout, tuple(call_timeout_atom(), id.ref()));
        Reference ref = id.ref();
        calls_.emplace(std::move(ref), PendingCall{std::move(id), std::move(done), timer});
    }

    actor_detail::StartGate gate;

  private:
    // Runs one callback with self() set; an exception becomes its exit reason.
    template <class F>
    auto guarded(const ProcessHandle& self, F&& callback) -> Expected<decltype(callback()), Term> {
        actor_->self_ = &self;
        try {
            auto result = callback();
            actor_->self_ = nullptr;
            return result;
        } catch (const std::exception& e) {
            actor_->self_ = nullptr;
            return unexpected(actor_detail::exception_reason(e.what()));
        } catch (...) {
            actor_->self_ = nullptr;
            return unexpected(actor_detail::exception_reason("an exception of unknown type"));
        }
    }

    // One message; false once the actor has ended. System messages and the parent's 'EXIT' are
    // handled even while suspended (sys's suspend_loop); the others wait for resume.
    bool dispatch(const ProcessHandle& self, Term message) {
        if (done_) return false;
        if (auto sys = actor_detail::system_message(self, message)) return system(self, *sys);
        // A get_state reply that waited for the caller's release goes out even while suspended.
        if (state_replies_.answer(self, message)) return true;
        // Only a trapping actor sees 'EXIT' messages; its parent's ends it, as gen_server.
        if (parent_ && message.is_tuple(3) && message[0].is_atom(atoms::EXIT) &&
            message[1] == Term(*parent_)) {
            finish(self, message[2]);
            return false;
        }
        if (suspended_) {
            held_.push_back(std::move(message));
            return true;
        }
        return handle_message(self, std::move(message));
    }

    // A message that is neither a system message nor the parent's exit, as gen_server's
    // handle_msg takes it; with sys's debug options on, its events are reported.
    bool handle_message(const ProcessHandle& self, Term message) {
        static const Atom in = atom("in");
        if (debug_.active()) debug_.event(self, label(self), tuple(in, message));
        if (!calls_.empty())
            if (auto answered = answer_of_call(self, message)) return *answered;
        if (auto call = parse_gen_call(message)) {
            From from(self, call->caller, call->tag);
            auto result = guarded(self, [&] { return actor_->handle_call(call->request, from); });
            if (!result) {
                log_crash(self, "handle_call", result.error());
                finish(self, result.error());
                return false;
            }
            std::visit(Overloaded{
                           [&](Reply& r) {
                               from.reply(r.value);
                               if (debug_.active())
                                   debug_.event(self, label(self), out_event(self, r.value, from));
                           },
                           [&](NoReply&) { noreply_event(self); },
                           [&](Stop& s) { finish(self, s.reason, &from, s.reply); },
                       },
                       *result);
            return !done_;
        }
        if (message.is_tuple(2) && message[0].is_atom(atoms::gen_cast))
            return apply(self, "handle_cast", [&] { return actor_->handle_cast(message[1]); });
        return apply(self, "handle_info", [&] { return actor_->handle_info(message); });
    }

    static const Atom& call_timeout_atom() {
        static const Atom a = Atom::make("$distribute_call_timeout").value();
        return a;
    }

    // A message about a call_async: its answer, or its timer. nullopt for other messages;
    // otherwise whether the actor goes on.
    std::optional<bool> answer_of_call(const ProcessHandle& self, const Term& message) {
        const bool timer = message.is_tuple(2) && message[0].is_atom(call_timeout_atom());
        auto ref = timer ? message[1].to<Reference>() : otp::answered(message);
        if (!ref) return std::nullopt;
        auto it = calls_.find(*ref);
        if (it == calls_.end()) {
            if (timer) return true;  // the answer won the race: nothing left to do
            return std::nullopt;
        }
        PendingCall call = std::move(it->second);
        calls_.erase(it);
        Expected<Term, CallError> answer = unexpected(otp::timeout_error());
        if (!timer) {
            call.timer.cancel();
            answer = otp::outcome(self, call.id, message);
        } else if (auto late = otp::abandon(self, call.id)) {
            answer = otp::outcome(self, call.id, *late);
        }
        return apply(self, "a call_async callback", [&] { return call.done(std::move(answer)); });
    }

    template <class F>
    bool apply(const ProcessHandle& self, const char* which, F&& callback) {
        auto result = guarded(self, callback);
        if (!result) {
            log_crash(self, which, result.error());
            finish(self, result.error());
            return false;
        }
        if (auto stop = std::get_if<Stop>(&*result))
            finish(self, stop->reason);
        else
            noreply_event(self);
        return !done_;
    }

    // sys's protocol (OTP 25, sys.erl's do_cmd, with gen_server's callbacks behind it). Hooks
    // that throw or refuse are answered as sys answers a failed callback: the actor goes on.
    bool system(const ProcessHandle& self, const actor_detail::SystemMessage& sys) {
        static const Atom terminate = atom("terminate");
        static const Atom suspend = atom("suspend");
        static const Atom resume = atom("resume");
        static const Atom get_state = atom("get_state");
        static const Atom replace_state = atom("replace_state");
        static const Atom get_status = atom("get_status");
        static const Atom debug = atom("debug");
        static const Atom change_code = atom("change_code");
        if (!sys.from) return true;
        const Term& request = sys.request;
        if (auto t = request.tagged<Term>(terminate)) {
            sys.from.reply(Term(atoms::ok));
            finish(self, std::get<0>(*t));
            return false;
        }
        if (request.is_atom(suspend) || request.is_atom(resume)) {
            suspended_ = request.is_atom(suspend);
            sys.from.reply(Term(atoms::ok));
            return suspended_ || release_held(self);
        }
        if (request.is_atom(get_state)) {
            auto state = guarded(self, [&] { return actor_->state(); });
            if (!state)
                sys.from.reply(callback_failed("system_get_state", state.error()));
            else if (!*state)
                sys.from.reply(
                    callback_failed("system_get_state", Term(atom("state_not_exposed"))));
            else
                state_replies_.reply(self, sys.from, **state);
            return true;
        }
        if (auto r = request.tagged<Term>(replace_state)) {
            auto replaced = guarded(self, [&] { return actor_->replace_state(std::get<0>(*r)); });
            const Term reason = !replaced    ? replaced.error()
                                : !*replaced ? replaced->error().reason
                                             : Term();
            if (!replaced || !*replaced)
                sys.from.reply(callback_failed("system_replace_state", reason));
            else
                state_replies_.reply(self, sys.from, **replaced);
            return true;
        }
        if (request.is_atom(get_status)) {
            sys.from.reply(status(self));
            return true;
        }
        if (auto d = request.tagged<Term>(debug)) {
            sys.from.reply(debug_.command(self, label(self), std::get<0>(*d)));
            return true;
        }
        if (auto c = request.tagged<Term, Term, Term>(change_code); c && suspended_) {
            const auto& [module, old_vsn, extra] = *c;
            (void)module;
            auto changed = guarded(self, [&] { return actor_->code_change(old_vsn, extra); });
            if (!changed)
                sys.from.reply(tuple(atoms::error, changed.error()));
            else if (!*changed)
                sys.from.reply(tuple(atoms::error, changed->error().reason));
            else
                sys.from.reply(Term(atoms::ok));
            return true;
        }
        sys.from.reply(actor_detail::unknown_system_msg(request));
        return true;
    }

    // After resume: what came while suspended, in the order it came.
    bool release_held(const ProcessHandle& self) {
        while (!held_.empty() && !suspended_) {
            Term next = std::move(held_.front());
            held_.pop_front();
            if (!handle_message(self, std::move(next))) return false;
        }
        return true;
    }

    // sys:get_status/1 as a gen_server answers it: {status, Pid, {module, gen_server},
    // [PDict, SysState, Parent, Debug, [{header, H}, {data, [...]}, {data, [{"State", S}]}]]}.
    Term status(const ProcessHandle& self) {
        static const Atom status = atom("status");
        static const Atom module = atom("module");
        static const Atom gen_server = atom("gen_server");
        static const Atom header = atom("header");
        static const Atom data = atom("data");
        const Term sys_state(atom(suspended_ ? "suspended" : "running"));
        const Term parent(parent_ ? *parent_ : self.pid());
        const std::string who = name_ ? std::string(name_->name()) : to_string(Term(self.pid()));
        auto text = [](const std::string& s) { return charlist(s).value_or(binary(s)); };
        const Term misc =
            list(tuple(header, text("Status for generic server " + who)),
                 tuple(data, list(tuple(text("Status"), sys_state), tuple(text("Parent"), parent),
                                  tuple(text("Logged events"), debug_.logged_events()))),
                 tuple(data, list(tuple(text("State"), shown_state(self)))));
        return tuple(status, self.pid(), tuple(module, gen_server),
                     list(Term(), sys_state, parent, debug_.options(), misc));
    }

    // The state as format_status shows it; a hook that throws shows its exception instead.
    Term shown_state(const ProcessHandle& self) {
        auto shown = guarded(self, [&] { return actor_->format_status(actor_->state()); });
        return shown ? *shown : shown.error();
    }

    Term out_event(const ProcessHandle& self, const Term& reply, const From& from) {
        static const Atom out = atom("out");
        return tuple(out, reply, from.to_term(), shown_state(self));
    }

    void noreply_event(const ProcessHandle& self) {
        static const Atom noreply = atom("noreply");
        if (debug_.active() && !done_)
            debug_.event(self, label(self), tuple(noreply, shown_state(self)));
    }

    std::string label(const ProcessHandle& self) const {
        return name_ ? to_string(Term(*name_)) : to_string(Term(self.pid()));
    }

    // gen_server's terminate: the callback, then the pending reply, then the exit.
    void finish(const ProcessHandle& self, Term reason, const From* from = nullptr,
                const std::optional<Term>& reply = std::nullopt) {
        done_ = true;
        Term final_reason = reason;
        auto ended = guarded(self, [&] {
            actor_->terminate(reason);
            return true;
        });
        if (!ended) {
            log_crash(self, "terminate", ended.error());
            final_reason = ended.error();
        }
        if (from && reply) from->reply(*reply);
        if (!actor_detail::clean_exit(final_reason))
            runtime_of(self).log(LogLevel::error, "actor " +
                                                      actor_detail::describe(self.pid(), name_) +
                                                      " terminated: " + to_string(final_reason));
        actor_.reset();
        self.exit_self(std::move(final_reason));
    }

    void log_crash(const ProcessHandle& self, const char* where, const Term& reason) const {
        runtime_of(self).log(LogLevel::error, "actor " + actor_detail::describe(self.pid(), name_) +
                                                  " threw in " + where + ": " + to_string(reason));
    }

    struct PendingCall {
        RequestId id;
        Actor::CallDone done;
        Timer timer;
    };

    std::unique_ptr<Actor> actor_;
    std::unordered_map<Reference, PendingCall, node::ReferenceHash> calls_;
    std::optional<Pid> parent_;
    std::optional<Atom> name_;
    actor_detail::StateReplies state_replies_;
    bool done_ = false;
    actor_detail::SysDebug debug_;
    bool suspended_ = false;
    std::deque<Term> held_;  // what came while suspended
};

// ---------------------------------------------------------------------------------------------
// Default callbacks

void Actor::call_async(const ServerRef& server, Term request, std::chrono::milliseconds timeout,
                       CallDone done) {
    runner_->call_async(self(), server, std::move(request), timeout, std::move(done));
}

CallResult Actor::handle_call(const Term& request, From) {
    static const Atom bad_call = Atom::make("bad_call").value();
    return Stop{tuple(bad_call, request), std::nullopt};
}

HandleResult Actor::handle_cast(const Term& message) {
    static const Atom bad_cast = Atom::make("bad_cast").value();
    return Stop{tuple(bad_cast, message), std::nullopt};
}

Expected<Term, SysError> Actor::replace_state(const Term& state_fun) {
    (void)state_fun;
    return unexpected(SysError{SysErrc::not_supported, Term(atom("replace_state_not_supported")),
                               "this actor does not override replace_state"});
}

HandleResult Actor::handle_info(const Term& message) {
    runtime_of(self()).log(LogLevel::warning,
                           "actor " + to_string(Term(self().pid())) +
                               " ignored an unexpected message: " + to_string(message));
    return NoReply{};
}

// ---------------------------------------------------------------------------------------------
// Starting

namespace {

Expected<ProcessHandle, StartError> start(node::Runtime& runtime, std::unique_ptr<Actor> actor,
                                          ActorOptions options) {
    if (!actor) throw std::invalid_argument("spawn_actor: no actor");
    auto runner = std::make_shared<ActorRunner>(std::move(actor), options, runtime.make_ref());
    auto spawned = actor_detail::spawn_linked(
        runtime,
        [runner](const ProcessHandle& self, Term m) { runner->handle(self, std::move(m)); },
        options.trap_exit, options.link_to, options.name);
    if (!spawned) return spawned;
    const ProcessHandle& self = *spawned;
    InitResult result = runner->init(self);
    if (auto stop = std::get_if<Stop>(&result)) {
        actor_detail::abandon(self, options.name, stop->reason);
        return unexpected(StartError{StartErrc::init_failed, stop->reason});
    }
    if (std::holds_alternative<Ignore>(result)) {
        actor_detail::abandon(self, options.name, Term(atoms::normal));
        return unexpected(StartError{StartErrc::ignored, Term(Atom::make("ignore").value())});
    }
    // Killed while init ran (by its parent, say): it never started.
    if (!self.alive())
        return unexpected(StartError{StartErrc::init_failed, actor_detail::exit_reason(self)});
    runner->gate.open(self);
    return spawned;
}

const char* message_of(StartErrc e) noexcept {
    switch (e) {
        case StartErrc::init_failed:
            return "init failed";
        case StartErrc::ignored:
            return "init chose not to start";
        case StartErrc::name_taken:
            return "the name is registered already";
        case StartErrc::not_running:
            return "the node is not running";
        case StartErrc::bad_options:
            return "bad options";
    }
    return nullptr;
}

}  // namespace

const std::error_category& start_category() noexcept {
    static const ErrorCategory<StartErrc> category("distribute.start", message_of);
    return category;
}

std::error_code make_error_code(StartErrc e) noexcept {
    return {static_cast<int>(e), start_category()};
}

Expected<ProcessHandle, StartError> spawn_actor(Node& node, std::unique_ptr<Actor> actor,
                                                ActorOptions options) {
    return start(node::Access::runtime(node), std::move(actor), std::move(options));
}

Expected<ProcessHandle, StartError> spawn_actor(const ProcessHandle& on_node_of,
                                                std::unique_ptr<Actor> actor,
                                                ActorOptions options) {
    return start(runtime_of(on_node_of), std::move(actor), std::move(options));
}

}  // namespace distribute
