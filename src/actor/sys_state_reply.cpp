#include "actor/sys_state_reply.hpp"

#include <charconv>

#include "node/access.hpp"
#include "otp/peer_release.hpp"
#include "wire/flags.hpp"

namespace distribute::actor_detail {

namespace {

using namespace std::chrono_literals;

// How long a reply waits for the caller's release: well inside sys's default 5 s call timeout,
// and one round trip is all the question takes.
constexpr std::chrono::milliseconds release_wait = 2s;

// {'$distribute_sys_release', Ref, Outcome}: Outcome is the release (a binary), {error, Why}, or
// `timeout` from the reply's timer.
const Atom& release_tag() {
    static const Atom tag = Atom::make("$distribute_sys_release").value();
    return tag;
}

node::Runtime& runtime_of(const ProcessHandle& self) {
    return node::Access::process(self).runtime;
}

Term shaped(bool ok_tuple, Term state) {
    return ok_tuple ? tuple(atoms::ok, std::move(state)) : state;
}

}  // namespace

bool expects_ok_tuple(std::string_view release) {
    int major = 0;
    const auto [end, error] =
        std::from_chars(release.data(), release.data() + release.size(), major);
    // OTP 26.0 to 26.0.2 (stdlib 5.0) wanted the bare state; 26.1 onwards (stdlib 5.1, the fix
    // for ERL-1328) want {ok, State}. Most OTP 26 nodes run 26.1 or later, and a 26.0 caller
    // given {ok, State} returns it as the state rather than failing with case_clause.
    return error == std::errc() && end == release.data() + release.size() && major >= 26;
}

void StateReplies::reply(const ProcessHandle& self, const From& from, Term state) {
    const Atom caller = from.caller().node;
    if (mode_ != SysStateReplies::automatic || caller == self.pid().node) {
        from.reply(shaped(mode_ == SysStateReplies::ok_tuple, std::move(state)));
        return;
    }
    auto& runtime = runtime_of(self);
    if (runtime.peer_flags(caller) & wire::flag::altact_sig) {  // OTP 28 and later
        from.reply(shaped(true, std::move(state)));
        return;
    }
    auto& releases = otp::PeerReleases::of(runtime);
    if (auto known = releases.known(caller); known && *known) {
        from.reply(shaped(expects_ok_tuple(**known), std::move(state)));
        return;
    }
    const Reference ref = self.make_ref();
    Timer timer = send_after(self, release_wait, tuple(release_tag(), ref, Term(atoms::timeout)));
    waiting_.emplace(ref, Waiting{from, std::move(state), std::move(timer)});
    std::weak_ptr<node::Process> me = node::Access::shared(self);
    releases.learn(caller, [me, ref](const otp::PeerReleases::Answer& answer) {
        const Term outcome = answer ? binary(*answer) : tuple(atoms::error, binary(answer.error()));
        if (auto p = me.lock()) ProcessHandle(p).send(p->pid, tuple(release_tag(), ref, outcome));
    });
}

bool StateReplies::answer(const ProcessHandle& self, const Term& message) {
    if (!message.is_tuple(3) || !message[0].is_atom(release_tag())) return false;
    auto ref = message[1].to<Reference>();
    if (!ref) return false;
    auto it = waiting_.find(*ref);
    if (it == waiting_.end()) return true;  // a timer that lost the race, or a late answer
    Waiting waiting = std::move(it->second);
    waiting_.erase(it);
    send(self, waiting, message[2]);
    return true;
}

void StateReplies::send(const ProcessHandle& self, Waiting& waiting, const Term& outcome) {
    waiting.timer.cancel();
    if (auto release = outcome.to<std::string>()) {
        waiting.from.reply(shaped(expects_ok_tuple(*release), std::move(waiting.state)));
        return;
    }
    // The flags' answer: they did not show OTP 28+, so the shape of OTP 25 to 26.0.
    const std::string why = outcome.is_atom(atoms::timeout)
                                ? "no answer in " + std::to_string(release_wait.count()) + " ms"
                                : outcome[1].to<std::string>().value_or(to_string(outcome[1]));
    runtime_of(self).log(LogLevel::warning,
                         "sys: the OTP release of " + to_string(Term(waiting.from.caller().node)) +
                             " is unknown (" + why + "): its get_state/replace_state reply is " +
                             "the bare state, as for OTP 25 to 26.0");
    waiting.from.reply(std::move(waiting.state));
}

}  // namespace distribute::actor_detail
