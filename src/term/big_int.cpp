// BigInt keeps the wire's sign-and-magnitude bytes; arithmetic and base conversion borrow
// Boost.Multiprecision (header-only, already a dependency through Boost) instead of hand-written
// long division.
#include <algorithm>
// g++ 12 reports a false -Wrestrict inside std::string code that cpp_int::str() instantiates.
#pragma GCC diagnostic ignored "-Wrestrict"
#include <boost/multiprecision/cpp_int.hpp>
#include <iterator>

#include "distribute/term.hpp"

namespace distribute {
namespace {

using boost::multiprecision::cpp_int;

cpp_int to_cpp_int(const BigInt& v) {
    cpp_int out;
    auto mag = v.magnitude();
    if (!mag.empty()) import_bits(out, mag.begin(), mag.end(), 8, false);
    return v.negative() ? cpp_int(-out) : out;
}

BigInt from_cpp_int(const cpp_int& v) {
    std::vector<std::uint8_t> bytes;
    if (v != 0) export_bits(cpp_int(abs(v)), std::back_inserter(bytes), 8, false);
    return BigInt(v < 0, bytes);
}

}  // namespace

BigInt::BigInt(std::int64_t value) : negative_(value < 0) {
    // Negate in unsigned arithmetic so that INT64_MIN has a magnitude too.
    std::uint64_t mag =
        negative_ ? ~static_cast<std::uint64_t>(value) + 1 : static_cast<std::uint64_t>(value);
    for (; mag != 0; mag >>= 8)
        magnitude_.push_back(static_cast<std::uint8_t>(mag));
}

BigInt::BigInt(bool negative, std::span<const std::uint8_t> magnitude_le)
    : negative_(negative), magnitude_(magnitude_le.begin(), magnitude_le.end()) {
    trim();
}

void BigInt::trim() noexcept {
    while (!magnitude_.empty() && magnitude_.back() == 0)
        magnitude_.pop_back();
    if (magnitude_.empty()) negative_ = false;  // there is no -0
}

std::optional<BigInt> BigInt::parse(std::string_view digits, int base) {
    if (base < 2 || base > 36) return std::nullopt;
    bool negative = false;
    if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
        negative = digits[0] == '-';
        digits.remove_prefix(1);
    }
    if (digits.empty()) return std::nullopt;
    cpp_int value = 0;
    // Fold several digits into one machine word before touching the big number.
    std::uint64_t chunk = 0, scale = 1;
    for (char c : digits) {
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'z' ? c - 'a' + 10
                : c >= 'A' && c <= 'Z' ? c - 'A' + 10
                                       : 99;
        if (d >= base) return std::nullopt;
        chunk = chunk * base + d;
        scale *= base;
        if (scale > (std::uint64_t{1} << 56) / 64) {
            value = value * scale + chunk;
            chunk = 0, scale = 1;
        }
    }
    value = value * scale + chunk;
    if (negative) value = -value;
    return from_cpp_int(value);
}

std::string BigInt::to_string(int base) const {
    if (base == 10) return to_cpp_int(*this).str();
    if (base < 2 || base > 36) return {};
    cpp_int v = abs(to_cpp_int(*this));
    if (v == 0) return "0";
    std::string out;
    while (v != 0) {
        int d = static_cast<int>(static_cast<unsigned>(v % base));
        out.push_back(static_cast<char>(d < 10 ? '0' + d : 'A' + d - 10));
        v /= base;
    }
    if (negative_) out.push_back('-');
    std::reverse(out.begin(), out.end());
    return out;
}

std::optional<std::int64_t> BigInt::to_int64() const noexcept {
    if (magnitude_.size() > 8) return std::nullopt;
    std::uint64_t mag = 0;
    for (std::size_t i = magnitude_.size(); i-- > 0;)
        mag = (mag << 8) | magnitude_[i];
    if (!negative_) {
        if (mag > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            return std::nullopt;
        return static_cast<std::int64_t>(mag);
    }
    if (mag > std::uint64_t{1} << 63) return std::nullopt;
    return static_cast<std::int64_t>(~mag + 1);
}

double BigInt::to_double() const noexcept {
    double v = 0;
    for (std::size_t i = magnitude_.size(); i-- > 0;)
        v = v * 256.0 + magnitude_[i];
    return negative_ ? -v : v;
}

BigInt operator+(const BigInt& a, const BigInt& b) {
    return from_cpp_int(to_cpp_int(a) + to_cpp_int(b));
}
BigInt operator-(const BigInt& a, const BigInt& b) {
    return from_cpp_int(to_cpp_int(a) - to_cpp_int(b));
}
BigInt operator*(const BigInt& a, const BigInt& b) {
    return from_cpp_int(to_cpp_int(a) * to_cpp_int(b));
}
BigInt BigInt::operator-() const {
    BigInt out = *this;
    if (!out.is_zero()) out.negative_ = !out.negative_;
    return out;
}

std::strong_ordering operator<=>(const BigInt& a, const BigInt& b) noexcept {
    if (a.negative_ != b.negative_)
        return a.negative_ ? std::strong_ordering::less : std::strong_ordering::greater;
    // Same sign: compare magnitudes, then flip for negatives.
    std::strong_ordering mag = a.magnitude_.size() <=> b.magnitude_.size();
    if (mag == 0) {
        for (std::size_t i = a.magnitude_.size(); i-- > 0;) {
            mag = a.magnitude_[i] <=> b.magnitude_[i];
            if (mag != 0) break;
        }
    }
    if (a.negative_) return 0 <=> mag;
    return mag;
}

}  // namespace distribute
