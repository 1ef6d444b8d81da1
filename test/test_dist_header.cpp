// Frames with a distribution header (DIST_HDR_ATOM_CACHE) and in fragments (FRAGMENTS), as a BEAM
// sends them once both are agreed. Golden frames were read off the socket of an OTP 25.2.3 node
// (cap@127.0.0.1, creation 0x6b10a249) by a peer offering our flags, as
//   {reg, Py} ! {hello, world, [1,2,3]}               twice
//   {reg, Py} ! {big, binary:copy(<<"0123456789">>, 15000)}
//   {reg, Py} ! {hello, again}
// and, on a fresh connection, {reg, Py} ! {list_to_atom(lists:duplicate(200, $ä)), ok}.
// Our own fragments are checked against the big message's frames: the same headers and cuts.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "byte_support.hpp"
#include "distribute/etf.hpp"
#include "wire/flags.hpp"
#include "wire/fragment_sender.hpp"
#include "wire/framing.hpp"

using namespace distribute;
using namespace distribute::wire;
using namespace distribute::test;

namespace {

// Five new entries: 'cap@127.0.0.1' at 7,123; '' at 0,5; reg at 1,169; hello at 7,207; world
// at 1,170. The control {6, From, '', reg} and the message refer to them as ATOM_CACHE_REF 0..4.
const Bytes first_message =
    hex("8344058ff9097b0d636170403132372e302e302e310500a903726567cf0568656c6c6faa05776f726c64680461"
        "0658520000000009000000006b10a249520152026803520352046b0003010203");
// The same message again: the five entries are only referred to.
const Bytes second_message =
    hex("8344050771017b05a9cfaa6804610658520000000009000000006b10a249520152026803520352046b00030102"
        "03");
// Sequence 0x48_00000093 of three fragments; the first sets big at 1,89.
const Bytes big_first_header =
    hex("834500000048000000930000000000000003040781007b05a959036269676804610658520000000009000000"
        "006b10a24952015202680252036d000249f0");
const Bytes big_second_header = hex("834600000048000000930000000000000002");
const Bytes big_last_header = hex("834600000048000000930000000000000001");
constexpr std::size_t big_first_bytes = 65504;  // of the binary, in the first fragment
constexpr std::size_t big_second_bytes = 65536;
// {hello, again}: four old entries and again, new at 1,171.
const Bytes after_big =
    hex("8344050771097b05a9cfab05616761696e6804610658520000000009000000006b10a2495201520268025203"
        "5204");
// Long atoms (the nibble after the last one's has bit 0 set): every length takes two bytes.
const std::string long_name = [] {
    std::string s;
    for (int i = 0; i < 200; ++i)
        s += "\xc3\xa4";
    return s;
}();
const Bytes long_atom_message =
    concat({hex("8344058fb9197b000d636170403132372e302e302e31050000a90003726567360190"),
            Bytes(long_name.begin(), long_name.end()),
            hex("de00026f6b6804610658520000000009000000006b10a27b52015202680252035204")});

const std::uint64_t beam = offered;  // what a BEAM agrees with us: both flags
const Pid sender{"cap@127.0.0.1"_a, 9, 0, 0x6b10a249};

const std::string pattern = [] {
    std::string s;
    for (int i = 0; i < 15000; ++i)
        s += "0123456789";
    return s;
}();

Bytes big_fragment(const Bytes& header, std::size_t from, std::size_t n) {
    return concat({header, Bytes(pattern.begin() + from, pattern.begin() + from + n)});
}
const Bytes big_frames[3] = {big_fragment(big_first_header, 0, big_first_bytes),
                             big_fragment(big_second_header, big_first_bytes, big_second_bytes),
                             big_fragment(big_last_header, big_first_bytes + big_second_bytes,
                                          pattern.size() - big_first_bytes - big_second_bytes)};

// The frame with its sequence id replaced: another sender's fragments.
Bytes with_sequence(Bytes frame, std::uint64_t sequence) {
    for (int i = 0; i < 8; ++i)
        frame[2 + i] = static_cast<std::uint8_t>(sequence >> (56 - 8 * i));
    return frame;
}

Expected<std::optional<Control>, FrameError> feed(FrameDecoder& decoder, const Bytes& frame) {
    SharedBuffer buffer(frame);
    return decoder.decode(buffer, buffer.span());
}

Control decoded(FrameDecoder& decoder, const Bytes& frame) {
    auto r = feed(decoder, frame);
    REQUIRE_MESSAGE(r, r.error().to_string());
    REQUIRE(r->has_value());
    return **r;
}

void pending(FrameDecoder& decoder, const Bytes& frame) {
    auto r = feed(decoder, frame);
    REQUIRE_MESSAGE(r, r.error().to_string());
    CHECK_FALSE(r->has_value());
}

FrameError failure(FrameDecoder& decoder, const Bytes& frame) {
    auto r = feed(decoder, frame);
    if (r) FAIL("the frame decoded");
    return r.error();
}

bool mentions(const FrameError& e, std::string_view text) {
    return e.detail.find(text) != std::string::npos;
}

// A decoder that has read the first message, whose entries the fragments refer to.
FrameDecoder primed(ReassemblyLimits limits = {}) {
    FrameDecoder decoder(beam, {}, limits);
    REQUIRE(feed(decoder, first_message));
    return decoder;
}

Control hello_world() {
    return RegSend{sender, "reg"_a, tuple("hello"_a, "world"_a, list(1, 2, 3)), {}};
}

}  // namespace

TEST_SUITE("distribution header") {
    TEST_CASE("a BEAM's header with new atom cache entries decodes to its control message") {
        FrameDecoder decoder(beam);
        CHECK(decoded(decoder, first_message) == hello_world());
    }

    TEST_CASE("a later header refers to the entries an earlier one set") {
        FrameDecoder decoder(beam);
        decoded(decoder, first_message);
        CHECK(decoded(decoder, second_message) == hello_world());
        CHECK(decoded(decoder, second_message) == hello_world());
    }

    TEST_CASE("a reference to an entry the peer never set closes the connection (bad_header)") {
        FrameDecoder decoder(beam);
        FrameError e = failure(decoder, second_message);
        CHECK(e.code == FrameErrc::bad_header);
        CHECK(e.offset == 6);
        CHECK(mentions(e, "entry 1915 was never set"));  // 7 * 256 + 123
    }

    TEST_CASE("the long-atoms flag gives every entry a two-byte length") {
        FrameDecoder decoder(beam);
        Control c = decoded(decoder, long_atom_message);
        auto name = Atom::make(long_name);
        REQUIRE(name);
        CHECK(c ==
              Control(RegSend{
                  Pid{"cap@127.0.0.1"_a, 9, 0, 0x6b10a27b}, "reg"_a, tuple(*name, "ok"_a), {}}));
    }

    TEST_CASE("ATOM_CACHE_REF past the header's atoms is bad_term, not a read out of bounds") {
        FrameDecoder decoder(beam);
        Bytes frame = first_message;
        frame[frame.size() - 7] = 5;  // 52 04 (world) becomes 52 05: the header has five atoms
        FrameError e = failure(decoder, frame);
        CHECK(e.code == FrameErrc::bad_term);
        CHECK(mentions(e, "reference 5 of a header with 5 atoms"));
        CHECK(e.offset == frame.size() - 8);
    }

    TEST_CASE("after a header each term is held to max_bytes by itself") {
        // The control term of first_message takes 23 bytes, the message term 12.
        FrameDecoder decoder(beam, {.max_bytes = 23});
        CHECK(std::get<RegSend>(decoded(decoder, first_message)).message ==
              tuple("hello"_a, "world"_a, list(1, 2, 3)));
        FrameDecoder smaller(beam, {.max_bytes = 22});
        FrameError e = failure(smaller, first_message);
        CHECK(e.code == FrameErrc::bad_term);
        CHECK(mentions(e, "control term"));
        CHECK(mentions(e, "within the limit of 22"));
    }

    TEST_CASE("a header or control term cut anywhere is an error that says where, never a crash") {
        for (std::size_t n = 2; n < 62; ++n) {
            CAPTURE(n);
            FrameDecoder decoder(beam);
            FrameError e =
                failure(decoder, Bytes(first_message.begin(), first_message.begin() + n));
            CHECK((e.code == FrameErrc::bad_header || e.code == FrameErrc::bad_term ||
                   e.code == FrameErrc::bad_control));
            CHECK(e.offset <= n);
        }
    }

    TEST_CASE("terms after a header must not carry 131, and pass-through frames are refused") {
        FrameDecoder decoder(beam);
        Bytes with_version = concat({{131, 68, 0}, etf::encode(tuple(1, sender, sender))});
        CHECK(failure(decoder, with_version).code == FrameErrc::bad_term);
        // As on the BEAM: once headers are agreed, every frame has one.
        Bytes pass = concat({{112}, etf::encode(tuple(1, sender, sender))});
        CHECK(failure(decoder, pass).code == FrameErrc::layout_not_negotiated);
    }

    TEST_CASE("a new entry with an invalid atom is bad_header, and safe mode refuses new atoms") {
        FrameDecoder decoder(beam);
        Bytes bad =
            hex("8344010800"
                "01ff");  // one new entry at 0,0: the byte 0xff
        CHECK(failure(decoder, bad).code == FrameErrc::bad_header);
        FrameDecoder safe(beam, {.safe = true});
        Bytes unknown = concat({hex("83440108000d"), Bytes(13, 'q'), hex("52006a")});
        FrameError e = failure(safe, unknown);
        CHECK(e.code == FrameErrc::bad_header);
        CHECK(mentions(e, "safe mode"));
    }

    TEST_CASE("a new entry past the connection's atom budget is bad_header; known atoms pass") {
        etf::AtomBudget budget(0);
        FrameDecoder decoder(beam, {.atom_budget = &budget});
        CHECK(decoded(decoder, first_message) == hello_world());  // every atom of it exists
        Bytes unknown = concat({hex("83440108000d"), Bytes(13, 'z'), hex("52006a")});
        FrameError e = failure(decoder, unknown);
        CHECK(e.code == FrameErrc::bad_header);
        CHECK(mentions(e, "budget of new atoms"));
        CHECK(!Atom::existing(std::string(13, 'z')));
    }
}

TEST_SUITE("fragments") {
    TEST_CASE("a BEAM's binary of 150,000 bytes in three fragments arrives whole") {
        FrameDecoder decoder = primed();
        pending(decoder, big_frames[0]);
        CHECK(decoder.reassembly().sequences_in_progress() == 1);
        pending(decoder, big_frames[1]);
        Control c = decoded(decoder, big_frames[2]);
        CHECK(c == Control(RegSend{sender, "reg"_a, tuple("big"_a, binary(pattern)), {}}));
        CHECK(decoder.reassembly().sequences_in_progress() == 0);
        CHECK(decoder.reassembly().bytes_held() == 0);
    }

    TEST_CASE("a first fragment's header sets cache entries for the frames after it") {
        FrameDecoder decoder = primed();
        pending(decoder, big_frames[0]);
        // Between the fragments of one sender, a whole message of another refers to the cache.
        CHECK(decoded(decoder, second_message) == hello_world());
        pending(decoder, big_frames[1]);
        decoded(decoder, big_frames[2]);
        CHECK(decoded(decoder, after_big) ==
              Control(RegSend{sender, "reg"_a, tuple("hello"_a, "again"_a), {}}));
    }

    TEST_CASE("interleaved sequences of three senders each arrive whole, in their own order") {
        FrameDecoder decoder = primed();
        const std::uint64_t ids[3] = {0x48'00000093, 0x49'00000001, 0x50'00000007};
        for (int f = 0; f < 2; ++f)
            for (std::uint64_t id : ids)
                pending(decoder, with_sequence(big_frames[f], id));
        CHECK(decoder.reassembly().sequences_in_progress() == 3);
        for (std::uint64_t id : ids) {
            Control c = decoded(decoder, with_sequence(big_frames[2], id));
            CHECK(std::get<RegSend>(c).message[1].bytes().size() == pattern.size());
        }
        CHECK(decoder.reassembly().bytes_held() == 0);
    }

    TEST_CASE("a reassembled binary is sliced from the reassembly buffer, not copied again") {
        FrameDecoder decoder = primed();
        pending(decoder, big_frames[0]);
        pending(decoder, big_frames[1]);
        Control c = decoded(decoder, big_frames[2]);
        Term big = std::get<RegSend>(c).message[1];
        CHECK(big.text() == pattern);
    }

    TEST_CASE("the next sequence reuses a completed one's buffer once its binaries are gone") {
        FrameDecoder decoder = primed();
        auto receive_big = [&] {
            pending(decoder, big_frames[0]);
            pending(decoder, big_frames[1]);
            return std::get<RegSend>(decoded(decoder, big_frames[2])).message[1];
        };
        Term first = receive_big();
        const std::uint8_t* first_bytes = first.bytes().data();
        Term second = receive_big();  // the first binary still points into its buffer
        CHECK(second.bytes().data() != first_bytes);
        const std::uint8_t* second_bytes = second.bytes().data();
        second = Term();
        Term third = receive_big();
        CHECK(third.bytes().data() == second_bytes);
        CHECK(third.text() == pattern);
    }

    TEST_CASE(
        "fragments out of order, of no sequence, or a sequence begun twice are bad_fragment") {
        {
            FrameDecoder decoder = primed();
            FrameError e = failure(decoder, big_frames[1]);
            CHECK(e.code == FrameErrc::bad_fragment);
            CHECK(mentions(e, "not in progress"));
        }
        {
            FrameDecoder decoder = primed();
            pending(decoder, big_frames[0]);
            FrameError e = failure(decoder, big_frames[2]);
            CHECK(e.code == FrameErrc::bad_fragment);
            CHECK(mentions(e, "fragment 1 of sequence 309237645459 where 2 was due"));
        }
        {
            FrameDecoder decoder = primed();
            pending(decoder, big_frames[0]);
            CHECK(failure(decoder, big_frames[0]).code == FrameErrc::bad_fragment);
        }
        {
            FrameDecoder decoder = primed();
            Bytes zero = big_frames[1];
            zero[17] = 0;
            CHECK(failure(decoder, zero).code == FrameErrc::bad_fragment);
            CHECK(failure(decoder, Bytes(big_frames[1].begin(), big_frames[1].begin() + 12)).code ==
                  FrameErrc::bad_header);
        }
    }

    TEST_CASE(
        "fragments past the connection's limit are reassembly_limit and free what they held") {
        FrameDecoder decoder = primed(ReassemblyLimits{.max_bytes = 100'000, .max_sequences = 8});
        // The first reserves up to the limit (3 x 65,548 would be more), the second cannot grow.
        pending(decoder, big_frames[0]);
        CHECK(decoder.reassembly().bytes_held() == 100'000);
        FrameError e = failure(decoder, big_frames[1]);
        CHECK(e.code == FrameErrc::reassembly_limit);
        CHECK(mentions(e, "the limit is 100000"));

        FrameDecoder few = primed(ReassemblyLimits{.max_bytes = 1u << 30, .max_sequences = 2});
        pending(few, with_sequence(big_frames[0], 1));
        pending(few, with_sequence(big_frames[0], 2));
        FrameError third = failure(few, with_sequence(big_frames[0], 3));
        CHECK(third.code == FrameErrc::reassembly_limit);
        CHECK(mentions(third, "2 sequences in progress"));
    }

    TEST_CASE("a fragment count the peer inflates reserves no more than the limit") {
        FrameDecoder decoder = primed(ReassemblyLimits{.max_bytes = 1u << 20, .max_sequences = 8});
        Bytes huge = big_frames[0];
        for (int i = 0; i < 8; ++i)
            huge[10 + i] = 0xff;
        pending(decoder, huge);
        CHECK(decoder.reassembly().bytes_held() == 1u << 20);
    }

    TEST_CASE("a first fragment that is also the last decodes at once") {
        FrameDecoder decoder = primed();
        Bytes only = concat({hex("8345"
                                 "0000000000000001"
                                 "0000000000000001"),
                             Bytes(first_message.begin() + 2, first_message.end())});
        CHECK(decoded(decoder, only) == hello_world());
        CHECK(decoder.reassembly().sequences_in_progress() == 0);
    }

    TEST_CASE(
        "continuations joined onto their first fragment in place (as a session does in its "
        "receive buffer) make a first fragment that decodes at once") {
        Bytes whole;
        FrameEncoder(offered & ~flag::dist_hdr_atom_cache).encode(whole, hello_world());
        const Bytes terms(whole.begin() + 7, whole.end());  // after the length and 131,68,0
        const auto piece = [&](std::size_t from, std::size_t to) {
            return Bytes(terms.begin() + static_cast<std::ptrdiff_t>(from),
                         terms.begin() + static_cast<std::ptrdiff_t>(to));
        };
        Bytes joined = concat({hex("8345"
                                   "0000000000000007"
                                   "0000000000000003"
                                   "00"),
                               piece(0, 5)});
        const Bytes second = concat({hex("8346"
                                         "0000000000000007"
                                         "0000000000000002"),
                                     piece(5, 9)});
        const Bytes last = concat({hex("8346"
                                       "0000000000000007"
                                       "0000000000000001"),
                                   piece(9, terms.size())});
        const Bytes other_sequence = concat({hex("8346"
                                                 "0000000000000008"
                                                 "0000000000000002"),
                                             piece(5, 9)});
        auto open = open_sequence(joined, beam);
        REQUIRE(open.has_value());
        CHECK(open->sequence == 7);
        CHECK(open->fragment == 3);
        CHECK_FALSE(open_sequence(joined, beam & ~flag::fragments));
        CHECK_FALSE(open_sequence(Bytes(joined.begin(), joined.begin() + 17), beam));
        CHECK_FALSE(next_fragment_data(*open, last));  // fragment 1 is not next
        CHECK_FALSE(next_fragment_data(*open, other_sequence));
        CHECK_FALSE(next_fragment_data(*open, joined));  // a first fragment
        for (const Bytes* next : {&second, &last}) {
            auto data = next_fragment_data(*open, *next);
            REQUIRE(data.has_value());
            joined.insert(joined.end(), data->begin(), data->end());
            set_fragment_id(joined.data(), --open->fragment);
        }
        // Fragment id 1 now: the whole message, no reassembly.
        CHECK_FALSE(open_sequence(joined, beam));
        FrameDecoder decoder(beam);
        CHECK(decoded(decoder, joined) == hello_world());
        CHECK(decoder.reassembly().sequences_in_progress() == 0);
    }

    TEST_CASE("a first fragment that carries only its header is completed by its continuation") {
        // With fragments agreed but no atom cache, a frame is its length, 131,68,0 and the terms.
        Bytes whole;
        FrameEncoder(offered & ~flag::dist_hdr_atom_cache).encode(whole, hello_world());
        const Bytes terms(whole.begin() + 7, whole.end());  // after the length and 131,68,0
        FrameDecoder decoder(beam);
        pending(decoder, hex("8345"
                             "0000000000000007"
                             "0000000000000002"
                             "00"));
        CHECK(decoded(decoder, concat({hex("8346"
                                           "0000000000000007"
                                           "0000000000000001"),
                                       terms})) == hello_world());
        CHECK(decoder.reassembly().sequences_in_progress() == 0);
    }
}

TEST_SUITE("distribution header encoder") {
    TEST_CASE("with either flag agreed, frames are 131, 68, 0 and terms without 131") {
        const Control c = hello_world();
        Bytes pass;
        FrameEncoder(offered & ~(flag::dist_hdr_atom_cache | flag::fragments)).encode(pass, c);
        for (std::uint64_t flags :
             {beam, offered & ~flag::fragments, offered & ~flag::dist_hdr_atom_cache}) {
            Bytes out;
            FrameEncoder(flags).encode(out, c);
            // Pass-through's 112 becomes 131,68,0 and both terms lose their 131.
            CHECK(out.size() == pass.size());
            CHECK(Bytes(out.begin() + 4, out.begin() + 7) == Bytes{131, 68, 0});
            CHECK(out[7] == 104);  // SMALL_TUPLE_EXT, not 131
            FrameDecoder decoder(flags);
            CHECK(decoded(decoder, Bytes(out.begin() + 4, out.end())) == c);
        }
    }
}

TEST_SUITE("fragment sender") {
    TEST_CASE("a message over 64 KiB goes out in fragments cut and headed as a BEAM's are") {
        const Control big = RegSend{sender, "reg"_a, tuple("big"_a, binary(pattern)), {}};
        FrameEncoder encoder(beam);
        Bytes whole;
        encoder.encode(whole, big);
        const std::size_t terms = whole.size() - uncached_prefix_bytes(beam);
        REQUIRE(fragments_for(big, terms, beam) == 3);
        // The BEAM's cut: 65,536 bytes of terms per fragment, its atom cache part (12 bytes
        // here) not counted.
        CHECK(big_frames[0].size() - 18 - 12 == fragment_data_bytes);
        CHECK(big_frames[1].size() - 18 == fragment_data_bytes);

        OutgoingBytes copied;
        copied.append(whole);
        OutgoingFragments fragments(std::move(copied), uncached_prefix_bytes(beam), 3,
                                    0x4800000093);
        std::vector<Bytes> frames;
        std::size_t sent = 0;
        while (!fragments.done()) {
            OutgoingFragments::Prefix prefix;
            ByteViews views;
            const std::size_t taken = fragments.take(prefix, views);
            Bytes frame;
            for (auto view : views)
                frame.insert(frame.end(), view.begin(), view.end());
            CHECK(taken == frame.size());
            sent += frame.size();
            const std::uint32_t length = (std::uint32_t{frame[0]} << 24) |
                                         (std::uint32_t{frame[1]} << 16) |
                                         (std::uint32_t{frame[2]} << 8) | frame[3];
            CHECK(length == frame.size() - 4);
            frames.emplace_back(frame.begin() + 4, frame.end());
        }
        CHECK(sent == fragments.wire_bytes());
        REQUIRE(frames.size() == 3);
        // The BEAM's headers byte for byte (with its sequence id), then no atom cache refs.
        CHECK(Bytes(frames[0].begin(), frames[0].begin() + 18) ==
              Bytes(big_first_header.begin(), big_first_header.begin() + 18));
        CHECK(frames[0][18] == 0);
        CHECK(Bytes(frames[1].begin(), frames[1].begin() + 18) == big_second_header);
        CHECK(Bytes(frames[2].begin(), frames[2].begin() + 18) == big_last_header);
        CHECK(frames[0].size() == 19 + fragment_data_bytes);
        CHECK(frames[1].size() == 18 + fragment_data_bytes);
        CHECK(frames[2].size() == 18 + terms - 2 * fragment_data_bytes);

        FrameDecoder decoder(beam);
        pending(decoder, frames[0]);
        pending(decoder, frames[1]);
        CHECK(decoded(decoder, frames[2]) == big);
    }

    TEST_CASE("64 KiB of terms go whole and one byte more in two fragments, only with a message") {
        const Control send = SendSender{sender, sender, "x"_a, {}};
        CHECK(fragments_for(send, fragment_data_bytes, beam) == 1);
        CHECK(fragments_for(send, fragment_data_bytes + 1, beam) == 2);
        CHECK(fragments_for(send, 2 * fragment_data_bytes, beam) == 2);
        CHECK(fragments_for(send, 100'000'000, beam) == 1526);
        // Without FRAGMENTS, and for a control that carries no term after it: whole.
        CHECK(fragments_for(send, 100'000'000, beam & ~flag::fragments) == 1);
        CHECK(fragments_for(Link{sender, sender}, 100'000'000, beam) == 1);
        CHECK(fragments_for(Exit{sender, sender, "big"_a, {}}, 100'000'000, beam) == 1526);
    }

    TEST_CASE("the sending process orders what follows a fragmented message") {
        CHECK(sending_process(SendSender{sender, sender, "x"_a, {}}) == sender);
        CHECK(sending_process(MonitorPExit{sender, sender, {}, "x"_a}) == sender);
        CHECK_FALSE(sending_process(MonitorPExit{"name"_a, sender, {}, "x"_a}));
        CHECK_FALSE(sending_process(Send{sender, "x"_a, {}}));
    }
}
