// zlib for the compressed external term format (tag 80): bounded inflate, levelled deflate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace distribute::etf::zlib {

// Inflates `in` into exactly `out.size()` bytes. On success `consumed` is how much of `in` the
// zlib stream took; on failure `why` says what went wrong. Never writes past `out`.
bool inflate_exact(std::span<const std::uint8_t> in, std::span<std::uint8_t> out,
                   std::size_t& consumed, std::string& why);

// Appends the zlib stream of `in` at `level` (0..9) to `out`.
void deflate_append(std::span<const std::uint8_t> in, int level, std::vector<std::uint8_t>& out);

// Deflate expands at most 1032 times, so a declared size beyond this cannot be honest.
inline constexpr std::size_t max_inflate_ratio = 1032;

}  // namespace distribute::etf::zlib
