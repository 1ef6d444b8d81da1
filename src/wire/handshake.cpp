#include "wire/handshake.hpp"

#include <md5.h>

#include <string_view>

#include "wire/bytes.hpp"
#include "wire/flags.hpp"
#include "wire/node_name.hpp"

namespace distribute::wire {
namespace {

std::string_view as_text(std::span<const std::uint8_t> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::span<const std::uint8_t> as_bytes(std::string_view text) {
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// Compares every byte whatever the first difference, so timing tells nothing about the cookie.
bool same_digest(std::span<const std::uint8_t> a, const std::array<std::uint8_t, 16>& b) {
    if (a.size() != b.size()) return false;
    std::uint8_t diff = 0;
    for (std::size_t i = 0; i < b.size(); ++i)
        diff |= static_cast<std::uint8_t>(a[i] ^ b[i]);
    return diff == 0;
}

std::string_view status_text(HandshakeStatus s) {
    switch (s) {
        case HandshakeStatus::ok:
            return "ok";
        case HandshakeStatus::ok_simultaneous:
            return "ok_simultaneous";
        case HandshakeStatus::nok:
            return "nok";
        case HandshakeStatus::not_allowed:
            return "not_allowed";
        case HandshakeStatus::alive:
            return "alive";
        case HandshakeStatus::named:
            return "named:";
    }
    return "nok";
}

}  // namespace

std::array<std::uint8_t, 16> handshake_digest(std::string_view cookie, std::uint32_t challenge) {
    std::string text(cookie);
    text += std::to_string(challenge);
    std::array<std::uint8_t, 16> digest{};
    MD5_CTX context;
    MD5Init(&context);
    MD5Update(&context, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
    MD5Final(digest.data(), &context);
    return digest;
}

namespace {

constexpr std::pair<std::uint64_t, std::string_view> flag_table[] = {
    {flag::published, "PUBLISHED"},
    {flag::atom_cache, "ATOM_CACHE"},
    {flag::extended_references, "EXTENDED_REFERENCES"},
    {flag::dist_monitor, "DIST_MONITOR"},
    {flag::fun_tags, "FUN_TAGS"},
    {flag::dist_monitor_name, "DIST_MONITOR_NAME"},
    {flag::hidden_atom_cache, "HIDDEN_ATOM_CACHE"},
    {flag::new_fun_tags, "NEW_FUN_TAGS"},
    {flag::extended_pids_ports, "EXTENDED_PIDS_PORTS"},
    {flag::export_ptr_tag, "EXPORT_PTR_TAG"},
    {flag::bit_binaries, "BIT_BINARIES"},
    {flag::new_floats, "NEW_FLOATS"},
    {flag::unicode_io, "UNICODE_IO"},
    {flag::dist_hdr_atom_cache, "DIST_HDR_ATOM_CACHE"},
    {flag::small_atom_tags, "SMALL_ATOM_TAGS"},
    {flag::utf8_atoms, "UTF8_ATOMS"},
    {flag::map_tag, "MAP_TAG"},
    {flag::big_creation, "BIG_CREATION"},
    {flag::send_sender, "SEND_SENDER"},
    {flag::big_seqtrace_labels, "BIG_SEQTRACE_LABELS"},
    {flag::exit_payload, "EXIT_PAYLOAD"},
    {flag::fragments, "FRAGMENTS"},
    {flag::handshake_23, "HANDSHAKE_23"},
    {flag::unlink_id, "UNLINK_ID"},
    {flag::mandatory_25_digest, "MANDATORY_25_DIGEST"},
    {flag::spawn, "SPAWN"},
    {flag::name_me, "NAME_ME"},
    {flag::v4_nc, "V4_NC"},
    {flag::alias, "ALIAS"},
    {flag::local_ext, "LOCAL_EXT"},
    {flag::altact_sig, "ALTACT_SIG"},
    {flag::native_records, "NATIVE_RECORDS"},
};

constexpr std::uint64_t named_flags = [] {
    std::uint64_t all = 0;
    for (auto [bit, name] : flag_table)
        all |= bit;
    return all;
}();

}  // namespace

std::string flag_names(std::uint64_t bits) {
    std::string out;
    auto add = [&out](std::string_view name) {
        if (!out.empty()) out += ", ";
        out += name;
    };
    for (auto [bit, name] : flag_table)
        if (bits & bit) add(name);
    for (unsigned i = 0; i < 64; ++i)
        if (bits & ~named_flags & (std::uint64_t{1} << i)) add("bit " + std::to_string(i));
    return out;
}

std::string missing_flag_names(std::uint64_t have, std::uint64_t required) {
    return flag_names(required & ~have);
}

std::uint64_t unknown_flags(std::uint64_t flags) noexcept {
    return flags & ~named_flags;
}

Handshake::Handshake(HandshakeSettings settings, bool initiator)
    : settings_(std::move(settings)),
      initiator_(initiator),
      step_(initiator ? Step::await_status : Step::await_name) {}

Handshake Handshake::initiate(HandshakeSettings settings, std::string peer_name) {
    Handshake h(std::move(settings), true);
    h.dialled_ = std::move(peer_name);
    h.peer_.name = h.dialled_;
    std::uint64_t flags = h.settings_.offered_flags;
    // A node without a name is hidden until it has one: NAME_ME takes PUBLISHED's place.
    if (h.settings_.ask_for_name) flags = (flags & ~flag::published) | flag::name_me;
    ByteWriter w;
    w.u8('N');
    w.u64(flags);
    w.u32(h.settings_.creation);
    w.u16(static_cast<std::uint16_t>(h.settings_.node_name.size()));
    w.bytes(as_bytes(h.settings_.node_name));
    h.queue(w.data());
    return h;
}

Handshake Handshake::accept(HandshakeSettings settings) {
    return Handshake(std::move(settings), false);
}

std::vector<std::uint8_t> Handshake::take_output() {
    return std::exchange(output_, {});
}

void Handshake::queue(std::span<const std::uint8_t> message) {
    output_.push_back(static_cast<std::uint8_t>(message.size() >> 8));
    output_.push_back(static_cast<std::uint8_t>(message.size()));
    output_.insert(output_.end(), message.begin(), message.end());
}

Handshake::Event Handshake::peer_closed() {
    if (step_ != Step::await_ack) return Event::none;
    return fail(HandshakeErrc::bad_digest, "it closed the connection on our challenge reply");
}

Handshake::Event Handshake::fail(HandshakeErrc code, std::string detail) {
    step_ = Step::broken;
    failure_ = {code, std::move(detail)};
    return Event::failed;
}

std::string Handshake::cookie() const {
    return settings_.cookie_for ? settings_.cookie_for(peer_.name) : std::string();
}

Handshake::Progress Handshake::feed(std::span<const std::uint8_t> input) {
    Progress progress;
    while (step_ != Step::done && step_ != Step::broken && step_ != Step::await_decision &&
           step_ != Step::await_alive_decision) {
        auto rest = input.subspan(progress.used);
        if (rest.size() < 2) break;
        std::size_t length = (std::size_t{rest[0]} << 8) | rest[1];
        if (length > max_message_bytes) {
            progress.event = fail(HandshakeErrc::message_too_large,
                                  "handshake message of " + std::to_string(length) + " bytes");
            return progress;
        }
        if (rest.size() < 2 + length) break;
        progress.used += 2 + length;
        progress.event = on_message(rest.subspan(2, length));
        if (progress.event != Event::none) return progress;
    }
    return progress;
}

Handshake::Event Handshake::on_message(std::span<const std::uint8_t> m) {
    if (m.empty()) return fail(HandshakeErrc::bad_message, "empty handshake message");
    switch (step_) {
        case Step::await_name:
            return on_name(m);
        case Step::await_alive_answer:
            return on_alive_answer(m);
        case Step::await_complement:
            return on_complement(m);
        case Step::await_reply:
            return on_reply(m);
        case Step::await_status:
            return on_status(m);
        case Step::await_challenge:
            return on_challenge(m);
        case Step::await_ack:
            return on_ack(m);
        default:
            return fail(HandshakeErrc::bad_message, "message after the handshake ended");
    }
}

// ---------------------------------------------------------------------------------------------
// Acceptor

Handshake::Event Handshake::on_name(std::span<const std::uint8_t> m) {
    ByteReader r(m.subspan(1));
    if (m[0] == 'N') {
        auto flags = r.u64();
        auto creation = r.u32();
        auto length = r.u16();
        auto name = length ? r.bytes(*length) : std::nullopt;
        if (!flags || !creation || !name)
            return fail(HandshakeErrc::bad_message, "truncated send_name");
        peer_ = {std::string(as_text(*name)), expand(*flags), *creation,
                 (*flags & flag::name_me) != 0};
    } else if (m[0] == 'n') {
        auto version = r.u16();
        auto flags = r.u32();
        if (!version || !flags) return fail(HandshakeErrc::bad_message, "truncated old send_name");
        if (*version != 5 || !(*flags & flag::handshake_23))
            return fail(HandshakeErrc::missing_flags,
                        "peer speaks only the pre-OTP 23 handshake (HANDSHAKE_23 missing)");
        old_send_name_ = true;
        peer_ = {std::string(as_text(r.rest())), expand(*flags), 0};
    } else {
        return fail(HandshakeErrc::bad_message, "expected send_name ('N' or 'n')");
    }
    if (peer_.wants_name) {
        // Only the host: the name is ours to give (dist_util:is_name_ok/2).
        if (peer_.name.empty() || peer_.name.find('@') != std::string::npos)
            return fail(HandshakeErrc::bad_name,
                        "a peer asking for a name sends only its host, not '" + peer_.name + "'");
    } else if (auto name = NodeName::parse(peer_.name); !name) {
        return fail(HandshakeErrc::bad_name, name.error());
    }
    // The old form carries only the low 32 flag bits; the complement brings the rest.
    std::uint64_t checkable = settings_.required_flags & (old_send_name_ ? 0xFFFFFFFFull : ~0ull);
    if (auto missing = missing_flag_names(peer_.flags, checkable); !missing.empty()) {
        static constexpr std::string_view refusal = "snot_allowed";
        queue(as_bytes(refusal));
        return fail(HandshakeErrc::missing_flags,
                    "peer " + peer_.name + " lacks required flags: " + missing);
    }
    step_ = Step::await_decision;
    return Event::peer_named;
}

Handshake::Event Handshake::decide(HandshakeStatus status) {
    if (step_ != Step::await_decision) return Event::none;
    if (status == HandshakeStatus::named) {
        if (!peer_.wants_name || peer_.name.find('@') == std::string::npos)
            return fail(HandshakeErrc::bad_name, "named status without a name assigned");
        ByteWriter w;
        w.bytes(as_bytes("snamed:"));
        w.u16(static_cast<std::uint16_t>(peer_.name.size()));
        w.bytes(as_bytes(peer_.name));
        w.u32(peer_.creation);
        queue(w.data());
        send_challenge();
        return Event::none;
    }
    std::string message = "s";
    message += status_text(status);
    queue(as_bytes(message));
    switch (status) {
        case HandshakeStatus::ok:
        case HandshakeStatus::ok_simultaneous:
            send_challenge();
            break;
        case HandshakeStatus::named:  // answered above
            break;
        case HandshakeStatus::alive:
            step_ = Step::await_alive_answer;
            break;
        case HandshakeStatus::nok:
            fail(HandshakeErrc::refused, "we keep our own connection attempt to " + peer_.name);
            break;
        case HandshakeStatus::not_allowed:
            fail(HandshakeErrc::refused, "connection from " + peer_.name + " not allowed");
            break;
    }
    return step_ == Step::broken ? Event::failed : Event::none;
}

Handshake::Event Handshake::on_alive_answer(std::span<const std::uint8_t> m) {
    auto text = as_text(m);
    if (text == "strue") {
        send_challenge();
        return Event::none;
    }
    if (text == "sfalse") return fail(HandshakeErrc::gave_up, peer_.name + " kept its connection");
    return fail(HandshakeErrc::bad_message, "expected 'strue' or 'sfalse'");
}

void Handshake::assign_peer_name(std::string name, std::uint32_t creation) {
    peer_.name = std::move(name);
    peer_.creation = creation;
}

void Handshake::send_challenge() {
    our_challenge_ = settings_.random_challenge();
    std::uint64_t flags = settings_.offered_flags;
    // To a peer we name, as dist_util answers it: NAME_ME in PUBLISHED's place (it is hidden).
    if (peer_.wants_name) flags = (flags & ~flag::published) | flag::name_me;
    ByteWriter w;
    w.u8('N');
    w.u64(flags);
    w.u32(our_challenge_);
    w.u32(settings_.creation);
    w.u16(static_cast<std::uint16_t>(settings_.node_name.size()));
    w.bytes(as_bytes(settings_.node_name));
    queue(w.data());
    step_ = old_send_name_ ? Step::await_complement : Step::await_reply;
}

Handshake::Event Handshake::on_complement(std::span<const std::uint8_t> m) {
    ByteReader r(m.subspan(1));
    auto high = r.u32();
    auto creation = r.u32();
    if (m[0] != 'c' || !high || !creation)
        return fail(HandshakeErrc::bad_message, "expected complement");
    peer_.flags = expand(peer_.flags | (std::uint64_t{*high} << 32));
    peer_.creation = *creation;
    if (auto missing = missing_flag_names(peer_.flags, settings_.required_flags); !missing.empty())
        return fail(HandshakeErrc::missing_flags,
                    "peer " + peer_.name + " lacks required flags: " + missing);
    step_ = Step::await_reply;
    return Event::none;
}

Handshake::Event Handshake::on_reply(std::span<const std::uint8_t> m) {
    ByteReader r(m.subspan(1));
    auto challenge = r.u32();
    auto digest = r.bytes(16);
    if (m[0] != 'r' || !challenge || !digest)
        return fail(HandshakeErrc::bad_message, "expected challenge reply");
    if (!same_digest(*digest, handshake_digest(cookie(), our_challenge_)))
        return fail(HandshakeErrc::bad_digest, peer_.name + " does not know our cookie");
    ByteWriter w;
    w.u8('a');
    w.bytes(handshake_digest(cookie(), *challenge));
    queue(w.data());
    step_ = Step::done;
    return Event::established;
}

// ---------------------------------------------------------------------------------------------
// Initiator

Handshake::Event Handshake::on_status(std::span<const std::uint8_t> m) {
    auto text = as_text(m);
    if (text.starts_with("snamed:")) return on_named(m.subspan(7));
    if (settings_.ask_for_name && text != "snot_allowed")
        return fail(HandshakeErrc::bad_message, "asked " + dialled_ + " for a name, it answered " +
                                                    std::string(text.substr(1)));
    if (text == "sok" || text == "sok_simultaneous") {
        step_ = Step::await_challenge;
        return Event::none;
    }
    if (text == "salive") {
        step_ = Step::await_alive_decision;
        return Event::peer_says_alive;
    }
    if (text == "snok")
        return fail(HandshakeErrc::lost_race,
                    dialled_ + " answered nok: its own connection to us is kept");
    if (text == "snot_allowed")
        return fail(HandshakeErrc::refused, dialled_ + " answered " + std::string(text.substr(1)));
    return fail(HandshakeErrc::bad_message, "unexpected status from " + dialled_);
}

// "named:" was read; Nlen:16, Name, Creation:32 follow (trailing bytes ignored).
Handshake::Event Handshake::on_named(std::span<const std::uint8_t> m) {
    if (!settings_.ask_for_name)
        return fail(HandshakeErrc::bad_message, dialled_ + " named us though we have a name");
    ByteReader r(m);
    auto length = r.u16();
    auto name = length ? r.bytes(*length) : std::nullopt;
    auto creation = name ? r.u32() : std::nullopt;
    if (!name || !creation) return fail(HandshakeErrc::bad_message, "truncated named status");
    std::string given(as_text(*name));
    auto parsed = NodeName::parse(given);
    // The name must be alive@ the host we sent, as dist_util checks it.
    if (!parsed || parsed->host != settings_.node_name)
        return fail(HandshakeErrc::bad_name,
                    dialled_ + " named us '" + given + "', not a name on our host");
    assigned_ = AssignedName{given, *creation};
    step_ = Step::await_challenge;
    return Event::none;
}

Handshake::Event Handshake::replace_alive(bool replace) {
    if (step_ != Step::await_alive_decision) return Event::none;
    static constexpr std::string_view yes = "strue", no = "sfalse";
    queue(as_bytes(replace ? yes : no));
    if (!replace) return fail(HandshakeErrc::gave_up, "kept the live connection of " + dialled_);
    step_ = Step::await_challenge;
    return Event::none;
}

Handshake::Event Handshake::on_challenge(std::span<const std::uint8_t> m) {
    ByteReader r(m.subspan(1));
    auto flags = r.u64();
    auto challenge = r.u32();
    auto creation = r.u32();
    auto length = r.u16();
    auto name = length ? r.bytes(*length) : std::nullopt;
    if (m[0] != 'N' || !flags || !challenge || !creation || !name)
        return fail(HandshakeErrc::bad_message, "expected challenge 'N'");
    if (as_text(*name) != dialled_)
        return fail(HandshakeErrc::bad_name,
                    "dialled " + dialled_ + " but it calls itself " + std::string(as_text(*name)));
    peer_.flags = expand(*flags);
    peer_.creation = *creation;
    if (auto missing = missing_flag_names(peer_.flags, settings_.required_flags); !missing.empty())
        return fail(HandshakeErrc::missing_flags, dialled_ + " lacks required flags: " + missing);
    peer_challenge_ = *challenge;
    our_challenge_ = settings_.random_challenge();
    ByteWriter w;
    w.u8('r');
    w.u32(our_challenge_);
    w.bytes(handshake_digest(cookie(), peer_challenge_));
    queue(w.data());
    step_ = Step::await_ack;
    return Event::none;
}

Handshake::Event Handshake::on_ack(std::span<const std::uint8_t> m) {
    ByteReader r(m.subspan(1));
    auto digest = r.bytes(16);
    if (m[0] != 'a' || !digest) return fail(HandshakeErrc::bad_message, "expected challenge ack");
    if (!same_digest(*digest, handshake_digest(cookie(), our_challenge_)))
        return fail(HandshakeErrc::bad_digest, dialled_ + " does not know our cookie");
    step_ = Step::done;
    return Event::established;
}

}  // namespace distribute::wire
