#include "wire/capabilities.hpp"

#include "wire/flags.hpp"

namespace distribute::wire {

namespace {

// One overload per control message, none generic: a message added to Control does not compile
// until it says what it needs.
struct Needs {
    static constexpr FlagsNeeded nothing{};
    static constexpr FlagsNeeded monitors{flag::dist_monitor | flag::dist_monitor_name, 0};
    static constexpr FlagsNeeded spawns{flag::spawn, 0};
    static constexpr FlagsNeeded unlink_ids{flag::unlink_id, 0};

    FlagsNeeded operator()(const Link&) const { return nothing; }
    FlagsNeeded operator()(const Send&) const { return nothing; }
    FlagsNeeded operator()(const SendSender&) const { return nothing; }
    FlagsNeeded operator()(const RegSend&) const { return nothing; }
    FlagsNeeded operator()(const Exit&) const { return nothing; }
    FlagsNeeded operator()(const Exit2&) const { return nothing; }
    FlagsNeeded operator()(const Unlink&) const { return nothing; }
    FlagsNeeded operator()(const NodeLink&) const { return nothing; }
    FlagsNeeded operator()(const GroupLeader&) const { return nothing; }
    FlagsNeeded operator()(const MonitorP&) const { return monitors; }
    FlagsNeeded operator()(const DemonitorP&) const { return monitors; }
    FlagsNeeded operator()(const MonitorPExit&) const { return monitors; }
    FlagsNeeded operator()(const SpawnRequest&) const { return spawns; }
    FlagsNeeded operator()(const SpawnReply&) const { return spawns; }
    // ALTACT_SIG_SEND where ALTACT_SIG is agreed, else ALIAS_SEND (op_for): an OTP 30 peer that
    // dropped ALIAS still gets the replies to its gen calls.
    FlagsNeeded operator()(const AliasSend&) const { return {0, flag::altact_sig | flag::alias}; }
    FlagsNeeded operator()(const AliasExit&) const { return {flag::altact_sig, 0}; }
    FlagsNeeded operator()(const UnlinkId&) const { return unlink_ids; }
    FlagsNeeded operator()(const UnlinkIdAck&) const { return unlink_ids; }
};

}  // namespace

FlagsNeeded flags_needed(const Control& control) noexcept {
    return std::visit(Needs{}, control);
}

}  // namespace distribute::wire
