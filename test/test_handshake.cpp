#include <doctest/doctest.h>

#include "wire/flags.hpp"
#include "wire/handshake.hpp"

using namespace distribute::wire;

namespace {

HandshakeSettings settings_for(std::string name, std::string cookie, std::uint32_t seed) {
    HandshakeSettings s;
    s.node_name = std::move(name);
    s.creation = seed * 7 + 1;
    s.offered_flags = offered | flag::published;
    s.required_flags = required_of_peers;
    s.cookie_for = [cookie](const std::string&) { return cookie; };
    s.random_challenge = [n = seed]() mutable { return n += 1000003; };
    return s;
}

// Moves queued bytes between the two sides until neither has anything new to say.
struct Exchange {
    Handshake& a;
    Handshake& b;
    std::vector<std::uint8_t> to_a, to_b;
    Handshake::Event last_a = Handshake::Event::none, last_b = Handshake::Event::none;

    Exchange(Handshake& initiator, Handshake& acceptor) : a(initiator), b(acceptor) {}

    void pump(bool byte_by_byte = false) {
        for (int round = 0; round < 20; ++round) {
            auto out_a = a.take_output();
            auto out_b = b.take_output();
            to_b.insert(to_b.end(), out_a.begin(), out_a.end());
            to_a.insert(to_a.end(), out_b.begin(), out_b.end());
            step(b, to_b, last_b, byte_by_byte);
            step(a, to_a, last_a, byte_by_byte);
        }
    }

    static void step(Handshake& h, std::vector<std::uint8_t>& in, Handshake::Event& last,
                     bool byte_by_byte) {
        std::size_t limit = byte_by_byte ? std::min<std::size_t>(in.size(), 1) : in.size();
        auto p = h.feed(std::span(in.data(), limit));
        if (p.event == Handshake::Event::none && byte_by_byte && !in.empty() && p.used == 0) {
            // Accumulate one more byte at a time until a whole message is there.
            for (std::size_t n = 2; n <= in.size(); ++n) {
                p = h.feed(std::span(in.data(), n));
                if (p.used > 0 || p.event != Handshake::Event::none) break;
            }
        }
        in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(p.used));
        if (p.event != Handshake::Event::none) last = p.event;
    }
};

}  // namespace

TEST_CASE("the digest is MD5 of the cookie and the decimal challenge, as erlang:md5 gives it") {
    std::array<std::uint8_t, 16> expected = {195, 147, 155, 49, 215, 169, 19,  216,
                                             46,  42,  206, 9,  36,  124, 123, 65};
    CHECK(handshake_digest("secret", 3735928559u) == expected);
}

TEST_CASE("send_name is 'N', 64-bit flags, creation and the name, behind a 2-byte length") {
    auto s = settings_for("a@h", "c", 1);
    s.offered_flags = 0x0102030405060708ull;
    s.creation = 0x0A0B0C0D;
    auto h = Handshake::initiate(s, "b@h");
    std::vector<std::uint8_t> expected = {0, 18,  'N', 1,   2,   3, 4, 5,   6,   7,
                                          8, 0xA, 0xB, 0xC, 0xD, 0, 3, 'a', '@', 'h'};
    CHECK(h.take_output() == expected);
}

TEST_CASE("two sides with the same cookie agree on flags, names and creations") {
    auto a = Handshake::initiate(settings_for("a@h", "cookie", 1), "b@h");
    auto b = Handshake::accept(settings_for("b@h", "cookie", 2));
    Exchange x{a, b};
    x.pump();
    REQUIRE(x.last_b == Handshake::Event::peer_named);
    CHECK(b.peer().name == "a@h");
    b.decide(HandshakeStatus::ok);
    x.pump();
    CHECK(x.last_a == Handshake::Event::established);
    CHECK(x.last_b == Handshake::Event::established);
    CHECK(a.peer().name == "b@h");
    CHECK(a.peer().creation == 2 * 7 + 1);
    CHECK(b.peer().creation == 1 * 7 + 1);
    CHECK(a.negotiated_flags() == b.negotiated_flags());
}

TEST_CASE("a peer of a newer release: the flags we lack are left out by the intersection") {
    constexpr std::uint64_t future = (std::uint64_t{1} << 40) | (std::uint64_t{1} << 63);
    auto peer = settings_for("a@h", "cookie", 1);
    peer.offered_flags |= future | flag::dist_hdr_atom_cache | flag::fragments;
    auto a = Handshake::initiate(peer, "b@h");
    auto b = Handshake::accept(settings_for("b@h", "cookie", 2));
    Exchange x{a, b};
    x.pump();
    REQUIRE(x.last_b == Handshake::Event::peer_named);
    b.decide(HandshakeStatus::ok);
    x.pump();
    REQUIRE(x.last_b == Handshake::Event::established);
    CHECK(b.peer().flags == peer.offered_flags);
    CHECK(b.negotiated_flags() == (offered | flag::published));
    CHECK(a.negotiated_flags() == b.negotiated_flags());
    CHECK(unknown_flags(b.peer().flags) == future);
    CHECK(flag_names(b.peer().flags & ~b.negotiated_flags()) ==
          "DIST_HDR_ATOM_CACHE, FRAGMENTS, bit 40, bit 63");
}

TEST_CASE("every flag of OTP 29's dist.hrl has its name; OTP 29's offer has no unknown bit") {
    CHECK(flag_names(flag::altact_sig | flag::native_records | flag::local_ext) ==
          "LOCAL_EXT, ALTACT_SIG, NATIVE_RECORDS");
    // erts_internal:get_dflags() on OTP 29.1: the default flags, 16#6D07DF7FBC.
    CHECK(unknown_flags(0x6D07DF7FBCull) == 0);
    CHECK((0x6D07DF7FBCull & offered) ==
          (0x6D07DF7FBCull & ~(flag::dist_hdr_atom_cache | flag::fragments | flag::atom_cache |
                               flag::hidden_atom_cache)));
}

TEST_CASE("a handshake fed one byte at a time completes the same way") {
    auto a = Handshake::initiate(settings_for("a@h", "cookie", 1), "b@h");
    auto b = Handshake::accept(settings_for("b@h", "cookie", 2));
    Exchange x{a, b};
    x.pump(true);
    REQUIRE(x.last_b == Handshake::Event::peer_named);
    b.decide(HandshakeStatus::ok);
    x.pump(true);
    CHECK(x.last_a == Handshake::Event::established);
    CHECK(x.last_b == Handshake::Event::established);
}

TEST_CASE("a wrong cookie is refused by the acceptor, which sends no ack") {
    auto a = Handshake::initiate(settings_for("a@h", "one", 1), "b@h");
    auto b = Handshake::accept(settings_for("b@h", "two", 2));
    Exchange x{a, b};
    x.pump();
    b.decide(HandshakeStatus::ok);
    x.pump();
    CHECK(x.last_b == Handshake::Event::failed);
    CHECK(b.failure().code == HandshakeErrc::bad_digest);
    CHECK(x.last_a != Handshake::Event::established);
    CHECK(x.to_a.empty());
}

TEST_CASE("a peer without BIG_CREATION is refused with not_allowed and the flag named") {
    auto weak = settings_for("a@h", "c", 1);
    weak.offered_flags &= ~flag::big_creation;
    weak.offered_flags &= ~flag::mandatory_25_digest;
    auto a = Handshake::initiate(weak, "b@h");
    auto b = Handshake::accept(settings_for("b@h", "c", 2));
    Exchange x{a, b};
    x.pump();
    CHECK(x.last_b == Handshake::Event::failed);
    CHECK(b.failure().code == HandshakeErrc::missing_flags);
    CHECK(b.failure().detail.find("BIG_CREATION") != std::string::npos);
    CHECK(x.last_a == Handshake::Event::failed);
    CHECK(a.failure().code == HandshakeErrc::refused);
}

TEST_CASE("the digest bit stands for every OTP 25 mandatory flag") {
    CHECK((expand(flag::mandatory_25_digest) & mandatory_otp25) == mandatory_otp25);
    CHECK(missing_flag_names(expand(flag::mandatory_25_digest), mandatory_otp26) ==
          "UNLINK_ID, V4_NC");
}

TEST_CASE("nok stops the initiator: the acceptor's own attempt wins") {
    auto a = Handshake::initiate(settings_for("a@h", "c", 1), "b@h");
    auto b = Handshake::accept(settings_for("b@h", "c", 2));
    Exchange x{a, b};
    x.pump();
    b.decide(HandshakeStatus::nok);
    x.pump();
    CHECK(x.last_a == Handshake::Event::failed);
    CHECK(a.failure().code == HandshakeErrc::lost_race);
}

TEST_CASE("alive: the initiator may replace the old connection") {
    auto a = Handshake::initiate(settings_for("a@h", "c", 1), "b@h");
    auto b = Handshake::accept(settings_for("b@h", "c", 2));
    Exchange x{a, b};
    x.pump();
    b.decide(HandshakeStatus::alive);
    x.pump();
    REQUIRE(x.last_a == Handshake::Event::peer_says_alive);
    a.replace_alive(true);
    x.pump();
    CHECK(x.last_a == Handshake::Event::established);
    CHECK(x.last_b == Handshake::Event::established);
}

TEST_CASE("alive: an initiator that keeps the old connection ends both sides") {
    auto a = Handshake::initiate(settings_for("a@h", "c", 1), "b@h");
    auto b = Handshake::accept(settings_for("b@h", "c", 2));
    Exchange x{a, b};
    x.pump();
    b.decide(HandshakeStatus::alive);
    x.pump();
    CHECK(a.replace_alive(false) == Handshake::Event::failed);
    CHECK(a.failure().code == HandshakeErrc::gave_up);
    x.pump();
    CHECK(x.last_b == Handshake::Event::failed);
    CHECK(b.failure().code == HandshakeErrc::gave_up);
}

TEST_CASE("a challenge from a node other than the one dialled is refused") {
    auto a = Handshake::initiate(settings_for("a@h", "c", 1), "b@h");
    auto impostor = Handshake::accept(settings_for("z@h", "c", 2));
    Exchange x{a, impostor};
    x.pump();
    impostor.decide(HandshakeStatus::ok);
    x.pump();
    CHECK(x.last_a == Handshake::Event::failed);
    CHECK(a.failure().code == HandshakeErrc::bad_name);
}

TEST_CASE("the old 'n' send_name with a complement is accepted") {
    auto b = Handshake::accept(settings_for("b@h", "c", 2));
    std::vector<std::uint8_t> in = {0, 0, 'n', 0, 5};
    auto low = static_cast<std::uint32_t>(offered);
    for (int i = 3; i >= 0; --i)
        in.push_back(static_cast<std::uint8_t>(low >> (8 * i)));
    for (char c : std::string("a@h"))
        in.push_back(static_cast<std::uint8_t>(c));
    in[1] = static_cast<std::uint8_t>(in.size() - 2);
    auto p = b.feed(in);
    REQUIRE(p.event == Handshake::Event::peer_named);
    b.decide(HandshakeStatus::ok);
    auto high = static_cast<std::uint32_t>(offered >> 32);
    std::vector<std::uint8_t> complement = {0, 9, 'c'};
    for (int i = 3; i >= 0; --i)
        complement.push_back(static_cast<std::uint8_t>(high >> (8 * i)));
    for (std::uint8_t c : {0, 0, 0, 42})
        complement.push_back(c);
    p = b.feed(complement);
    CHECK(p.used == complement.size());
    CHECK(p.event == Handshake::Event::none);
    CHECK(b.peer().creation == 42);
    CHECK((b.peer().flags & flag::v4_nc) != 0);
}

TEST_CASE("malformed input fails the handshake instead of reading past it") {
    SUBCASE("an oversized length") {
        auto b = Handshake::accept(settings_for("b@h", "c", 2));
        std::vector<std::uint8_t> in = {0xFF, 0xFF, 'N'};
        CHECK(b.feed(in).event == Handshake::Event::failed);
        CHECK(b.failure().code == HandshakeErrc::message_too_large);
    }
    SUBCASE("a truncated send_name") {
        auto b = Handshake::accept(settings_for("b@h", "c", 2));
        std::vector<std::uint8_t> in = {0, 4, 'N', 0, 0, 0};
        CHECK(b.feed(in).event == Handshake::Event::failed);
        CHECK(b.failure().code == HandshakeErrc::bad_message);
    }
    SUBCASE("a name without '@'") {
        auto b = Handshake::accept(settings_for("b@h", "c", 2));
        std::vector<std::uint8_t> in = {0, 19, 'N'};
        for (int i = 0; i < 8; ++i)
            in.push_back(i == 3 ? 0xFD : 0xFF);  // every flag but NAME_ME
        for (int i = 0; i < 4; ++i)
            in.push_back(1);
        in.insert(in.end(), {0, 4, 'a', 'b', 'c', 'd'});
        CHECK(b.feed(in).event == Handshake::Event::failed);
        CHECK(b.failure().code == HandshakeErrc::bad_name);
    }
    SUBCASE("an unknown message") {
        auto b = Handshake::accept(settings_for("b@h", "c", 2));
        std::vector<std::uint8_t> in = {0, 1, 'x'};
        CHECK(b.feed(in).event == Handshake::Event::failed);
    }
}

// ---------------------------------------------------------------------------------------------
// Dynamic names (DFLAG_NAME_ME)

namespace {

HandshakeSettings asking_for_name(std::string host, std::uint32_t seed) {
    auto s = settings_for(std::move(host), "cookie", seed);
    s.ask_for_name = true;
    s.creation = 0;
    return s;
}

std::uint64_t challenge_flags(const std::vector<std::uint8_t>& out, std::size_t at) {
    // Len:16, 'N', Flags:64
    std::uint64_t flags = 0;
    for (std::size_t i = 0; i < 8; ++i)
        flags = (flags << 8) | out.at(at + 3 + i);
    return flags;
}

}  // namespace

TEST_CASE("a node without a name sends only its host, with NAME_ME and without PUBLISHED") {
    auto a = Handshake::initiate(asking_for_name("vm", 1), "b@h");
    auto out = a.take_output();
    REQUIRE(out.size() == 2 + 1 + 8 + 4 + 2 + 2);
    const std::uint64_t flags = challenge_flags(out, 0);
    CHECK((flags & flag::name_me) != 0);
    CHECK((flags & flag::published) == 0);
    CHECK(std::vector<std::uint8_t>(out.end() - 4, out.end()) ==
          std::vector<std::uint8_t>{0, 2, 'v', 'm'});
}

TEST_CASE(
    "a peer asking for a name gets the named: status OTP sends, then a challenge with NAME_ME "
    "in PUBLISHED's place, and both sides end with the name given") {
    // What OTP 25.2.3 answered a send_name with NAME_ME and the host "vm".
    const std::vector<std::uint8_t> golden = {0,   29,  's', 'n', 'a', 'm', 'e', 'd', ':', 0,   16,
                                              '2', '5', 'K', '1', '5', '7', 'B', '4', '2', '6', 'U',
                                              'D', 'X', '@', 'v', 'm', 25,  196, 134, 165};
    auto a = Handshake::initiate(asking_for_name("vm", 1), "b@h");
    auto b = Handshake::accept(settings_for("b@h", "cookie", 2));
    Exchange x{a, b};
    x.pump();
    REQUIRE(x.last_b == Handshake::Event::peer_named);
    CHECK(b.peer().wants_name);
    CHECK(b.peer().name == "vm");
    b.assign_peer_name("25K157B426UDX@vm", 0x19C486A5);
    CHECK(b.decide(HandshakeStatus::named) == Handshake::Event::none);
    auto out = b.take_output();
    REQUIRE(out.size() > golden.size());
    CHECK(std::vector<std::uint8_t>(out.begin(), out.begin() + golden.size()) == golden);
    const std::uint64_t flags = challenge_flags(out, golden.size());
    CHECK((flags & flag::name_me) != 0);
    CHECK((flags & flag::published) == 0);

    x.to_a.insert(x.to_a.end(), out.begin(), out.end());
    x.pump();
    CHECK(x.last_a == Handshake::Event::established);
    CHECK(x.last_b == Handshake::Event::established);
    REQUIRE(a.assigned().has_value());
    CHECK(a.assigned()->name == "25K157B426UDX@vm");
    CHECK(a.assigned()->creation == 0x19C486A5u);
    CHECK(b.peer().name == "25K157B426UDX@vm");
    CHECK(b.peer().creation == 0x19C486A5u);
    CHECK((a.negotiated_flags() & flag::name_me) == 0);
}

TEST_CASE("the named: status is refused by an initiator that did not ask, or for another host") {
    SUBCASE("not asked") {
        auto a = Handshake::initiate(settings_for("a@h", "c", 1), "b@h");
        (void)a.take_output();
        std::vector<std::uint8_t> in = {0, 16, 's', 'n', 'a', 'm', 'e', 'd', ':',
                                        0, 3,  'x', '@', 'h', 0,   0,   0,   9};
        CHECK(a.feed(in).event == Handshake::Event::failed);
        CHECK(a.failure().code == HandshakeErrc::bad_message);
    }
    SUBCASE("another host") {
        auto a = Handshake::initiate(asking_for_name("vm", 1), "b@h");
        (void)a.take_output();
        std::vector<std::uint8_t> in = {0, 18,  's', 'n', 'a', 'm', 'e', 'd', ':', 0,
                                        5, 'x', '@', 'o', 't', 'h', 0,   0,   0,   9};
        CHECK(a.feed(in).event == Handshake::Event::failed);
        CHECK(a.failure().code == HandshakeErrc::bad_name);
    }
    SUBCASE("asked, and answered ok") {
        auto a = Handshake::initiate(asking_for_name("vm", 1), "b@h");
        (void)a.take_output();
        std::vector<std::uint8_t> in = {0, 3, 's', 'o', 'k'};
        CHECK(a.feed(in).event == Handshake::Event::failed);
        CHECK(a.failure().code == HandshakeErrc::bad_message);
    }
}

TEST_CASE("a peer asking for a name must send a host alone, without '@'") {
    auto b = Handshake::accept(settings_for("b@h", "c", 2));
    std::vector<std::uint8_t> in = {0, 18, 'N'};
    for (int i = 0; i < 8; ++i)
        in.push_back(0xFF);  // NAME_ME among them
    for (int i = 0; i < 4; ++i)
        in.push_back(1);
    in.insert(in.end(), {0, 3, 'a', '@', 'h'});
    CHECK(b.feed(in).event == Handshake::Event::failed);
    CHECK(b.failure().code == HandshakeErrc::bad_name);
}
