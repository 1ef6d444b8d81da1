// Actors: the gen_server loop (gen_server.erl's decode_msg and handle_msg) over a handler
// process. init runs on the starter's thread behind a StartGate; each message is then
// dispatched to a callback and the callback's result applied, as gen_server applies
// {reply, ...}, {noreply, ...} and {stop, ...}.
#include <cxxabi.h>

#include <cstdlib>
#include <stdexcept>
#include <typeinfo>
#include <unordered_map>

#include "actor/process_start.hpp"
#include "actor/start_gate.hpp"
#include "actor/sys_debug.hpp"
#include "actor/sys_state_reply.hpp"
#include "actor/sys_status.hpp"
#include "actor/system_message.hpp"
#include "distribute/actor.hpp"
#include "node/access.hpp"
#include "node/identity_hash.hpp"
#include "node/message_queue.hpp"
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
        if (auto ready = std::get_if<Ready>(&*result)) after_init_ = std::move(ready->then);
        return *result;
    }

    void handle(const ProcessHandle& self, Term message) {
        gate.pass(
            std::move(message), [&] { return follow(self, std::move(after_init_)); },
            [&](Term m) { return dispatch(self, std::move(m)); });
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
        if (hibernating_) wake(self);
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
            held_.push(std::move(message));
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
            return std::visit(Overloaded{
                                  [&](Reply& r) {
                                      from.reply(r.value);
                                      if (debug_.active())
                                          debug_.event(self, label(self),
                                                       out_event(self, r.value, from));
                                      return follow(self, std::move(r.then));
                                  },
                                  [&](NoReply& n) {
                                      noreply_event(self);
                                      return follow(self, std::move(n.then));
                                  },
                                  [&](Stop& s) {
                                      finish(self, s.reason, &from, s.reply);
                                      return false;
                                  },
                              },
                              *result);
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
        auto then = applied(self, which, guarded(self, callback));
        return then && follow(self, std::move(*then));
    }

    // A handle_cast/info/continue result applied: what it asks for next, or nullopt once the
    // actor has ended (Stop, or the callback threw).
    std::optional<Then> applied(const ProcessHandle& self, const char* which,
                                Expected<HandleResult, Term> result) {
        if (!result) {
            log_crash(self, which, result.error());
            finish(self, result.error());
            return std::nullopt;
        }
        if (auto stop = std::get_if<Stop>(&*result)) {
            finish(self, stop->reason);
            return std::nullopt;
        }
        noreply_event(self);
        return std::move(std::get<NoReply>(*result).then);
    }

    // What a callback asked for after it, done before the next message is taken, as
    // gen_server's loop does: each Continue's handle_continue (which may ask for another), then
    // hibernation. False once the actor has ended.
    bool follow(const ProcessHandle& self, Then then) {
        while (auto next = std::get_if<Continue>(&then)) {
            const Term continuation = std::move(next->term);
            auto result =
                applied(self, "handle_continue",
                        guarded(self, [&] { return actor_->handle_continue(continuation); }));
            if (!result) return false;
            then = std::move(*result);
        }
        if (std::holds_alternative<Hibernate>(then)) hibernate(self);
        return true;
    }

    // erlang:hibernate's counterpart: the bookkeeping tables give back their memory. A process's
    // message queues are lists that hold nothing when empty, so there is nothing to shrink there.
    void hibernate(const ProcessHandle& self) {
        const std::size_t before = table_bytes();
        if (calls_.empty())
            decltype(calls_)().swap(calls_);
        else
            calls_.rehash(0);
        const std::size_t after = table_bytes();
        hibernating_ = true;
        describe(self, [&](node::Description& d) {
            d.hibernating = true;
            ++d.hibernations;
            d.bytes_returned += before > after ? before - after : 0;
        });
    }

    void wake(const ProcessHandle& self) {
        hibernating_ = false;
        describe(self, [](node::Description& d) { d.hibernating = false; });
    }

    // Changes what tools read of the process (its description), under the process's lock.
    template <class F>
    static void describe(const ProcessHandle& self, F&& change) {
        auto& process = node::Access::process(self);
        std::lock_guard lock(process.mutex);
        if (!process.description) process.description = std::make_unique<node::Description>();
        change(*process.description);
    }

    // What the call table's bucket array holds (its entries are freed as calls end).
    std::size_t table_bytes() const { return calls_.bucket_count() * sizeof(void*); }

    // sys's protocol (OTP 25, sys.erl's do_cmd, with gen_server's callbacks behind it). Hooks
    // that throw or refuse are answered as sys answers a failed callback: the actor goes on.
    bool system(const ProcessHandle& self, const actor_detail::SystemMessage& sys) {
        using actor_detail::SysRequest;
        if (!sys.from) return true;
        switch (sys.kind) {
            case SysRequest::terminate:
                sys.from.reply(Term(atoms::ok));
                finish(self, sys.arg);
                return false;
            case SysRequest::suspend:
            case SysRequest::resume:
                suspended_ = sys.kind == SysRequest::suspend;
                sys.from.reply(Term(atoms::ok));
                return suspended_ || release_held(self);
            case SysRequest::get_state: {
                auto state = guarded(self, [&] { return actor_->state(); });
                if (!state)
                    sys.from.reply(
                        actor_detail::callback_failed("system_get_state", state.error()));
                else if (!*state)
                    sys.from.reply(actor_detail::callback_failed("system_get_state",
                                                                 Term(atom("state_not_exposed"))));
                else
                    state_replies_.reply(self, sys.from, **state);
                return true;
            }
            case SysRequest::replace_state: {
                auto replaced = guarded(self, [&] { return actor_->replace_state(sys.arg); });
                const Term reason = !replaced    ? replaced.error()
                                    : !*replaced ? replaced->error().reason
                                                 : Term();
                if (!replaced || !*replaced)
                    sys.from.reply(actor_detail::callback_failed("system_replace_state", reason));
                else
                    state_replies_.reply(self, sys.from, **replaced);
                return true;
            }
            case SysRequest::get_status:
                sys.from.reply(status(self));
                return true;
            case SysRequest::debug:
                sys.from.reply(debug_.command(self, label(self), sys.arg));
                return true;
            case SysRequest::change_code: {
                if (!suspended_) break;
                auto changed =
                    guarded(self, [&] { return actor_->code_change(sys.arg, sys.extra); });
                if (!changed)
                    sys.from.reply(tuple(atoms::error, changed.error()));
                else if (!*changed)
                    sys.from.reply(tuple(atoms::error, changed->error().reason));
                else
                    sys.from.reply(Term(atoms::ok));
                return true;
            }
            case SysRequest::unknown:
                break;
        }
        sys.from.reply(actor_detail::unknown_system_msg(sys.request));
        return true;
    }

    // After resume: what came while suspended, in the order it came.
    bool release_held(const ProcessHandle& self) {
        while (!held_.empty() && !suspended_) {
            Term next = held_.pop();
            if (!handle_message(self, std::move(next))) return false;
        }
        return true;
    }

    // sys:get_status/1 as a gen_server answers it.
    Term status(const ProcessHandle& self) {
        const std::string who = name_ ? std::string(name_->name()) : to_string(Term(self.pid()));
        return actor_detail::gen_server_status(self, who, suspended_,
                                               Term(parent_ ? *parent_ : self.pid()), debug_,
                                               shown_state(self));
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
    node::MessageQueue held_;  // what came while suspended (a list: nothing held when empty)
    bool hibernating_ = false;
    Then after_init_;  // what init's Ready asked for, done when the gate opens
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

HandleResult Actor::handle_continue(const Term& continuation) {
    static const Atom bad_continue = Atom::make("bad_continue").value();
    return Stop{tuple(bad_continue, continuation), std::nullopt};
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

// '$initial_call' of an actor: {Type, init, 1}, Type its class as the compiler names it.
Term initial_call(const Actor& actor) {
    static const Atom init = Atom::make("init").value();
    const char* mangled = typeid(actor).name();
    int status = 0;
    char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
    std::string type = status == 0 && demangled ? demangled : mangled;
    std::free(demangled);
    if (type.size() > 255) type.resize(255);  // an atom's limit, in characters
    auto name = Atom::make(type);
    return tuple(name ? Term(*name) : Term(init), init, 1);
}

Expected<ProcessHandle, StartError> start(node::Runtime& runtime, std::unique_ptr<Actor> actor,
                                          ActorOptions options, std::optional<Pid> spawner) {
    static const Atom killed = Atom::make("killed").value();
    if (!actor) throw std::invalid_argument("spawn_actor: no actor");
    const auto started_at = std::chrono::steady_clock::now();
    const Term initial = initial_call(*actor);
    auto runner = std::make_shared<ActorRunner>(std::move(actor), options, runtime.make_ref());
    auto spawned = actor_detail::spawn_linked(
        runtime,
        [runner](const ProcessHandle& self, Term m) { runner->handle(self, std::move(m)); },
        {.trap_exit = options.trap_exit,
         .link_to = options.link_to,
         .name = options.name,
         .spawner = spawner,
         .initial_call = initial});
    if (!spawned) return spawned;
    const ProcessHandle& self = *spawned;
    actor_detail::describe_actor(self, initial);
    InitResult result = runner->init(self);
    // proc_lib's timeout: the parent is unlinked first, so that only the starter learns of it.
    if (options.start_timeout != infinity_timeout &&
        std::chrono::steady_clock::now() - started_at > options.start_timeout) {
        if (options.link_to) self.unlink(*options.link_to);
        actor_detail::abandon(self, options.name, Term(killed));
        return unexpected(StartError{StartErrc::timeout, Term(atoms::timeout)});
    }
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
        case StartErrc::timeout:
            return "init did not finish within the start timeout";
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
    return start(node::Access::runtime(node), std::move(actor), std::move(options), std::nullopt);
}

Expected<ProcessHandle, StartError> spawn_actor(const ProcessHandle& on_node_of,
                                                std::unique_ptr<Actor> actor,
                                                ActorOptions options) {
    return start(runtime_of(on_node_of), std::move(actor), std::move(options), on_node_of.pid());
}

std::optional<ActorInfo> actor_info(Node& node, const Pid& process) {
    static const Atom initial_call = Atom::make("$initial_call").value();
    auto found = node::Access::runtime(node).find(process);
    if (!found || !found->alive) return std::nullopt;
    std::lock_guard lock(found->mutex);
    const auto* d = found->description.get();
    bool started = false;
    if (d)
        for (const auto& entry : d->dictionary)
            started = started || entry.first.is_atom(initial_call);
    if (!started) return std::nullopt;
    return ActorInfo{actor_detail::dictionary_of(*found), d->hibernating, d->hibernations,
                     d->bytes_returned};
}

}  // namespace distribute
