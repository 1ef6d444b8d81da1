// Frames after the handshake: the pass-through layout both ways (distribution headers and
// fragments: test_dist_header.cpp), the layouts that were not
// negotiated, frames cut short or with bytes to spare, and binaries sliced from the receive
// buffer. Golden bytes are term_to_binary(T, [{minor_version, 2}]) on OTP 25 (node g@vm).
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "byte_support.hpp"
#include "distribute/etf.hpp"
#include "wire/flags.hpp"
#include "wire/framing.hpp"

using namespace distribute;
using namespace distribute::wire;
using namespace distribute::test;

namespace {

constexpr std::uint32_t creation = 1796153739;
const Pid p1{"g@vm"_a, 85, 3, creation};
const Pid p2{"g@vm"_a, 90, 0, creation};
const Term msg = tuple("hello"_a, binary("world"), list(1, 2, 3));

// {2, '', P2} with P2 = <0.90.0>, then Msg = {hello, <<"world">>, [1, 2, 3]}.
const Bytes send_control = hex("836803610277005877046740766d0000005a000000006b0f218b");
const Bytes send_message = hex("836803770568656c6c6f6d00000005776f726c646b0003010203");
// {1, P1, P2} with P1 = <0.85.3>.
const Bytes link_control =
    hex("83680361015877046740766d00000055000000036b0f218b5877046740766d0000005a000000006b0f218b");

const Bytes p = {112};
// What a C node agrees with us: neither DIST_HDR_ATOM_CACHE nor FRAGMENTS, so pass-through.
const std::uint64_t pass_flags = offered & ~(flag::dist_hdr_atom_cache | flag::fragments);

Expected<std::optional<Control>, FrameError> decode(const Bytes& frame, std::uint64_t flags = 0,
                                                    const etf::DecodeOptions& options = {}) {
    SharedBuffer buffer(frame);
    FrameDecoder decoder(flags, options);
    return decoder.decode(buffer, buffer.span());
}

Control decoded(const Bytes& frame, std::uint64_t flags = 0) {
    auto r = decode(frame, flags);
    REQUIRE_MESSAGE(r, r.error().to_string());
    REQUIRE(r->has_value());
    return **r;
}

FrameError failure(const Bytes& frame, std::uint64_t flags = 0,
                   const etf::DecodeOptions& options = {}) {
    auto r = decode(frame, flags, options);
    if (r) FAIL("the frame decoded");
    return r.error();
}

bool mentions(const FrameError& e, std::string_view text) {
    return e.detail.find(text) != std::string::npos;
}

}  // namespace

TEST_SUITE("framing") {
    TEST_CASE("a pass-through frame from a BEAM decodes to its control message") {
        CHECK(decoded(concat({p, send_control, send_message})) == Control(Send{p2, msg, {}}));
        CHECK(decoded(concat({p, link_control})) == Control(Link{p1, p2}));
    }

    TEST_CASE("FrameEncoder writes the length, 112 and each term with its own 131") {
        Bytes out;
        FrameEncoder(pass_flags).encode(out, Send{p2, msg, {}});
        Bytes frame = concat({p, send_control, send_message});
        auto n = static_cast<std::uint8_t>(frame.size());
        CHECK(out == concat({{0, 0, 0, n}, frame}));
    }

    TEST_CASE("frames round-trip through the encoder and the decoder") {
        const Reference ref{"g@vm"_a, creation, 3, {3, 2, 1}};
        const Control samples[] = {
            Exit{p1, p2, tuple(atoms::shutdown, binary("why")), {}},
            Exit2{p1, p2, atoms::kill, tuple(0, "lbl"_a, 1, p1, 0)},
            SendSender{p1, p2, msg, {}},
            MonitorPExit{"name"_a, p1, ref, atoms::noproc},
            UnlinkId{~std::uint64_t{0}, p1, p2},
            SpawnRequest{ref, p1, p2, "m"_a, "f"_a, 1, list("link"_a), list(msg), {}},
        };
        for (std::uint64_t flags : {std::uint64_t{0}, offered}) {
            Bytes out;
            FrameEncoder encoder(flags);
            CHECK(encoder.negotiated() == flags);
            for (const Control& c : samples)
                encoder.encode(out, c);
            std::span<const std::uint8_t> rest(out);
            for (const Control& c : samples) {
                CAPTURE(op_name(op_for(c, flags)));
                REQUIRE(rest.size() >= 4);
                std::size_t n = std::size_t{rest[0]} << 24 | std::size_t{rest[1]} << 16 |
                                std::size_t{rest[2]} << 8 | rest[3];
                REQUIRE(rest.size() >= 4 + n);
                Control expected = c;  // without SEND_SENDER the sender is not sent
                const auto* s = std::get_if<SendSender>(&c);
                if (s && !(flags & flag::send_sender)) expected = Send{s->to, s->message, s->token};
                CHECK(decoded(Bytes(rest.begin() + 4, rest.begin() + 4 + n), flags) == expected);
                rest = rest.subspan(4 + n);
            }
            CHECK(rest.empty());
        }
    }

    TEST_CASE("bytes after the last term are trailing_bytes") {
        Bytes frame = concat({p, send_control, send_message, {106}});
        FrameError e = failure(frame);
        CHECK(e.code == FrameErrc::trailing_bytes);
        CHECK(e.offset == frame.size() - 1);
        CHECK(failure(concat({p, link_control, send_message, {0, 0}})).code ==
              FrameErrc::trailing_bytes);
    }

    TEST_CASE("a term after a control message that takes none is bad_control") {
        FrameError e = failure(concat({p, link_control, send_message}));
        CHECK(e.code == FrameErrc::bad_control);
        CHECK(mentions(e, "LINK"));
    }

    TEST_CASE("a frame cut anywhere is an error that says where, never a crash") {
        Bytes frame = concat({p, send_control, send_message});
        for (std::size_t n = 1; n < frame.size(); ++n) {
            CAPTURE(n);
            FrameError e = failure(Bytes(frame.begin(), frame.begin() + n));
            if (n == 1 + send_control.size()) {
                CHECK(e.code == FrameErrc::bad_control);  // SEND without its message
                CHECK(mentions(e, "SEND"));
            } else {
                CHECK(e.code == FrameErrc::bad_term);
                CHECK(e.offset <= n);
                CHECK(mentions(e, n < 1 + send_control.size() ? "control term" : "message term"));
            }
        }
    }

    TEST_CASE("a first byte other than 112 or 131 68..70 is unknown_layout") {
        const Bytes frames[] = {{},           {0},         {113, 131, 97, 1}, {131}, {131, 104, 0},
                                {131, 71, 0}, {131, 67, 0}};
        for (const Bytes& f : frames) {
            CAPTURE(f.size());
            CHECK(failure(f, offered).code == FrameErrc::unknown_layout);
        }
    }

    TEST_CASE("a distribution header or a fragment without its flags is layout_not_negotiated") {
        Bytes body = concat({Bytes(send_control.begin() + 1, send_control.end()),
                             Bytes(send_message.begin() + 1, send_message.end())});
        Bytes header = concat({{131, 68, 0}, body});
        Bytes first_fragment = concat({{131, 69}, Bytes(16, 0), {1, 0}, body});
        Bytes continuation = concat({{131, 70}, Bytes(16, 0), {1}});
        for (const Bytes& f : {header, first_fragment, continuation}) {
            FrameError e = failure(f, pass_flags);
            CHECK(e.code == FrameErrc::layout_not_negotiated);
            CHECK(e.offset == 0);
        }
        // Fragments need FRAGMENTS itself; a dist header needs either flag.
        CHECK(failure(first_fragment, flag::dist_hdr_atom_cache).code ==
              FrameErrc::layout_not_negotiated);
        CHECK(failure(continuation, flag::dist_hdr_atom_cache).code ==
              FrameErrc::layout_not_negotiated);
        CHECK(decode(header, flag::fragments));
    }

    TEST_CASE("binaries of 64 bytes or more are sliced from the receive buffer") {
        Bytes out;
        FrameEncoder(offered).encode(
            out, Send{p2, tuple(binary(std::string(64, 'L')), binary(std::string(63, 's'))), {}});
        SharedBuffer buffer{std::span<const std::uint8_t>(out).subspan(4)};
        FrameDecoder decoder(offered);
        auto r = decoder.decode(buffer, buffer.span());
        REQUIRE(r);
        REQUIRE(r->has_value());
        Term message = std::get<Send>(**r).message;
        const std::uint8_t* begin = buffer.data();
        const std::uint8_t* end = begin + buffer.size();
        const std::uint8_t* large = message[0].bytes().data();
        const std::uint8_t* small = message[1].bytes().data();
        CHECK((large >= begin && large < end));
        CHECK_FALSE((small >= begin && small < end));
        buffer = SharedBuffer();  // the slice keeps the receive buffer alive
        CHECK(message[0].text() == std::string(64, 'L'));
    }

    TEST_CASE("both terms decode with the frame's DecodeOptions") {
        // {6, P1, '', wire_framing_atom_nobody_made} in bytes: the atom must not exist yet.
        std::string name = "wire_framing_atom_nobody_made";
        Bytes reg_send = concat({{131, 104, 4, 97, 6},
                                 hex("5877046740766d00000055000000036b0f218b"),
                                 {119, 0, 119, static_cast<std::uint8_t>(name.size())},
                                 Bytes(name.begin(), name.end())});
        FrameError e = failure(concat({p, reg_send, send_message}), 0, {.safe = true});
        CHECK(e.code == FrameErrc::bad_term);
        CHECK(mentions(e, "control term"));
        CHECK(e.offset > 1);

        Bytes nested = etf::encode(tuple(tuple(1)));
        FrameError deep = failure(concat({p, send_control, nested}), 0, {.max_depth = 1});
        CHECK(deep.code == FrameErrc::bad_term);
        CHECK(mentions(deep, "message term"));
    }

    TEST_CASE("a control term that is not a control message is bad_control with its detail") {
        FrameError unknown = failure(concat({p, etf::encode(tuple(99, "a"_a))}));
        CHECK(unknown.code == FrameErrc::bad_control);
        CHECK(mentions(unknown, "op 99"));
        FrameError field = failure(concat({p, etf::encode(tuple(1, p1, "x"_a))}));
        CHECK(field.code == FrameErrc::bad_control);
        CHECK(mentions(field, "LINK: to"));
        CHECK(failure(concat({p, etf::encode(Term(atoms::ok))})).code == FrameErrc::bad_control);
    }

    TEST_CASE("a frame that cannot be encoded leaves the buffer as it was") {
        Bytes out{1, 2};
        CHECK_THROWS_AS(FrameEncoder(pass_flags).encode(out, Unlink{p1, p2}), std::logic_error);
        CHECK(out == Bytes{1, 2});
        CHECK_THROWS_AS(FrameEncoder(offered).encode(out, Unlink{p1, p2}), std::logic_error);
        CHECK(out == Bytes{1, 2});
    }

    TEST_CASE("every FrameErrc has its own message, and FrameError says where") {
        std::error_code ec = FrameErrc::trailing_bytes;
        CHECK(ec.category() == frame_category());
        std::vector<std::string> seen;
        for (FrameErrc e :
             {FrameErrc::unknown_layout, FrameErrc::layout_not_negotiated, FrameErrc::bad_term,
              FrameErrc::bad_control, FrameErrc::trailing_bytes, FrameErrc::bad_header,
              FrameErrc::bad_fragment, FrameErrc::reassembly_limit}) {
            std::string m = make_error_code(e).message();
            CHECK_FALSE(m.empty());
            for (const std::string& other : seen)
                CHECK(m != other);
            seen.push_back(m);
        }
        std::string text = FrameError{FrameErrc::trailing_bytes, 7, "2 bytes"}.to_string();
        CHECK(text.find("at byte 7: 2 bytes") != std::string::npos);
    }

    TEST_CASE("a tick is a frame of length 0") {
        CHECK(Bytes(std::begin(tick_frame), std::end(tick_frame)) == Bytes{0, 0, 0, 0});
    }
}
