// Distribution control messages (ops 1 to 37), one struct per message family, named after the
// protocol's own names. A family covers the plain, the seq-trace (_TT) and the PAYLOAD forms of
// one message: decoding accepts every form a peer may send, encoding picks the best form the
// negotiated flags allow. Messages and exit reasons travel inside the struct, so the runtime never
// sees which form came over the wire.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "distribute/error.hpp"
#include "distribute/etf.hpp"
#include "distribute/expected.hpp"
#include "distribute/term.hpp"
#include "term/etf_gathered.hpp"
#include "term/etf_outgoing_atoms.hpp"

namespace distribute::wire {

// The op codes of the spec (erl_dist_protocol, dist.h).
enum class Op : std::uint8_t {
    link = 1,
    send = 2,
    exit = 3,
    unlink = 4,  // obsolete since OTP 26: decoded, never sent
    node_link = 5,
    reg_send = 6,
    group_leader = 7,
    exit2 = 8,
    send_tt = 12,
    exit_tt = 13,
    reg_send_tt = 16,
    exit2_tt = 18,
    monitor_p = 19,
    demonitor_p = 20,
    monitor_p_exit = 21,
    send_sender = 22,
    send_sender_tt = 23,
    payload_exit = 24,
    payload_exit_tt = 25,
    payload_exit2 = 26,
    payload_exit2_tt = 27,
    payload_monitor_p_exit = 28,
    spawn_request = 29,
    spawn_request_tt = 30,
    spawn_reply = 31,
    spawn_reply_tt = 32,
    alias_send = 33,
    alias_send_tt = 34,
    unlink_id = 35,
    unlink_id_ack = 36,
    // OTP 28: a message or an exit signal to a pid, a registered name or an alias, with flags
    // (priority, token); an alternate form of SEND_SENDER, REG_SEND, ALIAS_SEND and EXIT2.
    altact_sig_send = 37,
};

// The Flags element of ALTACT_SIG_SEND (erts's ERTS_DOP_ALTACT_SIG_FLG_*). Only the low byte
// means anything; a peer may set bits above it (or send a bignum) for future use.
namespace altact {
inline constexpr std::uint8_t priority = 0x1;  // a priority signal
inline constexpr std::uint8_t token = 0x2;     // the tuple has a fifth element, the trace token
inline constexpr std::uint8_t alias = 0x4;     // To is an alias (a reference)
inline constexpr std::uint8_t name = 0x8;      // To is a registered name
inline constexpr std::uint8_t exit = 0x10;     // an exit signal, the reason after the tuple
}  // namespace altact

// The spec's name of an op ("PAYLOAD_EXIT2"), for log lines; empty for a value that is no op.
std::string_view op_name(Op op) noexcept;
// Whether the op carries a term after the control term (a message, reason or argument list).
bool has_payload(Op op) noexcept;

// A monitor's target or origin: a pid, or a registered name (monitors by name).
using ProcessId = std::variant<Pid, Atom>;

// `token` is the seq_trace token of the _TT forms: kept, never interpreted.

struct Link {  // op 1
    Pid from;
    Pid to;
    bool operator==(const Link&) const = default;
};
// SEND (2) and SEND_TT (12): no sender. The tuple's Unused element is dropped when decoding (the
// BEAM puts '' there, erl_interface the cookie) and sent as ''.
struct Send {
    Pid to;
    Term message;
    std::optional<Term> token;
    bool operator==(const Send&) const = default;
};
// SEND_SENDER (22) and SEND_SENDER_TT (23): the same with the sender, when SEND_SENDER is
// negotiated. Also ALTACT_SIG_SEND to a pid: a priority flag there means nothing, since only a
// priority alias takes priority messages.
struct SendSender {
    Pid from;
    Pid to;
    Term message;
    std::optional<Term> token;
    bool operator==(const SendSender&) const = default;
};
struct RegSend {  // 6, 16, and ALTACT_SIG_SEND to a name
    Pid from;
    Atom to_name;
    Term message;
    std::optional<Term> token;
    bool operator==(const RegSend&) const = default;
};
// An exit signal over a link: EXIT (3), EXIT_TT (13), PAYLOAD_EXIT (24), PAYLOAD_EXIT_TT (25).
struct Exit {
    Pid from;
    Pid to;
    Term reason;
    std::optional<Term> token;
    bool operator==(const Exit&) const = default;
};
// exit/2: EXIT2 (8), EXIT2_TT (18), PAYLOAD_EXIT2 (26), PAYLOAD_EXIT2_TT (27), ALTACT_SIG_SEND
// with the exit flag to a pid.
struct Exit2 {
    Pid from;
    Pid to;
    Term reason;
    std::optional<Term> token;
    bool operator==(const Exit2&) const = default;
};
struct Unlink {  // 4, obsolete
    Pid from;
    Pid to;
    bool operator==(const Unlink&) const = default;
};
struct NodeLink {  // 5, ancient
    bool operator==(const NodeLink&) const = default;
};
struct GroupLeader {  // 7
    Pid from;
    Pid to;
    bool operator==(const GroupLeader&) const = default;
};
struct MonitorP {  // 19
    Pid from;
    ProcessId to;
    Reference ref;
    bool operator==(const MonitorP&) const = default;
};
struct DemonitorP {  // 20
    Pid from;
    ProcessId to;
    Reference ref;
    bool operator==(const DemonitorP&) const = default;
};
// MONITOR_P_EXIT (21) and PAYLOAD_MONITOR_P_EXIT (28). `from` is the kind the monitor used.
struct MonitorPExit {
    ProcessId from;
    Pid to;
    Reference ref;
    Term reason;
    bool operator==(const MonitorPExit&) const = default;
};
// SPAWN_REQUEST (29) and SPAWN_REQUEST_TT (30).
struct SpawnRequest {
    Reference req_id;
    Pid from;
    Pid group_leader;
    Atom module;
    Atom function;
    std::uint32_t arity = 0;
    Term options;  // a list
    Term args;     // the argument list, sent after the control term
    std::optional<Term> token;
    bool operator==(const SpawnRequest&) const = default;
};
// SPAWN_REPLY (31) and SPAWN_REPLY_TT (32).
struct SpawnReply {
    static constexpr std::uint32_t link_made = 1;
    static constexpr std::uint32_t monitor_made = 2;
    Reference req_id;
    Pid to;
    std::uint32_t flags = 0;
    Term result;  // the new pid, or an error atom
    std::optional<Term> token;
    bool operator==(const SpawnReply&) const = default;
};
// A message to an alias: ALIAS_SEND (33), ALIAS_SEND_TT (34), and ALTACT_SIG_SEND with the alias
// flag, which goes out instead where ALTACT_SIG is negotiated (as the BEAM sends it; ALIAS_SEND
// is deprecated since OTP 28). `priority` needs ALTACT_SIG: without it the message goes out as
// an ordinary one.
struct AliasSend {
    Pid from;
    Reference alias;
    Term message;
    std::optional<Term> token;
    bool priority = false;
    bool operator==(const AliasSend&) const = default;
};
// exit_signal/2,3 to an alias (OTP 28): only as ALTACT_SIG_SEND with the exit and alias flags.
struct AliasExit {
    Pid from;
    Reference alias;
    Term reason;
    std::optional<Term> token;
    bool priority = false;
    bool operator==(const AliasExit&) const = default;
};
struct UnlinkId {  // 35
    std::uint64_t id = 0;
    Pid from;
    Pid to;
    bool operator==(const UnlinkId&) const = default;
};
struct UnlinkIdAck {  // 36
    std::uint64_t id = 0;
    Pid from;
    Pid to;
    bool operator==(const UnlinkIdAck&) const = default;
};

using Control = std::variant<Link, Send, SendSender, RegSend, Exit, Exit2, Unlink, NodeLink,
                             GroupLeader, MonitorP, DemonitorP, MonitorPExit, SpawnRequest,
                             SpawnReply, AliasSend, AliasExit, UnlinkId, UnlinkIdAck>;

enum class ControlErrc {
    not_a_control = 1,   // not a tuple whose first element is a known op code
    bad_shape,           // a known op with the wrong arity or field types
    missing_payload,     // an op that needs a second term came without one
    unexpected_payload,  // an op that takes no second term came with one
};
const std::error_category& control_category() noexcept;
std::error_code make_error_code(ControlErrc e) noexcept;

// Its detail names the op and the field.
using ControlError = CodedError<ControlErrc>;

// A control tuple and, for the ops that have one, the term after it (message, reason or
// arguments).
[[nodiscard]] Expected<Control, ControlError> decode_control(const Term& control,
                                                             const Term* payload);

// The op a message goes out as under `negotiated` flags: SEND_SENDER over SEND, PAYLOAD_* over
// the reason-in-tuple forms, _TT when a token is present, ALTACT_SIG_SEND for alias sends.
Op op_for(const Control& control, std::uint64_t negotiated);

// Appends the control term (with 131 when `with_version`) and its payload term, if any, in the
// form op_for() chose. Written straight into `out`, without building an intermediate tuple.
// With a `cache` (after a distribution header, not `with_version`), atoms go as the references
// it chooses. With `gathered`, the payload term's large binaries are gathered there instead of
// copied (etf_gathered.hpp).
void encode_control(std::vector<std::uint8_t>& out, const Control& control,
                    std::uint64_t negotiated, bool with_version,
                    etf::OutgoingAtomCache* cache = nullptr, etf::Gathered* gathered = nullptr);

}  // namespace distribute::wire

template <>
struct std::is_error_code_enum<distribute::wire::ControlErrc> : std::true_type {};
