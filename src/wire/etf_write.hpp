// Writes the external-term-format bytes of identifiers and integers straight into an outgoing
// buffer, exactly as etf::encode_body writes them, so that control tuples need no Term to be
// built first (a Pid or Reference term is a heap object).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include "distribute/term.hpp"
#include "term/etf_outgoing_atoms.hpp"
#include "term/etf_tags.hpp"

namespace distribute::wire::etf_write {

// Room for `n` more bytes at the end of `out`.
inline std::uint8_t* extend(std::vector<std::uint8_t>& out, std::size_t n) {
    std::size_t at = out.size();
    out.resize(at + n);
    return out.data() + at;
}

inline void small_tuple(std::vector<std::uint8_t>& out, std::uint8_t arity) {
    std::uint8_t* p = extend(out, 2);
    p[0] = etf::tag::small_tuple;
    p[1] = arity;
}

// SMALL_ATOM_UTF8_EXT below 256 bytes of UTF-8, ATOM_UTF8_EXT above; ATOM_CACHE_REF when
// `cache` gives the atom a reference.
inline void atom(std::vector<std::uint8_t>& out, Atom a, etf::OutgoingAtomCache* cache = nullptr) {
    if (cache != nullptr) {
        const int ref = cache->ref(a);
        if (ref >= 0) {
            std::uint8_t* p = extend(out, 2);
            p[0] = etf::tag::atom_cache_ref;
            p[1] = static_cast<std::uint8_t>(ref);
            return;
        }
    }
    std::string_view name = a.name();
    std::size_t n = name.size();
    std::uint8_t* p;
    if (n <= 255) {
        p = extend(out, 2 + n);
        p[0] = etf::tag::small_atom_utf8;
        p[1] = static_cast<std::uint8_t>(n);
        p += 2;
    } else {
        p = extend(out, 3 + n);
        p[0] = etf::tag::atom_utf8;
        etf::wire::store16(p + 1, static_cast<std::uint16_t>(n));
        p += 3;
    }
    std::memcpy(p, name.data(), n);
}

inline void pid(std::vector<std::uint8_t>& out, const Pid& pid,
                etf::OutgoingAtomCache* cache = nullptr) {
    out.push_back(etf::tag::new_pid);
    atom(out, pid.node, cache);
    std::uint8_t* p = extend(out, 12);
    etf::wire::store32(p, pid.id);
    etf::wire::store32(p + 4, pid.serial);
    etf::wire::store32(p + 8, pid.creation);
}

inline void reference(std::vector<std::uint8_t>& out, const Reference& ref,
                      etf::OutgoingAtomCache* cache = nullptr) {
    std::uint8_t* p = extend(out, 3);
    p[0] = etf::tag::newer_reference;
    etf::wire::store16(p + 1, ref.size);
    atom(out, ref.node, cache);
    p = extend(out, 4 + 4 * std::size_t{ref.size});
    etf::wire::store32(p, ref.creation);
    for (std::size_t i = 0; i < ref.size; ++i)
        etf::wire::store32(p + 4 + 4 * i, ref.words[i]);
}

// The smallest tag, as the BEAM picks it: SMALL_INTEGER_EXT, INTEGER_EXT, then SMALL_BIG_EXT with
// as many digit bytes as the value needs.
inline void integer(std::vector<std::uint8_t>& out, std::uint64_t v) {
    if (v <= 255) {
        std::uint8_t* p = extend(out, 2);
        p[0] = etf::tag::small_integer;
        p[1] = static_cast<std::uint8_t>(v);
    } else if (v <= static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max())) {
        std::uint8_t* p = extend(out, 5);
        p[0] = etf::tag::integer;
        etf::wire::store32(p + 1, static_cast<std::uint32_t>(v));
    } else {
        std::size_t n = (static_cast<std::size_t>(std::bit_width(v)) + 7) / 8;
        std::uint8_t* p = extend(out, 3 + n);
        p[0] = etf::tag::small_big;
        p[1] = static_cast<std::uint8_t>(n);
        p[2] = 0;
        for (std::size_t i = 0; i < n; ++i, v >>= 8)
            p[3 + i] = static_cast<std::uint8_t>(v);
    }
}

}  // namespace distribute::wire::etf_write
