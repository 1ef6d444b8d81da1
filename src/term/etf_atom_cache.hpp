// A per-thread memo from atom text on the wire to interned atoms. Atoms repeat (record tags, node
// names, map keys) and the table lookup re-validates and re-hashes the text every time; this
// two-way set-associative cache answers a repeat of a short atom with two word loads, a multiply
// and two compares. Small atoms of up to 24 wire bytes are also keyed by those bytes (tag, length
// and text), which spares the decoder reading the length first. Atoms are never removed, so an
// entry never goes stale, and safe mode may trust a hit: the atom exists.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "distribute/term.hpp"

namespace distribute::etf {

class AtomCache {
  public:
    // `latin1` tells ATOM_EXT text from UTF-8 text: the same bytes may name different atoms.
    // `padded`: 8 bytes can be read from `text` even when the atom is shorter (within the input).
    std::optional<Atom> find(const std::uint8_t* text, std::size_t len, bool latin1,
                             bool padded) const noexcept {
        const Key k = key(text, len, latin1, padded);
        const Entry* set = &entries_[set_of(k)];
        for (int way = 0; way < 2; ++way) {
            const Entry& e = set[way];
            if (e.meta != k.meta || e.head != k.head || e.last != k.last) continue;
            if (len > middle_end && !same_middle(e, text, len)) continue;
            return Atom::from_index(e.index);
        }
        return std::nullopt;
    }

    void insert(const std::uint8_t* text, std::size_t len, bool latin1, bool padded,
                Atom atom) noexcept {
        // A long Latin-1 name with accents has other bytes in the table (UTF-8) than on the wire:
        // such an entry could never be confirmed.
        if (len > covered && !same_rest(atom.name(), text, len)) return;
        store(key(text, len, latin1, padded), len > middle_end ? load(text + 8) : 0, atom);
    }

    // A short atom by its whole wire form: the tag, the length and the text, `n` bytes at `at`
    // (at most wire_max: a node name of up to 22 characters), where wire_max bytes can be read.
    // The tag tells Latin-1 text from UTF-8, so a key names one atom; up to three words and no
    // length decoding answer a repeat.
    static constexpr std::size_t wire_max = 24;
    std::optional<Atom> find_wire(const std::uint8_t* at, std::size_t n) const noexcept {
        const Key k = wire_key(at, n);
        const Entry* set = &entries_[set_of(k)];
        for (int way = 0; way < 2; ++way) {
            const Entry& e = set[way];
            if (e.meta == k.meta && e.head == k.head && e.middle == k.middle && e.last == k.last)
                return Atom::from_index(e.index);
        }
        return std::nullopt;
    }
    void insert_wire(const std::uint8_t* at, std::size_t n, Atom atom) noexcept {
        const Key k = wire_key(at, n);
        store(k, k.middle, atom);
    }

  private:
    // Bytes 0..7 (zero past the end), the last 8 bytes of a longer name, and bytes 8..15 of a
    // name of more than 16: together all of a name of up to 24 bytes. Of a longer name, bytes
    // from 16 on are checked against the atom's own name.
    static constexpr std::size_t middle_end = 16;
    static constexpr std::size_t covered = 24;
    struct Key {
        std::uint64_t head;
        std::uint64_t last;
        std::uint64_t middle;  // wire keys only: bytes 8..15
        std::uint32_t meta;
    };
    struct Entry {
        std::uint64_t head = 0;
        std::uint64_t last = 0;
        std::uint64_t middle = 0;
        std::uint32_t meta = ~std::uint32_t{0};  // no key has this: the entry is empty
        std::uint32_t index = 0;
    };
    static_assert(sizeof(Entry) == 32);
    // 512 sets of two entries: each set is one cache line.
    static constexpr std::size_t sets = 512;

    static std::uint64_t load(const std::uint8_t* p) noexcept {
        std::uint64_t v;
        std::memcpy(&v, p, 8);
        return v;
    }

    static Key key(const std::uint8_t* text, std::size_t len, bool latin1, bool padded) noexcept {
        static_assert(std::endian::native == std::endian::little, "head masks the low bytes");
        Key k;
        k.meta = static_cast<std::uint32_t>(len) | (latin1 ? 1u << 16 : 0u);
        k.middle = 0;
        if (len >= 8) {
            k.head = load(text);
            k.last = len > 8 ? load(text + len - 8) : 0;
        } else if (padded) {
            k.head = load(text) & ((std::uint64_t{1} << (8 * len)) - 1);
            k.last = 0;
        } else {
            k.head = 0;
            std::memcpy(&k.head, text, len);
            k.last = 0;
        }
        return k;
    }

    // Wire keys have this bit in `meta`, which a text key's length and Latin-1 flag never set.
    static constexpr std::uint32_t wire_bit = 1u << 31;
    // Of a wire form of n bytes, the bytes each of its three words keeps.
    struct WireMasks {
        std::uint64_t head, middle, last;
    };
    static constexpr auto wire_masks = [] {
        std::array<WireMasks, wire_max + 1> masks{};
        auto bytes = [](std::size_t k) {
            return k >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * k)) - 1;
        };
        for (std::size_t n = 0; n <= wire_max; ++n)
            masks[n] = {bytes(n), bytes(n > 8 ? n - 8 : 0), bytes(n > 16 ? n - 16 : 0)};
        return masks;
    }();
    // The length byte is in `head`, so the masked words alone tell wire forms apart.
    static Key wire_key(const std::uint8_t* at, std::size_t n) noexcept {
        const WireMasks& m = wire_masks[n];
        Key k;
        k.meta = wire_bit;
        k.head = load(at) & m.head;
        k.middle = load(at + 8) & m.middle;
        k.last = load(at + 16) & m.last;
        return k;
    }

    void store(const Key& k, std::uint64_t middle, Atom atom) noexcept {
        Entry* set = &entries_[set_of(k)];
        // The newer entry goes first; the older one moves to the second way.
        set[1] = set[0];
        set[0] = Entry{k.head, k.last, middle, k.meta, atom.index()};
    }

    static bool same_middle(const Entry& e, const std::uint8_t* text, std::size_t len) noexcept {
        if (load(text + 8) != e.middle) return false;
        return len <= covered || same_rest(Atom::from_index(e.index).name(), text, len);
    }

    static bool same_rest(std::string_view name, const std::uint8_t* text,
                          std::size_t len) noexcept {
        return name.size() == len &&
               std::memcmp(name.data() + middle_end, text + middle_end, len - middle_end) == 0;
    }

    static std::size_t set_of(const Key& k) noexcept {
        std::uint64_t h = (k.head ^ std::rotl(k.middle, 13) ^ std::rotl(k.last, 29) ^ k.meta) *
                          0x9E3779B97F4A7C15ull;
        return static_cast<std::size_t>(h >> 55) * 2;
    }

    alignas(64) std::array<Entry, sets * 2> entries_{};
};

}  // namespace distribute::etf
