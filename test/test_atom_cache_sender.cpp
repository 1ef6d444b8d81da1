// The send side of the atom cache (DIST_HDR_ATOM_CACHE): our model of the peer's cache, the
// headers we write from it, and their round trip through our own FrameDecoder, which reads them
// as it reads a BEAM's. Also the size check that decides, before encoding, whether a message
// goes in fragments.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "byte_support.hpp"
#include "distribute/etf.hpp"
#include "term/etf_encoded_size.hpp"
#include "term/etf_outgoing_atoms.hpp"
#include "wire/flags.hpp"
#include "wire/fragment_sender.hpp"
#include "wire/framing.hpp"

using namespace distribute;
using namespace distribute::wire;
using namespace distribute::test;

namespace {

const std::uint64_t beam = offered;  // both DIST_HDR_ATOM_CACHE and FRAGMENTS
const Pid sender{"cache_sender@127.0.0.1"_a, 9, 0, 0x6b10a249};

// One frame from `out` (after its length), decoded.
Control decoded(FrameDecoder& decoder, const Bytes& frame) {
    REQUIRE(frame.size() > 4);
    SharedBuffer buffer(Bytes(frame.begin() + 4, frame.end()));
    auto r = decoder.decode(buffer, buffer.span());
    REQUIRE_MESSAGE(r, r.error().to_string());
    REQUIRE(r->has_value());
    return **r;
}

Bytes encoded(FrameEncoder& encoder, const Control& c, bool cached = true) {
    Bytes out;
    encoder.encode(out, c, cached);
    return out;
}

// The header's NumberOfAtomCacheRefs: after the length and 131, 68.
std::size_t ref_count(const Bytes& frame) {
    REQUIRE(frame[4] == 131);
    REQUIRE(frame[5] == 68);
    return frame[6];
}

// Atom ref i's flag nibble.
std::uint8_t nibble(const Bytes& frame, std::size_t i) {
    const std::uint8_t byte = frame[7 + i / 2];
    return i % 2 == 0 ? byte & 0x0f : byte >> 4;
}

// A fresh atom whose cache slot is `slot`, made by trying names.
Atom atom_in_slot(std::size_t slot, const std::string& stem) {
    for (int i = 0;; ++i) {
        auto a = Atom::make(stem + std::to_string(i));
        REQUIRE(a);
        if (etf::OutgoingAtomCache::slot_of(*a) == slot) return *a;
    }
}

Control send_of(Term message) {
    return RegSend{sender, "cache_reg"_a, std::move(message), {}};
}

}  // namespace

TEST_SUITE("atom cache sender") {
    TEST_CASE("a message's atoms go as new entries once, then as references to them") {
        FrameEncoder encoder(beam, true);
        REQUIRE(encoder.caches());
        FrameDecoder decoder(beam);
        const Control c = send_of(tuple("hello_cache"_a, "world_cache"_a, list(1, 2, 3)));
        const Bytes first = encoded(encoder, c);
        const Bytes second = encoded(encoder, c);
        // {6, From, '', cache_reg}: the sender's node, '', cache_reg; hello_cache, world_cache.
        CHECK(ref_count(first) == 5);
        CHECK(ref_count(second) == 5);
        for (std::size_t i = 0; i < 5; ++i) {
            CHECK((nibble(first, i) & 0x8) != 0);   // new entries, with their text
            CHECK((nibble(second, i) & 0x8) == 0);  // the slot alone
        }
        CHECK(second.size() < first.size());
        // No atom text is left in the second frame's terms.
        const std::string text(second.begin(), second.end());
        CHECK(text.find("hello_cache") == std::string::npos);
        CHECK(decoded(decoder, first) == c);
        CHECK(decoded(decoder, second) == c);
    }

    TEST_CASE("two atoms of one slot: the second of a message goes as text, the later one evicts") {
        const Atom a = atom_in_slot(77, "slot_a_");
        const Atom b = atom_in_slot(77, "slot_b_");
        FrameEncoder encoder(beam, true);
        FrameDecoder decoder(beam);
        const Control both = send_of(tuple(a, b, a));
        const Bytes together = encoded(encoder, both);
        const std::string text(together.begin(), together.end());
        CHECK(text.find(std::string(a.name())) != std::string::npos);  // in the header
        CHECK(text.find(std::string(b.name())) != std::string::npos);  // as text in the terms
        CHECK(decoded(decoder, together) == both);
        // b then a then a again: each replaces the slot's entry, the last only refers to it.
        const Bytes only_b = encoded(encoder, send_of(tuple(b)));
        const Bytes only_a = encoded(encoder, send_of(tuple(a)));
        const Bytes again_a = encoded(encoder, send_of(tuple(a)));
        CHECK(decoded(decoder, only_b) == send_of(tuple(b)));
        CHECK(decoded(decoder, only_a) == send_of(tuple(a)));
        CHECK(decoded(decoder, again_a) == send_of(tuple(a)));
        // The message atom is the header's last entry: new, new, then old.
        const std::size_t last = ref_count(only_b) - 1;
        CHECK((nibble(only_b, last) & 0x8) != 0);
        CHECK((nibble(only_a, last) & 0x8) != 0);
        CHECK((nibble(again_a, last) & 0x8) == 0);
        CHECK(again_a.size() < only_a.size());
    }

    TEST_CASE("a message refers to at most 255 atoms; the rest go as text") {
        std::vector<Term> atoms;
        for (int i = 0; i < 400; ++i)
            atoms.emplace_back(*Atom::make("many_atoms_" + std::to_string(i)));
        const Control c = send_of(list_from(atoms));
        FrameEncoder encoder(beam, true);
        FrameDecoder decoder(beam);
        const Bytes first = encoded(encoder, c);
        CHECK(ref_count(first) == 255);
        CHECK(decoded(decoder, first) == c);
        const Bytes second = encoded(encoder, c);
        CHECK(ref_count(second) == 255);
        CHECK(second.size() < first.size());
        CHECK(decoded(decoder, second) == c);
    }

    TEST_CASE("an atom of over 255 bytes of UTF-8 makes every new entry's length two bytes") {
        std::string long_text;
        for (int i = 0; i < 200; ++i)
            long_text += "\xc3\xa4";  // 400 bytes, 200 characters
        const Atom long_atom = *Atom::make(long_text);
        const Control c = send_of(tuple(long_atom, "short_one"_a));
        FrameEncoder encoder(beam, true);
        FrameDecoder decoder(beam);
        const Bytes first = encoded(encoder, c);
        const std::size_t count = ref_count(first);
        CHECK((nibble(first, count) & 0x1) != 0);  // the long-atoms flag
        CHECK(decoded(decoder, first) == c);
        // Only new entries carry lengths: referring to it again needs no flag.
        const Bytes second = encoded(encoder, c);
        CHECK((nibble(second, ref_count(second)) & 0x1) == 0);
        CHECK(decoded(decoder, second) == c);
    }

    TEST_CASE("an uncached frame refers to no atoms and leaves the cache as it was") {
        FrameEncoder encoder(beam, true);
        FrameDecoder decoder(beam);
        const Control c = send_of(tuple("lane_atom"_a));
        const Bytes cached = encoded(encoder, c);
        const Bytes plain = encoded(encoder, send_of(tuple("other_lane_atom"_a)), false);
        CHECK(ref_count(plain) == 0);
        const Bytes again = encoded(encoder, c);
        for (std::size_t i = 0; i < ref_count(again); ++i)
            CHECK((nibble(again, i) & 0x8) == 0);
        // The receiver reads them in any order relative to the uncached one.
        CHECK(decoded(decoder, plain) == send_of(tuple("other_lane_atom"_a)));
        CHECK(decoded(decoder, cached) == c);
        CHECK(decoded(decoder, again) == c);
    }

    TEST_CASE("without the cache, or without DIST_HDR_ATOM_CACHE, headers refer to no atoms") {
        const Control c = send_of(tuple("hello_cache"_a));
        FrameEncoder off(beam, false);
        CHECK_FALSE(off.caches());
        CHECK(ref_count(encoded(off, c)) == 0);
        CHECK_FALSE(FrameEncoder(beam & ~flag::dist_hdr_atom_cache, true).caches());
    }

    TEST_CASE("a message whose encoding fails puts back the slots it took") {
        etf::OutgoingAtomCache cache;
        const Atom a = "abandoned_atom"_a;
        cache.begin_message();
        REQUIRE(cache.ref(a) == 0);
        cache.abandon_message();
        cache.begin_message();
        REQUIRE(cache.ref(a) == 0);
        CHECK(cache.entries()[0].is_new);
        cache.begin_message();
        REQUIRE(cache.ref(a) == 0);
        CHECK_FALSE(cache.entries()[0].is_new);
    }
}

TEST_SUITE("encoded size") {
    TEST_CASE("encoded_body_size is encode_body's size for every kind of term") {
        std::string long_text;  // 300 bytes of UTF-8: ATOM_UTF8_EXT
        for (int i = 0; i < 150; ++i)
            long_text += "\xc3\xa4";
        const std::vector<Term> terms = {
            Term(7),
            Term(-70000),
            Term(std::int64_t{1} << 40),
            Term(2.5),
            "size_atom"_a,
            Term(*Atom::make(long_text)),
            list(1, 2, 300),
            list(1, 2, 3),
            list(),
            list_from(std::vector<Term>{Term(1), "a"_a}, Term(5)),
            tuple("ok"_a, binary("bytes"), map({{"k"_a, Term(1)}})),
            Term(sender),
            Term(Reference{"n@h"_a, 3, 3, {1, 2, 3}}),
            Term(ExportFun{"lists"_a, "map"_a, 2}),
        };
        for (const Term& t : terms) {
            Bytes out;
            etf::encode_body(out, t);
            CHECK(etf::encoded_body_size(t, 1 << 20) == out.size());
        }
    }

    TEST_CASE("it stops past its limit, and decides which messages go in fragments") {
        const Term big = tuple("big"_a, binary(std::string(100000, 'b')));
        CHECK(etf::encoded_body_size(big, 1000) > 1000);
        const Control large = send_of(big);
        const Control small = send_of(tuple("small"_a));
        CHECK(goes_in_fragments(large, beam));
        CHECK_FALSE(goes_in_fragments(small, beam));
        CHECK_FALSE(goes_in_fragments(large, beam & ~flag::fragments));
        CHECK_FALSE(goes_in_fragments(Link{sender, sender}, beam));
        // Exactly 64 KiB of payload goes whole, one byte more in fragments.
        const std::size_t binary_head = 5;
        CHECK_FALSE(goes_in_fragments(
            send_of(binary(std::string(fragment_data_bytes - binary_head, 'x'))), beam));
        CHECK(goes_in_fragments(
            send_of(binary(std::string(fragment_data_bytes - binary_head + 1, 'x'))), beam));
    }
}
