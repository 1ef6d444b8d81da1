// Frames whose large binaries are gathered instead of copied (wire/outgoing_bytes.hpp): the
// views a write gathers make exactly the bytes the copying encoder writes, whole or in
// fragments, with a fragment boundary inside a binary, for binaries on both sides of the
// threshold and binaries sliced from a buffer.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "byte_support.hpp"
#include "distribute/etf.hpp"
#include "term/etf_gathered.hpp"
#include "wire/flags.hpp"
#include "wire/fragment_sender.hpp"
#include "wire/framing.hpp"
#include "wire/outgoing_bytes.hpp"

using namespace distribute;
using namespace distribute::wire;
using namespace distribute::test;

namespace {

constexpr std::size_t threshold = etf::gathered_binary_bytes;
const Pid from{"a@host"_a, 85, 3, 7};
const Pid to{"b@host"_a, 90, 0, 7};

const std::uint64_t beam = offered;  // distribution headers, atom cache, fragments
const std::uint64_t no_fragments = offered & ~flag::fragments;
const std::uint64_t pass_through = offered & ~(flag::dist_hdr_atom_cache | flag::fragments);

Term bytes_of(std::size_t n, std::uint8_t seed) {
    std::vector<std::uint8_t> b(n);
    for (std::size_t i = 0; i < n; ++i)
        b[i] = static_cast<std::uint8_t>(seed + i * 31);
    return binary(b);
}

Bytes joined(const ByteViews& views) {
    Bytes out;
    for (auto view : views)
        out.insert(out.end(), view.begin(), view.end());
    return out;
}

Bytes flattened(const OutgoingBytes& bytes) {
    ByteViews views;
    bytes.views(views);
    return joined(views);
}

// The same controls through a copying and a gathering encoder (each its own atom cache).
void check_same_bytes(std::uint64_t flags, const std::vector<Control>& controls,
                      bool cached = true) {
    FrameEncoder copying(flags, true), gathering(flags, true);
    Bytes copied;
    OutgoingBytes gathered;
    for (const Control& c : controls) {
        copying.encode(copied, c, cached);
        gathering.encode(gathered, c, cached);
    }
    CHECK(gathered.size() == copied.size());
    CHECK(flattened(gathered) == copied);
}

// Every fragment of `control` as its bytes, taken as the session takes them.
std::vector<Bytes> fragments_of(OutgoingBytes frame, const Control& control,
                                std::size_t* wire_bytes = nullptr) {
    const std::size_t terms_at = uncached_prefix_bytes(beam);
    const std::size_t count = fragments_for(control, frame.size() - terms_at, beam);
    OutgoingFragments fragments(std::move(frame), terms_at, count, 42);
    if (wire_bytes != nullptr) *wire_bytes = fragments.wire_bytes();
    std::vector<Bytes> out;
    while (!fragments.done()) {
        OutgoingFragments::Prefix prefix;
        ByteViews views;
        const std::size_t taken = fragments.take(prefix, views);
        out.push_back(joined(views));
        CHECK(taken == out.back().size());
    }
    return out;
}

}  // namespace

TEST_SUITE("wire gathered frames") {
    TEST_CASE("binaries of the threshold and over are gathered, smaller ones copied") {
        for (std::size_t n :
             {std::size_t{0}, threshold - 1, threshold, 3 * threshold + 7, std::size_t{200'000}}) {
            CAPTURE(n);
            const Control c = SendSender{from, to, tuple("data"_a, bytes_of(n, 3)), {}};
            OutgoingBytes gathered;
            FrameEncoder(beam, true).encode(gathered, c);
            CHECK(gathered.gathered().binaries.size() == (n >= threshold ? 1u : 0u));
            CHECK(gathered.contiguous() == (n < threshold));
            for (std::uint64_t flags : {beam, no_fragments, pass_through}) {
                CAPTURE(flags);
                check_same_bytes(flags, {c});
                check_same_bytes(flags, {c}, false);
            }
        }
    }

    TEST_CASE("several binaries, frames after frames, atoms through the cache") {
        const Term message =
            tuple("batch"_a, bytes_of(threshold, 1), list(bytes_of(10, 2), bytes_of(70'000, 3)),
                  map({{"k"_a, bytes_of(threshold - 1, 4)}, {"v"_a, bytes_of(threshold + 1, 5)}}));
        const std::vector<Control> controls = {
            SendSender{from, to, message, {}},
            RegSend{from, "reg"_a, message, {}},
            Link{from, to},
            SendSender{from, to, bytes_of(threshold * 2, 6), {}},
        };
        for (std::uint64_t flags : {beam, no_fragments, pass_through}) {
            CAPTURE(flags);
            check_same_bytes(flags, controls);
        }
    }

    TEST_CASE("a binary sliced from a buffer, and one in a fun's free variables") {
        // Decoded from a shared buffer, a large binary is a slice of it.
        const Bytes encoded = etf::encode(tuple(bytes_of(100, 1), bytes_of(3 * threshold, 2)));
        SharedBuffer buffer(encoded);
        auto decoded = etf::decode_prefix(buffer, buffer.span());
        REQUIRE(decoded);
        Closure fun;
        fun.arity = 1;
        fun.module = "m"_a;
        fun.old_index = Term(0);
        fun.old_uniq = Term(0);
        fun.pid = Term(from);
        fun.free_vars = {bytes_of(threshold, 9), Term(1)};
        const Control c = SendSender{from, to, tuple(decoded->term, Term(std::move(fun))), {}};
        OutgoingBytes gathered;
        FrameEncoder(beam, true).encode(gathered, c);
        CHECK(gathered.gathered().binaries.size() == 2);
        check_same_bytes(beam, {c});
        check_same_bytes(pass_through, {c});
    }

    TEST_CASE("fragments are the copying encoder's, a boundary falling inside a binary") {
        // 100 encoded bytes, then a binary across the first 64 KiB boundary, then one across
        // the second with its own start in the middle of a fragment.
        const Term message = tuple(bytes_of(100, 1), bytes_of(fragment_data_bytes, 2),
                                   bytes_of(threshold - 1, 3), bytes_of(fragment_data_bytes, 4));
        const Control c = SendSender{from, to, message, {}};
        REQUIRE(goes_in_fragments(c, beam));
        Bytes copied;
        encode_frame(copied, c, beam);
        OutgoingBytes copy;
        copy.append(copied);
        OutgoingBytes gathered;
        encode_frame(gathered, c, beam);
        REQUIRE(gathered.gathered().binaries.size() == 2);
        CHECK(flattened(gathered) == copied);

        std::size_t wire_copied = 0, wire_gathered = 0;
        const auto expected = fragments_of(std::move(copy), c, &wire_copied);
        const auto got = fragments_of(std::move(gathered), c, &wire_gathered);
        REQUIRE(expected.size() == 3);
        CHECK(got == expected);
        CHECK(wire_gathered == wire_copied);

        // They join into the message again.
        FrameDecoder decoder(beam);
        std::optional<Control> out;
        for (const Bytes& frame : got) {
            SharedBuffer buffer(std::span<const std::uint8_t>(frame).subspan(4));
            auto r = decoder.decode(buffer, buffer.span());
            REQUIRE_MESSAGE(r, r.error().to_string());
            if (*r) out = std::move(**r);
        }
        REQUIRE(out);
        CHECK(std::get<SendSender>(*out).message == message);
    }

    TEST_CASE("a fragmented message moved before and between takes stays whole") {
        const Term message = tuple(bytes_of(3 * fragment_data_bytes / 2, 7), "tail"_a);
        const Control c = SendSender{from, to, message, {}};
        Bytes copied;
        encode_frame(copied, c, beam);
        OutgoingBytes copy;
        copy.append(copied);
        const auto expected = fragments_of(std::move(copy), c);

        OutgoingBytes gathered;
        encode_frame(gathered, c, beam);
        const std::size_t terms_at = uncached_prefix_bytes(beam);
        std::optional<OutgoingFragments> first(std::in_place, std::move(gathered), terms_at,
                                               fragments_for(c, copied.size() - terms_at, beam), 1);
        std::vector<Bytes> got;
        while (!first->done()) {
            OutgoingFragments::Prefix prefix;
            ByteViews views;
            first->take(prefix, views);
            got.push_back(joined(views));
            // As a lane's queue moves its items.
            OutgoingFragments moved(std::move(*first));
            first.emplace(std::move(moved));
        }
        REQUIRE(got.size() == expected.size());
        for (std::size_t i = 0; i < got.size(); ++i) {
            CAPTURE(i);
            // The sequence ids differ (42 and 1); everything after them is the same.
            CHECK(Bytes(got[i].begin() + 14, got[i].end()) ==
                  Bytes(expected[i].begin() + 14, expected[i].end()));
        }
    }

    TEST_CASE("a queue cut back or split at a mark keeps its frames' bytes") {
        const Control small = Link{from, to};
        const Control large = SendSender{from, to, tuple(bytes_of(2 * threshold, 1)), {}};
        Bytes small_bytes, large_bytes;
        encode_frame(small_bytes, small, beam);
        encode_frame(large_bytes, large, beam);

        OutgoingBytes queue;
        encode_frame(queue, large, beam);
        const auto mark = queue.mark();
        encode_frame(queue, large, beam);
        encode_frame(queue, small, beam);
        OutgoingBytes lane;
        lane.append(small_bytes);
        queue.move_tail(mark, lane);
        CHECK(flattened(queue) == large_bytes);
        CHECK(flattened(lane) == concat({small_bytes, large_bytes, small_bytes}));
        CHECK(lane.size() == 2 * small_bytes.size() + large_bytes.size());

        const auto before = lane.mark();
        encode_frame(lane, large, beam);
        lane.cut(before);
        CHECK(flattened(lane) == concat({small_bytes, large_bytes, small_bytes}));
        CHECK(lane.size() == before.wire);
        lane.clear(0);
        CHECK(lane.empty());
        CHECK(lane.size() == 0);
    }
}
