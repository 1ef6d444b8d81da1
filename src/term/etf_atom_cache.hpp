// A per-thread memo from atom text on the wire to interned atoms. Atoms repeat (record tags, node
// names, map keys) and the table lookup re-validates and re-hashes the text every time; this
// direct-mapped cache answers a repeat with one short hash and one compare. Atoms are never
// removed, so an entry never goes stale, and safe mode may trust a hit: the atom exists.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>

#include "distribute/term.hpp"

namespace distribute::etf {

class AtomCache {
  public:
    static constexpr std::size_t max_length = 26;

    // `latin1` tells ATOM_EXT text from UTF-8 text: the same bytes may name different atoms.
    std::optional<Atom> find(const char* text, std::size_t len, bool latin1) const noexcept {
        if (len > max_length) return std::nullopt;
        const Entry* set = &entries_[set_of(text, len, latin1)];
        for (int way = 0; way < 2; ++way)
            if (set[way].matches(text, len, latin1)) return Atom::from_index(set[way].index);
        return std::nullopt;
    }

    void insert(const char* text, std::size_t len, bool latin1, Atom atom) noexcept {
        if (len > max_length) return;
        Entry* set = &entries_[set_of(text, len, latin1)];
        // The newer entry goes first; the older one moves to the second way.
        set[1] = set[0];
        set[0].index = atom.index();
        set[0].length = static_cast<std::uint8_t>(len);
        set[0].latin1 = latin1;
        std::memcpy(set[0].text, text, len);
    }

  private:
    // 512 sets of two 32-byte entries: each set is one cache line.
    static constexpr std::size_t sets = 512;
    struct Entry {
        std::uint32_t index = 0;
        std::uint8_t length = 0xFF;  // never a cached length: the entry is empty
        bool latin1 = false;
        char text[max_length];
        bool matches(const char* t, std::size_t len, bool l1) const noexcept {
            return length == len && latin1 == l1 && same_text(text, t, len);
        }
    };
    static_assert(sizeof(Entry) == 32);

    // Atoms are short: overlapping word loads beat a call to memcmp.
    static bool same_text(const char* a, const char* b, std::size_t len) noexcept {
        auto word = [](const char* p) {
            std::uint64_t v;
            std::memcpy(&v, p, 8);
            return v;
        };
        if (len >= 8) {
            std::uint64_t diff = word(a + len - 8) ^ word(b + len - 8);
            for (std::size_t i = 0; i + 8 < len; i += 8)
                diff |= word(a + i) ^ word(b + i);
            return diff == 0;
        }
        if (len >= 4) {
            std::uint32_t x, y, u, v;
            std::memcpy(&x, a, 4), std::memcpy(&y, b, 4);
            std::memcpy(&u, a + len - 4, 4), std::memcpy(&v, b + len - 4, 4);
            return ((x ^ y) | (u ^ v)) == 0;
        }
        for (std::size_t i = 0; i < len; ++i)
            if (a[i] != b[i]) return false;
        return true;
    }

    static std::size_t set_of(const char* text, std::size_t len, bool latin1) noexcept {
        std::uint64_t a = 0;
        std::uint64_t b = 0;
        if (len >= 8) {
            std::memcpy(&a, text, 8);
            std::memcpy(&b, text + len - 8, 8);
        } else if (len >= 4) {
            std::uint32_t x, y;
            std::memcpy(&x, text, 4);
            std::memcpy(&y, text + len - 4, 4);
            a = x, b = y;
        } else if (len > 0) {
            a = static_cast<unsigned char>(text[0]) |
                static_cast<unsigned>(static_cast<unsigned char>(text[len / 2])) << 8 |
                static_cast<unsigned>(static_cast<unsigned char>(text[len - 1])) << 16;
        }
        std::uint64_t h =
            (a ^ (b * 0x9E3779B97F4A7C15ull) ^ (len << 1 | latin1)) * 0xBF58476D1CE4E5B9ull;
        return (static_cast<std::size_t>(h >> 54) & (sets - 1)) * 2;
    }

    alignas(64) std::array<Entry, sets * 2> entries_{};
};

}  // namespace distribute::etf
