// Encoding with large binaries left in place: the encoder writes a large binary's tag and size
// but not its bytes, and notes where they belong, so that a frame goes out as views (encoded
// bytes, the binary's own bytes, encoded bytes, ...) written with one gathering write instead of
// being copied into the encode buffer first (issue 14: zero copy both ways).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "distribute/term.hpp"

namespace distribute::etf {

class OutgoingAtomCache;

// Binaries of at least this many bytes are gathered instead of copied. Below it, a copy into
// the encode buffer costs less than one more view in the write and the reference that keeps the
// binary alive (README, node benchmark, "64 KB, send": the profile and the threshold).
inline constexpr std::size_t gathered_binary_bytes = 4096;

// One binary left out of an encoding: its bytes belong at offset `at` of the output, between the
// encoded bytes before and after it.
struct GatheredBinary {
    std::size_t at;
    std::span<const std::uint8_t> bytes;
    Term keep;  // the binary: its reference keeps the bytes alive until they are written
};

struct Gathered {
    std::vector<GatheredBinary> binaries;  // in output order
    std::size_t bytes = 0;                 // all of theirs
};

// encode_body (no 131, atoms through `cache` when not null) with binaries of at least
// gathered_binary_bytes appended to `gathered` instead of copied into `out`.
void encode_body(std::vector<std::uint8_t>& out, const Term& term, OutgoingAtomCache* cache,
                 Gathered& gathered);

}  // namespace distribute::etf
