// Control messages: one table of the ops (name, tuple arity, what follows), the decoder that
// accepts every form a peer may send, and the encoder that writes the chosen form straight into
// the outgoing buffer.
#include "wire/control.hpp"

#include <array>
#include <stdexcept>
#include <string_view>

#include "wire/etf_write.hpp"
#include "wire/flags.hpp"

namespace distribute::wire {
namespace {

struct OpInfo {
    std::string_view name;     // empty: no such op
    std::uint8_t arity = 0;    // elements of the control tuple, the op included
    std::string_view payload;  // what the term after the control term is; empty: there is none
    bool extensible = false;   // `arity` is a minimum: later releases may add elements
};

constexpr std::size_t op_limit = 38;

constexpr std::array<OpInfo, op_limit> op_table = [] {
    std::array<OpInfo, op_limit> t{};
    t[1] = {"LINK", 3, {}};
    t[2] = {"SEND", 3, "message"};
    t[3] = {"EXIT", 4, {}};
    t[4] = {"UNLINK", 3, {}};
    t[5] = {"NODE_LINK", 1, {}};
    t[6] = {"REG_SEND", 4, "message"};
    t[7] = {"GROUP_LEADER", 3, {}};
    t[8] = {"EXIT2", 4, {}};
    t[12] = {"SEND_TT", 4, "message"};
    t[13] = {"EXIT_TT", 5, {}};
    t[16] = {"REG_SEND_TT", 5, "message"};
    t[18] = {"EXIT2_TT", 5, {}};
    t[19] = {"MONITOR_P", 4, {}};
    t[20] = {"DEMONITOR_P", 4, {}};
    t[21] = {"MONITOR_P_EXIT", 5, {}};
    t[22] = {"SEND_SENDER", 3, "message"};
    t[23] = {"SEND_SENDER_TT", 4, "message"};
    t[24] = {"PAYLOAD_EXIT", 3, "reason"};
    t[25] = {"PAYLOAD_EXIT_TT", 4, "reason"};
    t[26] = {"PAYLOAD_EXIT2", 3, "reason"};
    t[27] = {"PAYLOAD_EXIT2_TT", 4, "reason"};
    t[28] = {"PAYLOAD_MONITOR_P_EXIT", 4, "reason"};
    t[29] = {"SPAWN_REQUEST", 6, "argument list"};
    t[30] = {"SPAWN_REQUEST_TT", 7, "argument list"};
    t[31] = {"SPAWN_REPLY", 5, {}};
    t[32] = {"SPAWN_REPLY_TT", 6, {}};
    t[33] = {"ALIAS_SEND", 3, "message"};
    t[34] = {"ALIAS_SEND_TT", 4, "message"};
    t[35] = {"UNLINK_ID", 4, {}};
    t[36] = {"UNLINK_ID_ACK", 4, {}};
    t[37] = {"ALTACT_SIG_SEND", 4, "message or exit reason", true};
    return t;
}();

const OpInfo& info(Op op) noexcept {
    return op_table[static_cast<std::size_t>(op)];
}

const char* message_of(ControlErrc e) noexcept {
    switch (e) {
        case ControlErrc::not_a_control:
            return "not a control message";
        case ControlErrc::bad_shape:
            return "control message with the wrong arity or field types";
        case ControlErrc::missing_payload:
            return "control message without the term that must follow it";
        case ControlErrc::unexpected_payload:
            return "control message followed by a term it does not take";
    }
    return nullptr;
}

ControlError failure(ControlErrc code, std::string detail) {
    return ControlError{code, std::move(detail)};
}

// Reads the fields of one control tuple. The first field of the wrong type is remembered for
// the error and stands in as a default value, so a message reads as one struct initialiser.
class Fields {
  public:
    explicit Fields(const OpInfo& op) : op_(op) {}

    Pid pid(const Term& t, std::string_view field) { return get<Pid>(t, field, "a pid"); }
    Atom atom(const Term& t, std::string_view field) { return get<Atom>(t, field, "an atom"); }
    Reference ref(const Term& t, std::string_view field) {
        return get<Reference>(t, field, "a reference");
    }
    std::uint32_t u32(const Term& t, std::string_view field) {
        return get<std::uint32_t>(t, field, "an integer in 0..2^32-1");
    }
    ProcessId process(const Term& t, std::string_view field) {
        if (auto p = t.to<Pid>()) return *p;
        if (auto a = t.to<Atom>()) return *a;
        fail(field, "a pid or an atom");
        return Pid{};
    }
    // Result of a spawn: the new pid or an error atom.
    Term pid_or_atom(const Term& t, std::string_view field) {
        if (!t.is_pid() && !t.is_atom()) fail(field, "a pid or an atom");
        return t;
    }
    Term proper_list(const Term& t, std::string_view field) {
        if (!t.is_proper_list()) fail(field, "a proper list");
        return t;
    }
    // Link ids are 64-bit and never 0; above 2^63 they arrive as bignums.
    std::uint64_t unlink_id(const Term& t) {
        if (auto small = t.to<std::int64_t>()) {
            if (*small > 0) return static_cast<std::uint64_t>(*small);
        } else if (auto big = t.to<std::uint64_t>()) {
            return *big;
        }
        fail("id", "an integer in 1..2^64-1");
        return 0;
    }
    void fail(std::string_view field, std::string_view expected) {
        if (failed_) return;
        failed_ = true;
        detail_.append(op_.name).append(": ").append(field).append(" is not ").append(expected);
    }

    template <class T>
    Expected<Control, ControlError> done(T&& message) {
        if (failed_) return unexpected(failure(ControlErrc::bad_shape, std::move(detail_)));
        return Control(std::forward<T>(message));
    }

  private:
    template <class T>
    T get(const Term& t, std::string_view field, std::string_view expected) {
        if (auto v = t.to<T>()) return *v;
        fail(field, expected);
        return T{};
    }

    const OpInfo& op_;
    bool failed_ = false;
    std::string detail_;
};

Expected<Control, ControlError> spawn_request(Fields& f, std::span<const Term> e, const Term& args,
                                              std::optional<Term> token) {
    SpawnRequest m;
    m.req_id = f.ref(e[1], "req_id");
    m.from = f.pid(e[2], "from");
    m.group_leader = f.pid(e[3], "group_leader");
    if (e[4].is_tuple(3)) {
        m.module = f.atom(e[4][0], "module");
        m.function = f.atom(e[4][1], "function");
        m.arity = f.u32(e[4][2], "arity");
    } else {
        f.fail("mfa", "a {Module, Function, Arity} tuple");
    }
    m.options = f.proper_list(e[5], "options");
    m.args = f.proper_list(args, "args");
    m.token = std::move(token);
    return f.done(std::move(m));
}

// The low byte of ALTACT_SIG_SEND's Flags: any non-negative integer, a bignum included, since
// later releases may use higher bits.
std::optional<std::uint8_t> altact_flags(const Term& t) {
    if (auto small = t.to<std::int64_t>()) {
        if (*small < 0) return std::nullopt;
        return static_cast<std::uint8_t>(*small & 0xFF);
    }
    auto big = t.to<BigInt>();
    if (!big || big->negative()) return std::nullopt;
    return big->magnitude().empty() ? std::uint8_t{0} : big->magnitude()[0];
}

// {37, Flags, From, To} or {37, Flags, From, To, Token}, perhaps with more elements after; the
// message or the exit reason follows. Decoded into the struct of the signal it carries.
Expected<Control, ControlError> altact_sig_send(Fields& f, std::span<const Term> e,
                                                const Term& payload) {
    const auto flags = altact_flags(e[1]);
    if (!flags) f.fail("flags", "a non-negative integer");
    const std::uint8_t bits = flags.value_or(0);
    const Pid from = f.pid(e[2], "from");
    std::optional<Term> token;
    if (bits & altact::token) {
        if (e.size() < 5)
            f.fail("token", "present (the token flag is set)");
        else
            token = e[4];
    }
    const bool priority = (bits & altact::priority) != 0;
    const bool exit = (bits & altact::exit) != 0;
    if (bits & altact::alias) {
        if (bits & altact::name) f.fail("flags", "either alias or name, not both");
        const Reference alias = f.ref(e[3], "to");
        if (exit) return f.done(AliasExit{from, alias, payload, std::move(token), priority});
        return f.done(AliasSend{from, alias, payload, std::move(token), priority});
    }
    // A priority flag to a pid or a name changes nothing: only a priority alias takes priority
    // signals.
    if (bits & altact::name) {
        // No BEAM sends an exit signal to a name (exit/2 takes none).
        if (exit) f.fail("flags", "no exit flag with a registered name");
        return f.done(RegSend{from, f.atom(e[3], "to"), payload, std::move(token)});
    }
    const Pid to = f.pid(e[3], "to");
    if (exit) return f.done(Exit2{from, to, payload, std::move(token)});
    return f.done(SendSender{from, to, payload, std::move(token)});
}

Expected<Control, ControlError> decode_fields(Op op, Fields& f, std::span<const Term> e,
                                              const Term* payload) {
    // The _TT forms put the token last; the PAYLOAD forms carry message or reason after the tuple.
    const Term& last = e.back();
    switch (op) {
        case Op::link:
            return f.done(Link{f.pid(e[1], "from"), f.pid(e[2], "to")});
        case Op::send:
            return f.done(Send{f.pid(e[2], "to"), *payload, {}});
        case Op::send_tt:
            return f.done(Send{f.pid(e[2], "to"), *payload, last});
        case Op::send_sender:
            return f.done(SendSender{f.pid(e[1], "from"), f.pid(e[2], "to"), *payload, {}});
        case Op::send_sender_tt:
            return f.done(SendSender{f.pid(e[1], "from"), f.pid(e[2], "to"), *payload, last});
        case Op::reg_send:
            return f.done(RegSend{f.pid(e[1], "from"), f.atom(e[3], "to_name"), *payload, {}});
        case Op::reg_send_tt:
            return f.done(RegSend{f.pid(e[1], "from"), f.atom(e[3], "to_name"), *payload, last});
        case Op::exit:
            return f.done(Exit{f.pid(e[1], "from"), f.pid(e[2], "to"), e[3], {}});
        case Op::exit_tt:
            return f.done(Exit{f.pid(e[1], "from"), f.pid(e[2], "to"), e[4], e[3]});
        case Op::payload_exit:
            return f.done(Exit{f.pid(e[1], "from"), f.pid(e[2], "to"), *payload, {}});
        case Op::payload_exit_tt:
            return f.done(Exit{f.pid(e[1], "from"), f.pid(e[2], "to"), *payload, last});
        case Op::exit2:
            return f.done(Exit2{f.pid(e[1], "from"), f.pid(e[2], "to"), e[3], {}});
        case Op::exit2_tt:
            return f.done(Exit2{f.pid(e[1], "from"), f.pid(e[2], "to"), e[4], e[3]});
        case Op::payload_exit2:
            return f.done(Exit2{f.pid(e[1], "from"), f.pid(e[2], "to"), *payload, {}});
        case Op::payload_exit2_tt:
            return f.done(Exit2{f.pid(e[1], "from"), f.pid(e[2], "to"), *payload, last});
        case Op::unlink:
            return f.done(Unlink{f.pid(e[1], "from"), f.pid(e[2], "to")});
        case Op::node_link:
            return f.done(NodeLink{});
        case Op::group_leader:
            return f.done(GroupLeader{f.pid(e[1], "from"), f.pid(e[2], "to")});
        case Op::monitor_p:
            return f.done(MonitorP{f.pid(e[1], "from"), f.process(e[2], "to"), f.ref(e[3], "ref")});
        case Op::demonitor_p:
            return f.done(
                DemonitorP{f.pid(e[1], "from"), f.process(e[2], "to"), f.ref(e[3], "ref")});
        case Op::monitor_p_exit:
            return f.done(
                MonitorPExit{f.process(e[1], "from"), f.pid(e[2], "to"), f.ref(e[3], "ref"), e[4]});
        case Op::payload_monitor_p_exit:
            return f.done(MonitorPExit{f.process(e[1], "from"), f.pid(e[2], "to"),
                                       f.ref(e[3], "ref"), *payload});
        case Op::spawn_request:
            return spawn_request(f, e, *payload, std::nullopt);
        case Op::spawn_request_tt:
            return spawn_request(f, e, *payload, last);
        case Op::spawn_reply:
        case Op::spawn_reply_tt: {
            SpawnReply m{f.ref(e[1], "req_id"),
                         f.pid(e[2], "to"),
                         f.u32(e[3], "flags"),
                         f.pid_or_atom(e[4], "result"),
                         {}};
            if (op == Op::spawn_reply_tt) m.token = last;
            return f.done(std::move(m));
        }
        case Op::alias_send:
            return f.done(AliasSend{f.pid(e[1], "from"), f.ref(e[2], "alias"), *payload, {}});
        case Op::alias_send_tt:
            return f.done(AliasSend{f.pid(e[1], "from"), f.ref(e[2], "alias"), *payload, last});
        case Op::altact_sig_send:
            return altact_sig_send(f, e, *payload);
        case Op::unlink_id:
            return f.done(UnlinkId{f.unlink_id(e[1]), f.pid(e[2], "from"), f.pid(e[3], "to")});
        case Op::unlink_id_ack:
            return f.done(UnlinkIdAck{f.unlink_id(e[1]), f.pid(e[2], "from"), f.pid(e[3], "to")});
    }
    return unexpected(failure(ControlErrc::not_a_control, "unknown op"));
}

// The op each message goes out as.
struct OpChoice {
    std::uint64_t negotiated;

    bool has(std::uint64_t f) const { return (negotiated & f) != 0; }
    static Op tt(const std::optional<Term>& token, Op plain, Op traced) {
        return token ? traced : plain;
    }

    Op operator()(const Link&) const { return Op::link; }
    Op operator()(const Send& m) const { return tt(m.token, Op::send, Op::send_tt); }
    Op operator()(const SendSender& m) const {
        if (!has(flag::send_sender)) return tt(m.token, Op::send, Op::send_tt);
        return tt(m.token, Op::send_sender, Op::send_sender_tt);
    }
    Op operator()(const RegSend& m) const { return tt(m.token, Op::reg_send, Op::reg_send_tt); }
    Op operator()(const Exit& m) const {
        if (has(flag::exit_payload)) return tt(m.token, Op::payload_exit, Op::payload_exit_tt);
        return tt(m.token, Op::exit, Op::exit_tt);
    }
    Op operator()(const Exit2& m) const {
        if (has(flag::exit_payload)) return tt(m.token, Op::payload_exit2, Op::payload_exit2_tt);
        return tt(m.token, Op::exit2, Op::exit2_tt);
    }
    Op operator()(const Unlink&) const { return Op::unlink; }
    Op operator()(const NodeLink&) const { return Op::node_link; }
    Op operator()(const GroupLeader&) const { return Op::group_leader; }
    Op operator()(const MonitorP&) const { return Op::monitor_p; }
    Op operator()(const DemonitorP&) const { return Op::demonitor_p; }
    Op operator()(const MonitorPExit&) const {
        return has(flag::exit_payload) ? Op::payload_monitor_p_exit : Op::monitor_p_exit;
    }
    Op operator()(const SpawnRequest& m) const {
        return tt(m.token, Op::spawn_request, Op::spawn_request_tt);
    }
    Op operator()(const SpawnReply& m) const {
        return tt(m.token, Op::spawn_reply, Op::spawn_reply_tt);
    }
    Op operator()(const AliasSend& m) const {
        if (has(flag::altact_sig)) return Op::altact_sig_send;
        return tt(m.token, Op::alias_send, Op::alias_send_tt);
    }
    Op operator()(const AliasExit&) const { return Op::altact_sig_send; }
    Op operator()(const UnlinkId&) const { return Op::unlink_id; }
    Op operator()(const UnlinkIdAck&) const { return Op::unlink_id_ack; }
};

// Writes the control tuple field by field, in the order the spec lists them, then the payload.
class ControlWriter {
  public:
    ControlWriter(std::vector<std::uint8_t>& out, Op op, bool with_version,
                  etf::OutgoingAtomCache* cache, etf::Gathered* gathered)
        : out_(out), op_(op), with_version_(with_version), cache_(cache), gathered_(gathered) {}

    void operator()(const Link& m) { pids(m.from, m.to); }
    void operator()(const Send& m) {
        head();
        etf_write::atom(out_, atoms::empty, cache_);
        etf_write::pid(out_, m.to, cache_);
        rest(m.token, m.message);
    }
    void operator()(const SendSender& m) {
        head();
        if (op_ == Op::send_sender || op_ == Op::send_sender_tt)
            etf_write::pid(out_, m.from, cache_);
        else
            etf_write::atom(out_, atoms::empty, cache_);
        etf_write::pid(out_, m.to, cache_);
        rest(m.token, m.message);
    }
    void operator()(const RegSend& m) {
        head();
        etf_write::pid(out_, m.from, cache_);
        etf_write::atom(out_, atoms::empty, cache_);
        etf_write::atom(out_, m.to_name, cache_);
        rest(m.token, m.message);
    }
    void operator()(const Exit& m) { exit_signal(m.from, m.to, m.token, m.reason); }
    void operator()(const Exit2& m) { exit_signal(m.from, m.to, m.token, m.reason); }
    void operator()(const Unlink&) { never_sent(); }
    void operator()(const NodeLink&) { never_sent(); }
    void operator()(const GroupLeader& m) { pids(m.from, m.to); }
    void operator()(const MonitorP& m) { monitor(m.from, m.to, m.ref); }
    void operator()(const DemonitorP& m) { monitor(m.from, m.to, m.ref); }
    void operator()(const MonitorPExit& m) {
        head();
        process(m.from);
        etf_write::pid(out_, m.to, cache_);
        etf_write::reference(out_, m.ref, cache_);
        reason(m.reason);
    }
    void operator()(const SpawnRequest& m) {
        head();
        etf_write::reference(out_, m.req_id, cache_);
        etf_write::pid(out_, m.from, cache_);
        etf_write::pid(out_, m.group_leader, cache_);
        etf_write::small_tuple(out_, 3);
        etf_write::atom(out_, m.module, cache_);
        etf_write::atom(out_, m.function, cache_);
        etf_write::integer(out_, m.arity);
        etf::encode_body(out_, m.options, cache_);
        rest(m.token, m.args);
    }
    void operator()(const SpawnReply& m) {
        head();
        etf_write::reference(out_, m.req_id, cache_);
        etf_write::pid(out_, m.to, cache_);
        etf_write::integer(out_, m.flags);
        etf::encode_body(out_, m.result, cache_);
        if (m.token) etf::encode_body(out_, *m.token, cache_);
    }
    void operator()(const AliasSend& m) {
        if (op_ == Op::altact_sig_send) {
            altact_alias(altact::alias | (m.priority ? altact::priority : 0), m.from, m.alias,
                         m.token, m.message);
            return;
        }
        head();
        etf_write::pid(out_, m.from, cache_);
        etf_write::reference(out_, m.alias, cache_);
        rest(m.token, m.message);
    }
    void operator()(const AliasExit& m) {
        altact_alias(altact::alias | altact::exit | (m.priority ? altact::priority : 0), m.from,
                     m.alias, m.token, m.reason);
    }
    void operator()(const UnlinkId& m) { unlink_id(m.id, m.from, m.to); }
    void operator()(const UnlinkIdAck& m) { unlink_id(m.id, m.from, m.to); }

  private:
    // {37, Flags, From, Alias[, Token]} and the message or reason.
    void altact_alias(std::uint8_t flags, const Pid& from, const Reference& alias,
                      const std::optional<Term>& token, const Term& payload_term) {
        if (token) flags |= altact::token;
        head(token ? 5 : 4);
        etf_write::integer(out_, flags);
        etf_write::pid(out_, from, cache_);
        etf_write::reference(out_, alias, cache_);
        rest(token, payload_term);
    }
    // [131] {Op, ...: the tuple header and the op.
    void head() { head(info(op_).arity); }
    void head(std::uint8_t arity) {
        std::uint8_t* p = etf_write::extend(out_, with_version_ ? 5 : 4);
        if (with_version_) *p++ = etf::version_magic;
        p[0] = etf::tag::small_tuple;
        p[1] = arity;
        p[2] = etf::tag::small_integer;
        p[3] = static_cast<std::uint8_t>(op_);
    }
    void payload(const Term& t) {
        if (gathered_ != nullptr) {
            // Pass-through terms carry their own 131 (and no atom cache references).
            if (with_version_) out_.push_back(etf::version_magic);
            etf::encode_body(out_, t, with_version_ ? nullptr : cache_, *gathered_);
        } else if (with_version_) {
            etf::encode_to(out_, t);
        } else {
            etf::encode_body(out_, t, cache_);
        }
    }
    // The token closes the tuple; the message follows it.
    void rest(const std::optional<Term>& token, const Term& message) {
        if (token) etf::encode_body(out_, *token, cache_);
        payload(message);
    }
    // In the tuple, or after it in the PAYLOAD forms (ops 24 to 28).
    void reason(const Term& r) {
        if (op_ >= Op::payload_exit && op_ <= Op::payload_monitor_p_exit)
            payload(r);
        else
            etf::encode_body(out_, r, cache_);
    }
    void exit_signal(const Pid& from, const Pid& to, const std::optional<Term>& token,
                     const Term& r) {
        head();
        etf_write::pid(out_, from, cache_);
        etf_write::pid(out_, to, cache_);
        if (token) etf::encode_body(out_, *token, cache_);
        reason(r);
    }
    void pids(const Pid& from, const Pid& to) {
        head();
        etf_write::pid(out_, from, cache_);
        etf_write::pid(out_, to, cache_);
    }
    void monitor(const Pid& from, const ProcessId& to, const Reference& ref) {
        head();
        etf_write::pid(out_, from, cache_);
        process(to);
        etf_write::reference(out_, ref, cache_);
    }
    void process(const ProcessId& p) {
        if (const Pid* pid = std::get_if<Pid>(&p))
            etf_write::pid(out_, *pid, cache_);
        else
            etf_write::atom(out_, std::get<Atom>(p), cache_);
    }
    void unlink_id(std::uint64_t id, const Pid& from, const Pid& to) {
        head();
        etf_write::integer(out_, id);
        etf_write::pid(out_, from, cache_);
        etf_write::pid(out_, to, cache_);
    }
    [[noreturn]] void never_sent() {
        throw std::logic_error(std::string(info(op_).name) + " is never sent");
    }

    std::vector<std::uint8_t>& out_;
    Op op_;
    bool with_version_;
    etf::OutgoingAtomCache* cache_;  // null: every atom as text
    etf::Gathered* gathered_;        // null: the payload's binaries copied
};

}  // namespace

const std::error_category& control_category() noexcept {
    static const ErrorCategory<ControlErrc> category("distribute.control", message_of);
    return category;
}

std::error_code make_error_code(ControlErrc e) noexcept {
    return {static_cast<int>(e), control_category()};
}

std::string_view op_name(Op op) noexcept {
    std::size_t i = static_cast<std::size_t>(op);
    return i < op_limit ? op_table[i].name : std::string_view{};
}

bool has_payload(Op op) noexcept {
    std::size_t i = static_cast<std::size_t>(op);
    return i < op_limit && !op_table[i].payload.empty();
}

Expected<Control, ControlError> decode_control(const Term& control, const Term* payload) {
    if (!control.is_tuple())
        return unexpected(failure(ControlErrc::not_a_control, "the control term is not a tuple"));
    std::span<const Term> e = control.elements();
    if (e.empty())
        return unexpected(failure(ControlErrc::not_a_control, "the control tuple is empty"));
    auto code = e[0].to<std::int64_t>();
    if (!code)
        return unexpected(failure(ControlErrc::not_a_control,
                                  "the first element is not a small integer op code"));
    if (*code <= 0 || *code >= static_cast<std::int64_t>(op_limit) ||
        op_table[static_cast<std::size_t>(*code)].name.empty())
        return unexpected(failure(ControlErrc::not_a_control,
                                  "op " + std::to_string(*code) + " is not a known control op"));
    const OpInfo& op = op_table[static_cast<std::size_t>(*code)];
    if (op.extensible ? e.size() < op.arity : e.size() != op.arity)
        return unexpected(failure(ControlErrc::bad_shape, std::string(op.name) + ": a tuple of " +
                                                              std::to_string(e.size()) +
                                                              " elements, expected " +
                                                              (op.extensible ? "at least " : "") +
                                                              std::to_string(op.arity)));
    if (!op.payload.empty() && payload == nullptr)
        return unexpected(failure(ControlErrc::missing_payload, std::string(op.name) + ": no " +
                                                                    std::string(op.payload) +
                                                                    " follows the control tuple"));
    if (op.payload.empty() && payload != nullptr)
        return unexpected(
            failure(ControlErrc::unexpected_payload,
                    std::string(op.name) + ": takes no term after the control tuple"));
    Fields fields(op);
    return decode_fields(static_cast<Op>(*code), fields, e, payload);
}

Op op_for(const Control& control, std::uint64_t negotiated) {
    return std::visit(OpChoice{negotiated}, control);
}

void encode_control(std::vector<std::uint8_t>& out, const Control& control,
                    std::uint64_t negotiated, bool with_version, etf::OutgoingAtomCache* cache,
                    etf::Gathered* gathered) {
    std::visit(ControlWriter(out, op_for(control, negotiated), with_version, cache, gathered),
               control);
}

}  // namespace distribute::wire
