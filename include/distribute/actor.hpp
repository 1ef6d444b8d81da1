// Actors with gen_server semantics: a C++ object whose callbacks run on the node's threads, one
// message at a time, and that Erlang and Elixir call with gen_server:call/cast and
// GenServer.call/cast as they would one of their own servers.
//
//   class Counter : public Actor {
//       std::int64_t n = 0;
//       CallResult handle_call(const Term& request, From) override {
//           if (request.is_atom("next"_a)) return Reply{Term(++n)};
//           return Stop{tuple("bad_call"_a, request), Term("error"_a)};
//       }
//   };
//   auto counter = spawn_actor(node, std::make_unique<Counter>(), {.name = "counter"_a});
//   %% erl: gen_server:call({counter, 'cpp@host'}, next) -> 1
//
// What arrives is dispatched as gen_server does it: {'$gen_call', {Pid, Tag}, Request} to
// handle_call, {'$gen_cast', Msg} to handle_cast, {'EXIT', Parent, Reason} (when trapping exits)
// ends the actor, {system, From, {terminate, Reason}} (sys:terminate, gen_server:stop) ends it,
// anything else goes to handle_info. The rest of sys's protocol is served too (get_state,
// get_status, suspend/resume, trace, log, statistics, change_code: docs/actor.md). Results are
// values (Reply, NoReply, Stop), not exceptions; an exception out of a callback ends the actor with
// {cpp_exception, <<"what()">>}, after terminate. A result may ask for handle_continue to run
// before the next message (Continue) or for the actor to hibernate (Hibernate), as gen_server's.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <variant>

#include "distribute/call.hpp"
#include "distribute/error.hpp"
#include "distribute/expected.hpp"
#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"
#include "distribute/rpc.hpp"
#include "distribute/term.hpp"

namespace distribute {

namespace node {
class Process;
}
class ActorRunner;

// ---------------------------------------------------------------------------------------------
// Who called: the caller's pid and the tag its reply must carry

// The From of gen_server's handle_call/3: copyable, kept for as long as needed, and reply() may
// be called later from any thread. Replies go where gen:reply/2 sends them: to the alias when the
// tag is [alias | Alias] (what OTP 24+ sends, so that a reply after the caller gave up is dropped
// instead of landing in its mailbox), else to the caller's pid.
class From {
  public:
    From() = default;
    // `server` is the process the reply is sent from (the actor that was called).
    From(const ProcessHandle& server, Pid caller, Term tag);

    const Pid& caller() const { return caller_; }
    const Term& tag() const { return tag_; }
    // The alias of an [alias | Alias] tag, when the tag is one.
    std::optional<Reference> alias() const;
    // {Pid, Tag}, as Erlang code sees it.
    Term to_term() const;
    explicit operator bool() const { return set_; }

    // Sends {Tag, Reply}. Does nothing for a default-constructed From; dropped, as any message
    // to a process that is gone, when the server's process object no longer exists.
    void reply(const Term& reply) const;

  private:
    // Weak: an actor that keeps a From for a later reply must not keep its own process alive.
    std::weak_ptr<node::Process> server_;
    Pid caller_;
    Term tag_;
    bool set_ = false;
};

// ---------------------------------------------------------------------------------------------
// Results of the callbacks

// What the actor does after a callback, before it takes another message: gen_server's last
// element of {ok, S, _}, {reply, R, S, _} and {noreply, S, _}. Nothing (the default), or:
struct Continue {  // handle_continue(term) runs next, before any message that is waiting
    Term term;
};
struct Hibernate {};  // give back what the actor's bookkeeping holds until the next message
using Then = std::variant<std::monostate, Continue, Hibernate>;

struct Ready {  // init: start handling messages
    Then then{};
};
struct Ignore {};  // init: do not start (spawn_actor reports StartErrc::ignored)
struct Reply {     // handle_call: answer now
    Term value;
    Then then{};
};
struct NoReply {  // no answer now (handle_call: reply later through the From, or never)
    Then then{};
};
struct Stop {  // end the actor with `reason` (after terminate)
    Term reason = Term(atoms::normal);
    std::optional<Term> reply;  // handle_call: the answer, sent after terminate has run
};

using InitResult = std::variant<Ready, Ignore, Stop>;
using CallResult = std::variant<Reply, NoReply, Stop>;
using HandleResult = std::variant<NoReply, Stop>;

// ---------------------------------------------------------------------------------------------
// The actor

// Why a sys hook (Actor::replace_state, Actor::code_change) refused. The sys caller sees only
// `reason`, as it would see a gen_server callback's: sys:replace_state raises
// {callback_failed, {gen_server, system_replace_state}, {error, Reason}}, sys:change_code returns
// {error, Reason}.
enum class SysErrc {
    not_supported = 1,  // the actor has no such hook (Actor's default replace_state)
    refused,            // the hook looked at the request and said no
};
const std::error_category& sys_category() noexcept;
std::error_code make_error_code(SysErrc e) noexcept;

struct SysError {
    SysErrc code{};
    Term reason;         // what the sys caller sees
    std::string detail;  // for C++ callers and logs; never sent
};

// What a hook returns to refuse: `return sys_refused(Term("not_a_closure"_a));`.
[[nodiscard]] inline Unexpected<SysError> sys_refused(Term reason, std::string detail = {}) {
    return unexpected(SysError{SysErrc::refused, std::move(reason), std::move(detail)});
}

class Actor {
  public:
    virtual ~Actor() = default;

    // Runs on the thread that calls spawn_actor, before any message is handled; messages that
    // arrive meanwhile wait. Stop{reason} makes spawn_actor fail with that reason.
    virtual InitResult init() { return Ready{}; }
    // The default, as Elixir's GenServer: the actor stops with {bad_call, Request}.
    virtual CallResult handle_call(const Term& request, From from);
    // The default stops with {bad_cast, Message}.
    virtual HandleResult handle_cast(const Term& message);
    // Everything that is neither a call nor a cast: plain messages, 'DOWN's, and 'EXIT's of
    // linked processes other than the parent when trapping exits. The default logs and ignores.
    virtual HandleResult handle_info(const Term& message);
    // Runs right after the callback that returned Continue{term} (init included: after
    // spawn_actor has returned, before any message), as gen_server's handle_continue. The
    // default stops with {bad_continue, Term}: a Continue the actor does not handle is a bug.
    virtual HandleResult handle_continue(const Term& continuation);
    // Called once when the actor stops by Stop, an exception, its parent's exit or a system
    // terminate; not when an exit signal kills it outright (untrapped, or kill), as gen_server.
    virtual void terminate(const Term& reason) { (void)reason; }

    // The sys protocol (sys:get_state, :sys.get_state, observer, ...) sees the actor through
    // these; a BEAM's funs cannot run here, so each sys request that carries one has a C++ hook.

    // What sys:get_state/1 returns. std::nullopt (the default): the actor does not show its
    // state, and get_state fails as sys fails when a state callback fails.
    virtual std::optional<Term> state() const { return std::nullopt; }
    // The state sys:get_status/1 shows (and the states in trace and log lines): the place to
    // hide secrets, as gen_server's format_status. Default: state(), or undefined.
    virtual Term format_status(const std::optional<Term>& state) const {
        return state.value_or(Term(atoms::undefined));
    }
    // sys:replace_state/2 with `state_fun`, the Erlang fun it sent (a Term: an export fun, or a
    // closure with its free variables): the new state, which sys returns to its caller, or why
    // not (sys_refused(Reason)), which sys raises there. Default: not_supported, reason
    // replace_state_not_supported.
    virtual Expected<Term, SysError> replace_state(const Term& state_fun);
    // sys:change_code/4 (only while suspended, as sys): migrate the state from `old_vsn`.
    // Default: nothing to migrate, ok. An error's reason is sys's {error, Reason}.
    virtual Expected<void, SysError> code_change(const Term& old_vsn, const Term& extra) {
        (void)old_vsn;
        (void)extra;
        return {};
    }

  protected:
    // This actor's process, valid inside the callbacks. Do not keep a copy in the actor: the
    // actor lives inside its process, and a handle kept there would keep the process alive.
    const ProcessHandle& self() const { return *self_; }

    // What call_async runs with the answer: the reply or the error (timeout, noproc, nodedown,
    // exited), on this actor's turn like any callback; Stop ends the actor.
    using CallDone = std::function<HandleResult(Expected<Term, CallError> answer)>;
    // Calls `server` without waiting (the gen call of call.hpp) from inside a callback. The way
    // for an actor to serve a call by calling another server: return NoReply from handle_call,
    // keep the From, call out, and reply from `done`. After `timeout` the call is given up and
    // `done` gets timeout; a reply that comes later is dropped.
    void call_async(const ServerRef& server, Term request, std::chrono::milliseconds timeout,
                    CallDone done);

  private:
    friend class ActorRunner;
    const ProcessHandle* self_ = nullptr;
    ActorRunner* runner_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Starting actors

enum class StartErrc {
    init_failed = 1,  // init returned Stop, or threw: `reason` says why
    ignored,          // init returned Ignore
    name_taken,       // the name is registered already: reason {already_started, Pid}
    not_running,      // the node has stopped
    bad_options,      // supervisor options that cannot work: reason says which
    timeout,          // init ran past ActorOptions::start_timeout: the actor was killed
};
const std::error_category& start_category() noexcept;
std::error_code make_error_code(StartErrc e) noexcept;

struct StartError {
    StartErrc code{};
    Term reason;  // as Erlang's {error, Reason} would carry it
};

// The shape of sys:get_state and sys:replace_state replies. OTP 26.1 changed them from the bare
// State to {ok, State}, and a caller's sys.erl accepts only its own release's shape (a real
// gen_server has the same problem in a mixed cluster). The handshake shows OTP 28 and later only
// (ALTACT_SIG), so automatic asks other callers' nodes their release (docs/actor.md).
enum class SysStateReplies {
    automatic,  // the caller's release's shape; OTP 26 counts as 26.1
    bare,       // OTP 25 to 26.0 callers
    ok_tuple,   // OTP 26.1 and later callers
};

struct ActorOptions {
    std::optional<Atom> name{};  // registered before init, as gen_server:start_link({local, N})
    bool trap_exit = false;
    // The parent: linked before init, and its 'EXIT' ends the actor when it traps exits.
    std::optional<Pid> link_to{};
    SysStateReplies sys_state_replies = SysStateReplies::automatic;
    // proc_lib:start_link's Timeout: an init that returns later than this has its actor killed
    // (unlinked from the parent first, so the parent is unharmed) and the start fails with
    // StartErrc::timeout. init is C++ running on the starter's thread, so it is not cut short:
    // the limit is checked when it returns.
    std::chrono::milliseconds start_timeout = infinity_timeout;
};

[[nodiscard]] Expected<ProcessHandle, StartError> spawn_actor(Node& node,
                                                              std::unique_ptr<Actor> actor,
                                                              ActorOptions options = {});
// The same, on the node of `on_node_of` (any process of that node): what a supervisor's child
// spec uses, since it is given the supervisor rather than the node.
[[nodiscard]] Expected<ProcessHandle, StartError> spawn_actor(const ProcessHandle& on_node_of,
                                                              std::unique_ptr<Actor> actor,
                                                              ActorOptions options = {});

// What tools read of a process that spawn_actor or start_supervisor started, as they read
// proc_lib's entries in a BEAM process's dictionary (process_info(Pid, dictionary), observer).
struct ActorInfo {
    // [{'$ancestors', Ancestors}, {'$initial_call', {Type, init, 1}}]: Ancestors is the parent
    // (link_to, else the process given to spawn_actor(handle, ...)) by its registered name when it
    // has one, then that parent's own ancestors when it is one of ours; Type is the actor's C++
    // class, demangled ({supervisor, Name, 1} for a supervisor, as proc_lib shows one).
    Term dictionary;
    bool hibernating = false;        // it returned Hibernate and has taken no message since
    std::uint64_t hibernations = 0;  // how many times it has hibernated
    // What its hibernations gave back, in bytes: the bucket arrays of its call_async table
    // (docs/actor.md, "Lifecycle").
    std::uint64_t bytes_returned = 0;
};

// The info of `process` on this node; nullopt when it has ended or was not started as an actor or
// a supervisor.
std::optional<ActorInfo> actor_info(Node& node, const Pid& process);

// gen_server:stop/3: asks the process (an actor, a supervisor, or any OTP process on another
// node) to terminate with `reason` through the sys protocol, and waits until it has. Blocking:
// for plain threads, not for callbacks. Its errors are a call's, as proc_lib:stop's exits:
// noproc (it did not exist), nodedown, timeout, node_thread, or exited when it ended with another
// reason (`reason` holds that one, as for the others the term gen_server:stop would exit with).
[[nodiscard]] Expected<void, CallError> stop_process(
    Node& node, const Pid& process, Term reason = Term(atoms::normal),
    std::chrono::milliseconds timeout = infinity_timeout);

// ---------------------------------------------------------------------------------------------
// Timers: erlang:send_after/3 for processes that must not block a node thread

class Timer {
  public:
    Timer() = default;
    // True when the message had not gone yet and now never will.
    bool cancel() const;
    explicit operator bool() const { return state_ != nullptr; }

    struct State;

  private:
    friend Timer send_after(const ProcessHandle&, std::chrono::milliseconds, Term);
    std::shared_ptr<State> state_;
};

// `message` arrives at `self` after `delay`, sent by itself, unless cancelled first.
Timer send_after(const ProcessHandle& self, std::chrono::milliseconds delay, Term message);

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::StartErrc> : std::true_type {};
template <>
struct std::is_error_code_enum<distribute::SysErrc> : std::true_type {};
