// What a peer can take. A control message goes to a peer only when every distribution flag it
// needs is in the negotiated set (what both nodes offered): a BEAM never sends a peer a signal
// it did not offer to understand, and C nodes (erl_interface, JInterface) close the connection,
// or drop the signal, when they get one. This is the one table every sender goes through; a flag
// that a later release adds plugs in here, beside its control message.
//
// Term encodings need no entry: every flag they depend on (UTF8_ATOMS, NEW_FLOATS, MAP_TAG,
// BIG_CREATION, V4_NC, EXPORT_PTR_TAG, BIT_BINARIES...) is mandatory and required of every peer
// in the handshake, and frames are pass-through while neither DIST_HDR_ATOM_CACHE nor FRAGMENTS
// is offered. SEND_SENDER and EXIT_PAYLOAD need no entry either: without them the same message
// goes out in its older form (op_for chooses).
#pragma once

#include <cstdint>

#include "wire/control.hpp"

namespace distribute::wire {

// The flags `control` needs in the negotiated set; 0 when every peer takes it.
//   MONITOR_P, DEMONITOR_P, MONITOR_P_EXIT   DIST_MONITOR and DIST_MONITOR_NAME, by pid or by
//                                            name alike, as erts sends them (dist.c)
//   SPAWN_REQUEST, SPAWN_REPLY               SPAWN
//   ALIAS_SEND                               ALIAS
//   UNLINK_ID, UNLINK_ID_ACK                 UNLINK_ID
std::uint64_t flags_needed(const Control& control) noexcept;

// Whether `control` may go to a peer with whom `negotiated` was agreed.
inline bool peer_takes(const Control& control, std::uint64_t negotiated) noexcept {
    const std::uint64_t need = flags_needed(control);
    return (negotiated & need) == need;
}

}  // namespace distribute::wire
