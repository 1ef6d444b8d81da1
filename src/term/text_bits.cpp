#include "term/text_bits.hpp"

#include <algorithm>
#include <bit>
#include <string>

#include "term/utf8.hpp"

namespace distribute::text {
namespace {

// The value modulo 2^(8 * n) in n bytes, least significant first.
std::vector<std::uint8_t> twos_complement_le(const Term& integer, std::size_t n) {
    std::vector<std::uint8_t> out(n, 0);
    if (auto small = integer.to<std::int64_t>()) {
        auto v = static_cast<std::uint64_t>(*small);
        for (std::size_t i = 0; i < n; ++i)
            out[i] = i < 8 ? static_cast<std::uint8_t>(v >> (8 * i)) : (*small < 0 ? 0xFF : 0);
        return out;
    }
    auto big = *integer.to<BigInt>();
    auto mag = big.magnitude();
    std::copy_n(mag.begin(), std::min(n, mag.size()), out.begin());
    if (big.negative()) {
        unsigned carry = 1;
        for (auto& b : out) {
            unsigned v = static_cast<std::uint8_t>(~b) + carry;
            b = static_cast<std::uint8_t>(v);
            carry = v >> 8;
        }
    }
    return out;
}

}  // namespace

void BitBuilder::put_bit(bool bit) {
    if (bits_ % 8 == 0) bytes_.push_back(0);
    if (bit) bytes_.back() |= static_cast<std::uint8_t>(0x80 >> (bits_ % 8));
    ++bits_;
}

void BitBuilder::put_byte(std::uint8_t byte) {
    std::size_t shift = bits_ % 8;
    if (shift == 0) {
        bytes_.push_back(byte);
    } else {
        bytes_.back() |= static_cast<std::uint8_t>(byte >> shift);
        bytes_.push_back(static_cast<std::uint8_t>(byte << (8 - shift)));
    }
    bits_ += 8;
}

void BitBuilder::put_bits(std::span<const std::uint8_t> be, std::size_t bits) {
    std::size_t lead = bits % 8;
    std::size_t first_full = 0;
    if (lead != 0) {
        for (std::size_t i = lead; i-- > 0;)
            put_bit((be[0] >> i) & 1);
        first_full = 1;
    }
    for (std::size_t i = first_full; i < be.size(); ++i)
        put_byte(be[i]);
}

void BitBuilder::put_integer(const Term& integer, std::size_t bits, bool little) {
    using detail::TermAccess;
    // The common case, as in <<1,2,3>>: no buffers needed.
    if (bits == 8 && TermAccess::tag(integer) == detail::Tag::small_int)
        return put_byte(static_cast<std::uint8_t>(TermAccess::small(integer)));
    std::size_t n = (bits + 7) / 8;
    auto le = twos_complement_le(integer, n);
    if (!little) {
        std::reverse(le.begin(), le.end());
        return put_bits(le, bits);
    }
    for (std::size_t i = 0; i < bits / 8; ++i)
        put_byte(le[i]);
    if (bits % 8 != 0) {
        std::uint8_t rest = le[bits / 8];
        put_bits({&rest, 1}, bits % 8);
    }
}

void BitBuilder::put_float(double value, std::size_t bits, bool little) {
    std::uint8_t be[8];
    std::size_t n = bits / 8;
    std::uint64_t raw = bits == 32 ? std::bit_cast<std::uint32_t>(static_cast<float>(value))
                                   : std::bit_cast<std::uint64_t>(value);
    for (std::size_t i = 0; i < n; ++i)
        be[i] = static_cast<std::uint8_t>(raw >> (8 * (n - 1 - i)));
    if (little) std::reverse(be, be + n);
    put_bits({be, n}, bits);
}

void BitBuilder::put_utf(char32_t c, int width, bool little) {
    auto put_unit = [&](std::uint32_t unit, std::size_t bytes) {
        for (std::size_t i = 0; i < bytes; ++i) {
            std::size_t shift = little ? 8 * i : 8 * (bytes - 1 - i);
            put_byte(static_cast<std::uint8_t>(unit >> shift));
        }
    };
    if (width == 8) {
        std::string encoded;
        utf8::append(encoded, c);
        for (char b : encoded)
            put_byte(static_cast<std::uint8_t>(b));
    } else if (width == 16 && c >= 0x10000) {
        put_unit(0xD800 + ((c - 0x10000) >> 10), 2);
        put_unit(0xDC00 + ((c - 0x10000) & 0x3FF), 2);
    } else {
        put_unit(c, static_cast<std::size_t>(width / 8));
    }
}

Term BitBuilder::finish() const {
    if (bits_ % 8 == 0) return binary(std::span<const std::uint8_t>(bytes_));
    return bitstring(bytes_, static_cast<std::uint8_t>(bits_ % 8));
}

}  // namespace distribute::text
