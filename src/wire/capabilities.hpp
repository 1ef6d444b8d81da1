// What a peer can take. A control message goes to a peer only when the negotiated set (what both
// nodes offered) holds what it needs: a BEAM never sends a peer a signal it did not offer to
// understand, and C nodes (erl_interface, JInterface) close the connection, or drop the signal,
// when they get one. This is the one table every sender goes through; a flag that a later
// release adds plugs in here, beside its control message.
//
// Term encodings need no entry: every flag they depend on (UTF8_ATOMS, NEW_FLOATS, MAP_TAG,
// BIG_CREATION, V4_NC, EXPORT_PTR_TAG, BIT_BINARIES...) is mandatory and required of every peer
// in the handshake, and frames are pass-through while neither DIST_HDR_ATOM_CACHE nor FRAGMENTS
// is offered. SEND_SENDER and EXIT_PAYLOAD need no entry either: without them the same message
// goes out in its older form (op_for chooses), and neither does a priority message, which goes
// as an ordinary one where ALTACT_SIG is missing. NATIVE_RECORDS has none, as on OTP 29: a
// native record is a term, and the BEAM sends it whatever the peer offered
// (docs/otp-releases.md).
#pragma once

#include <cstdint>

#include "wire/control.hpp"

namespace distribute::wire {

// What a control message needs of the negotiated set: every flag in `all`, and at least one in
// `any` when `any` is not empty (a message with two forms, each behind its own flag; op_for
// picks the one the peer offered).
struct FlagsNeeded {
    std::uint64_t all = 0;
    std::uint64_t any = 0;
    bool operator==(const FlagsNeeded&) const = default;
};

// What `control` needs; nothing when every peer takes it.
//   MONITOR_P, DEMONITOR_P, MONITOR_P_EXIT   all of DIST_MONITOR and DIST_MONITOR_NAME, by pid or
//                                            by name alike, as erts sends them (dist.c)
//   SPAWN_REQUEST, SPAWN_REPLY               SPAWN
//   a message to an alias                    one of ALTACT_SIG (as ALTACT_SIG_SEND) and ALIAS
//                                            (as ALIAS_SEND)
//   an exit signal to an alias               ALTACT_SIG (ALTACT_SIG_SEND is its only form)
//   UNLINK_ID, UNLINK_ID_ACK                 UNLINK_ID
FlagsNeeded flags_needed(const Control& control) noexcept;

// Whether `control` may go to a peer with whom `negotiated` was agreed.
inline bool peer_takes(const Control& control, std::uint64_t negotiated) noexcept {
    const FlagsNeeded need = flags_needed(control);
    return (negotiated & need.all) == need.all && (need.any == 0 || (negotiated & need.any) != 0);
}

}  // namespace distribute::wire
