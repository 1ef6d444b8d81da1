// Typed subjects: a handle that names one stream of typed messages to one process. A subject is
// the owner's pid and a reference made for it alone; what is sent through it arrives as
// {Tag, Payload}, and the owner receives selectively on that tag, so two subjects of one process
// never mix (the seed library gave every subject the tag nil, and typed streams did mix).
//
//   Subject<Order> orders = make_subject<Order>(me);       // me: the owner's Mailbox
//   Subject<Cancel> cancels = make_subject<Cancel>(me);
//   (void)send(worker, orders, Order{...});                // from any process
//   Expected<Order, SubjectError> o = receive(me, orders, 5s);  // never a Cancel
//
// The wire form is gleam_erlang's: a message {Tag, Payload}, and the subject itself, sent inside
// a message, {subject, Pid, Tag}. An Erlang process replies to a subject with `Pid ! {Tag, Msg}`.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include "distribute/codec.hpp"
#include "distribute/error.hpp"
#include "distribute/expected.hpp"
#include "distribute/mailbox.hpp"
#include "distribute/messaging.hpp"
#include "distribute/term.hpp"

namespace distribute {

template <class T>
class Subject {
  public:
    Subject() = default;
    Subject(Pid owner, Reference tag) : owner_(owner), tag_(tag) {}

    const Pid& owner() const { return owner_; }
    const Reference& tag() const { return tag_; }

    // True for a message sent through this subject.
    bool matches(const Term& message) const {
        return message.is_tuple(2) && message[0].is_reference() && message[0] == Term(tag_);
    }
    // For a process that is not a Mailbox (an actor's handle_info): the payload of a message
    // sent through this subject, decoded; nullopt for any other message.
    std::optional<Expected<T, CodecError>> match(const Term& message) const {
        if (!matches(message)) return std::nullopt;
        return decode<T>(message[1]);
    }

    friend bool operator==(const Subject& a, const Subject& b) {
        return a.owner_ == b.owner_ && a.tag_ == b.tag_;
    }

  private:
    Pid owner_;
    Reference tag_;
};

// A new subject of `owner`, with a reference no other subject has.
template <class T>
Subject<T> make_subject(const ProcessHandle& owner) {
    return Subject<T>(owner.pid(), owner.make_ref());
}

// A checked send (see messaging.hpp) of {Tag, encode(value)} to the subject's owner.
template <class T>
[[nodiscard]] Expected<void, SendError> send(const ProcessHandle& from, const Subject<T>& to,
                                             const T& value, const SendOptions& options = {}) {
    auto payload = messaging_detail::encode_checked(value);
    if (!payload) return unexpected(payload.error());
    return send_checked(from, ServerRef(to.owner()), tuple(to.tag(), std::move(*payload)), options);
}

enum class SubjectErrc {
    timeout = 1,    // nothing came through the subject in time
    exited,         // the owner was ended by an exit signal: `reason`
    decode_failed,  // a message came through the subject but does not decode: see `codec`
};
const std::error_category& subject_category() noexcept;
std::error_code make_error_code(SubjectErrc e) noexcept;

struct SubjectError {
    SubjectErrc code{};
    Term reason;                      // exited
    std::optional<CodecError> codec;  // decode_failed
    Term message;                     // decode_failed: the payload, which has been taken
};

// The oldest message sent through `subject`, decoded; other messages stay queued in order.
// `mailbox` must be the subject's owner (anything else is a programmer error: invalid_argument).
template <class T>
[[nodiscard]] Expected<T, SubjectError> receive(
    Mailbox& mailbox, const Subject<T>& subject,
    std::chrono::milliseconds timeout = infinity_timeout) {
    if (!(mailbox.pid() == subject.owner()))
        throw std::invalid_argument("receive: the mailbox does not own the subject");
    auto got = mailbox.receive_if([&](const Term& t) { return subject.matches(t); }, timeout);
    if (!got)
        return unexpected(SubjectError{
            got.error().code == ReceiveErrc::timeout ? SubjectErrc::timeout : SubjectErrc::exited,
            got.error().reason, std::nullopt, Term()});
    auto value = decode<T>((*got)[1]);
    if (!value)
        return unexpected(
            SubjectError{SubjectErrc::decode_failed, Term(), value.error(), (*got)[1]});
    return std::move(*value);
}

// A subject inside a message: {subject, Pid, Tag}, as gleam_erlang's Subject record.
template <class T>
struct Codec<Subject<T>> {
    static Term encode(const Subject<T>& s) {
        return tuple(Atom::make("subject").value(), s.owner(), s.tag());
    }
    static Expected<Subject<T>, CodecError> decode(const Term& t) {
        auto parts = t.tagged<Pid, Reference>(Atom::make("subject").value());
        if (!parts) return unexpected(codec_detail::mismatch(t, "a subject {subject, Pid, Ref}"));
        return Subject<T>(std::get<0>(*parts), std::get<1>(*parts));
    }
};

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::SubjectErrc> : std::true_type {};
