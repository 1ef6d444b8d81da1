// sys:get_state and sys:replace_state replies in the shape the caller's release expects: the bare
// State up to OTP 26.0, {ok, State} since OTP 26.1 (sys.erl matches only its own shape). With
// SysStateReplies::automatic the shape comes from the caller's node: its handshake flags when
// they show OTP 28+, else the release it answers to erlang:system_info(otp_release), asked once
// per connection (otp/peer_release.hpp). A reply that waits for that answer is sent later, while
// the actor goes on with its other messages.
#pragma once

#include <string_view>
#include <unordered_map>

#include "distribute/actor.hpp"
#include "node/identity_hash.hpp"

namespace distribute::actor_detail {

// Whether sys.erl of `release` (as otp_release gives it: "25", "27", "R16B03") expects
// {ok, State}. OTP 26 answers "26" for 26.0 and 26.1 alike: it counts as 26.1 (docs/actor.md).
bool expects_ok_tuple(std::string_view release);

class StateReplies {
  public:
    explicit StateReplies(SysStateReplies mode) : mode_(mode) {}

    // Replies with `state` now when the shape is known, else once the caller's release is.
    void reply(const ProcessHandle& self, const From& from, Term state);
    // Whether `message` is about a reply that waits (the release's answer, or its time up); if
    // so, that reply is sent.
    bool answer(const ProcessHandle& self, const Term& message);

  private:
    struct Waiting {
        From from;
        Term state;
        Timer timer;
    };
    void send(const ProcessHandle& self, Waiting& waiting, const Term& outcome);

    SysStateReplies mode_;
    std::unordered_map<Reference, Waiting, node::ReferenceHash> waiting_;
};

}  // namespace distribute::actor_detail
