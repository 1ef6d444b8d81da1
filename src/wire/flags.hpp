// Distribution flags: the capabilities two nodes agree on in the handshake. Each one says which
// OTP release made it mandatory, because that decides whom we can talk to.
#pragma once

#include <cstdint>
#include <string>

namespace distribute::wire {

namespace flag {
inline constexpr std::uint64_t published = 0x1;              // visible node (clear: hidden)
inline constexpr std::uint64_t atom_cache = 0x2;             // obsolete
inline constexpr std::uint64_t extended_references = 0x4;    // mandatory since OTP 25
inline constexpr std::uint64_t dist_monitor = 0x8;           // monitors by pid
inline constexpr std::uint64_t fun_tags = 0x10;              // mandatory since OTP 25
inline constexpr std::uint64_t dist_monitor_name = 0x20;     // monitors by registered name
inline constexpr std::uint64_t hidden_atom_cache = 0x40;     // obsolete
inline constexpr std::uint64_t new_fun_tags = 0x80;          // mandatory since OTP 25
inline constexpr std::uint64_t extended_pids_ports = 0x100;  // mandatory since OTP 25
inline constexpr std::uint64_t export_ptr_tag = 0x200;       // mandatory since OTP 25
inline constexpr std::uint64_t bit_binaries = 0x400;         // mandatory since OTP 25
inline constexpr std::uint64_t new_floats = 0x800;           // mandatory since OTP 25
inline constexpr std::uint64_t unicode_io = 0x1000;
inline constexpr std::uint64_t dist_hdr_atom_cache = 0x2000;  // distribution header, atom cache
inline constexpr std::uint64_t small_atom_tags = 0x4000;
inline constexpr std::uint64_t utf8_atoms = 0x10000;    // mandatory since OTP 25
inline constexpr std::uint64_t map_tag = 0x20000;       // mandatory since OTP 25
inline constexpr std::uint64_t big_creation = 0x40000;  // mandatory since OTP 25
inline constexpr std::uint64_t send_sender = 0x80000;   // SEND_SENDER instead of SEND
inline constexpr std::uint64_t big_seqtrace_labels = 0x100000;
inline constexpr std::uint64_t exit_payload = 0x400000;  // PAYLOAD_EXIT* ops
inline constexpr std::uint64_t fragments = 0x800000;
inline constexpr std::uint64_t handshake_23 = 0x1000000;  // mandatory since OTP 25
inline constexpr std::uint64_t unlink_id = 0x2000000;     // mandatory since OTP 26
// Stands for every OTP 25 mandatory flag. The protocol guide says bit 36; the sources and a real
// OTP 25 node use bit 26.
inline constexpr std::uint64_t mandatory_25_digest = 0x4000000;
inline constexpr std::uint64_t spawn = std::uint64_t{1} << 32;
inline constexpr std::uint64_t name_me = std::uint64_t{1} << 33;
inline constexpr std::uint64_t v4_nc = std::uint64_t{1} << 34;      // mandatory since OTP 26
inline constexpr std::uint64_t alias = std::uint64_t{1} << 35;      // deprecated in OTP 28
inline constexpr std::uint64_t local_ext = std::uint64_t{1} << 36;  // the BEAM's own, never offered
// ALTACT_SIG_SEND (op 37, OTP 28): priority messages, and alias sends once ALIAS is gone.
inline constexpr std::uint64_t altact_sig = std::uint64_t{1} << 37;
inline constexpr std::uint64_t native_records = std::uint64_t{1} << 38;  // RECORD_EXT (OTP 29)
}  // namespace flag

inline constexpr std::uint64_t mandatory_otp25 =
    flag::extended_references | flag::fun_tags | flag::extended_pids_ports | flag::utf8_atoms |
    flag::new_fun_tags | flag::big_creation | flag::new_floats | flag::map_tag |
    flag::export_ptr_tag | flag::bit_binaries | flag::handshake_23;

inline constexpr std::uint64_t mandatory_otp26 = mandatory_otp25 | flag::v4_nc | flag::unlink_id;

// What we require of a peer: OTP 26's set, which every OTP 25 node also offers, so that links use
// UNLINK_ID and identifiers their 64-bit forms on every connection.
inline constexpr std::uint64_t required_of_peers = mandatory_otp26;

// What we offer (PUBLISHED is added for visible nodes). No atom cache and no fragments yet: the
// BEAM then sends pass-through frames.
inline constexpr std::uint64_t offered =
    mandatory_otp26 | flag::mandatory_25_digest | flag::dist_monitor | flag::dist_monitor_name |
    flag::unicode_io | flag::small_atom_tags | flag::send_sender | flag::big_seqtrace_labels |
    flag::exit_payload | flag::spawn | flag::alias | flag::altact_sig | flag::native_records;

// A peer that sets the digest bit has every OTP 25 mandatory flag.
constexpr std::uint64_t expand(std::uint64_t peer) noexcept {
    return (peer & flag::mandatory_25_digest) ? peer | mandatory_otp25 : peer;
}

// The names of the flags in `bits` ("ALIAS, ALTACT_SIG"), comma-separated; a bit without a name
// (one of a release newer than this code) as "bit 40".
std::string flag_names(std::uint64_t bits);

// The names of the flags in `required` that `have` lacks, for the log line of a refusal.
std::string missing_flag_names(std::uint64_t have, std::uint64_t required);

// The bits of `flags` this code has no name for: capabilities of a newer release, which the
// intersection with what we offer leaves out.
std::uint64_t unknown_flags(std::uint64_t flags) noexcept;

}  // namespace distribute::wire
