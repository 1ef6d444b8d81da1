// Building a bitstring segment by segment, as Erlang's bit syntax does for literals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "distribute/term.hpp"

namespace distribute::text {

class BitBuilder {
  public:
    // The low `bits` bits of `integer` in two's complement; `little` swaps whole bytes, the
    // high bits left over after them coming last, as <<1:12/little>> =:= <<1,0:4>>.
    void put_integer(const Term& integer, std::size_t bits, bool little);
    // IEEE 754 double (64 bits) or single (32 bits; the value must fit).
    void put_float(double value, std::size_t bits, bool little);
    // A code point (checked by the caller) in UTF-8, UTF-16 or UTF-32 (`width` 8, 16 or 32).
    void put_utf(char32_t c, int width, bool little);

    std::size_t bit_size() const noexcept { return bits_; }
    Term finish() const;

  private:
    // The low `bits` bits of the big-endian number `be` (ceil(bits / 8) bytes).
    void put_bits(std::span<const std::uint8_t> be, std::size_t bits);
    void put_bit(bool bit);
    void put_byte(std::uint8_t byte);

    std::vector<std::uint8_t> bytes_;
    std::size_t bits_ = 0;
};

}  // namespace distribute::text
