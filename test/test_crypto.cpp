// The encrypted transport's pure parts: the Noise handshake against the cacophony test vectors
// (ChaChaPoly) and the AESGCM cipher against libsodium's AES-256-GCM with Noise's nonce, the
// record layer against tampering (a flipped bit, a replayed, reordered or truncated record) and
// its rekeying with both ciphers, the hello that wraps the handshake and picks the cipher, and the
// key files.
#include <doctest/doctest.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "crypto/hello.hpp"
#include "crypto/key_text.hpp"
#include "crypto/noise.hpp"
#include "crypto/records.hpp"
#include "distribute/crypto.hpp"

using namespace distribute;
using namespace distribute::crypto;

namespace {

std::vector<std::uint8_t> hex(const std::string& text) {
    std::vector<std::uint8_t> out(text.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = static_cast<std::uint8_t>(std::stoi(text.substr(2 * i, 2), nullptr, 16));
    return out;
}

Key key(const std::string& text) {
    Key k{};
    const auto bytes = hex(text);
    std::copy(bytes.begin(), bytes.end(), k.begin());
    return k;
}

std::vector<std::uint8_t> bytes(const std::string& text) {
    return {text.begin(), text.end()};
}

std::vector<std::uint8_t> seal_with(CipherState& cipher, const std::vector<std::uint8_t>& plain) {
    std::vector<std::uint8_t> out(plain.size() + tag_bytes);
    REQUIRE(cipher.encrypt({}, plain, out.data()));
    return out;
}

struct Pair {
    RecordSealer sealer;
    RecordOpener opener;
};

// Both ends of one direction, keyed alike.
Pair direction(Cipher cipher, RekeyPolicy policy = {}) {
    Key k{};
    randombytes_buf(k.data(), k.size());
    return Pair{RecordSealer(CipherState(cipher, k), policy), RecordOpener(CipherState(cipher, k))};
}

// The ciphers, as types for TEST_CASE_TEMPLATE: every test of the handshake and the records runs
// with each. AESGCM needs the hardware: the machines the tests run on have it, and a test says
// so rather than passing without it.
struct ChaChaPoly {
    static constexpr Cipher cipher = Cipher::ChaChaPoly;
};
struct AesGcm {
    static constexpr Cipher cipher = Cipher::AESGCM;
};
#define CIPHERS ChaChaPoly, AesGcm

void require_cipher(Cipher cipher) {
    REQUIRE(sodium_init() >= 0);
    if (cipher == Cipher::AESGCM)
        REQUIRE_MESSAGE(aesgcm_available(), "this CPU lacks AES-NI or PCLMUL: AESGCM untested");
}

const auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);

// The record layer over vectors: seal appends the records of `data` to `out`; open appends the
// data of the records that open.
bool seal(RecordSealer& sealer, std::span<const std::uint8_t> data, std::vector<std::uint8_t>& out,
          std::chrono::steady_clock::time_point at) {
    const std::span<const std::uint8_t> parts[] = {data};
    const std::size_t before = out.size();
    out.resize(before + RecordSealer::max_sealed_size(data.size()));
    auto written = sealer.seal(parts, out.data() + before, at);
    out.resize(before + written.value_or(0));
    return written.has_value();
}

RecordOpener::Opened open(RecordOpener& opener, std::span<const std::uint8_t> in,
                          std::vector<std::uint8_t>& out) {
    const std::size_t before = out.size();
    out.resize(before + in.size());
    auto opened = opener.open(in, std::span(out).subspan(before));
    out.resize(before + opened.produced);
    return opened;
}

}  // namespace

TEST_SUITE("crypto") {
    // Noise_NNpsk0_25519_ChaChaPoly_SHA256 from the cacophony vectors (as shipped in
    // mcginty/snow, tests/vectors/cacophony.txt): our handshake and transport bytes are Noise's.
    TEST_CASE("NNpsk0 reproduces the cacophony test vector byte for byte") {
        REQUIRE(sodium_init() >= 0);
        const auto prologue = hex("4a6f686e2047616c74");
        const Key psk = key("54686973206973206d7920417573747269616e20706572737065637469766521");
        HandshakeParams init;
        init.pattern = Pattern::NNpsk0;
        init.initiator = true;
        init.prologue = prologue;
        init.psk = psk;
        init.local_ephemeral = KeyPair::from_secret(
            key("893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a"));
        HandshakeParams resp = init;
        resp.initiator = false;
        resp.local_ephemeral = KeyPair::from_secret(
            key("bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b"));
        Handshake initiator(init);
        Handshake responder(resp);

        auto m0 = initiator.write_message(hex("4c756477696720766f6e204d69736573"));
        REQUIRE(m0.has_value());
        CHECK(*m0 == hex("ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c794479b962b8"
                         "aff8485742ac32f905ba45369e2465fb59e138a93d67a0d1266b6a54"));
        auto p0 = responder.read_message(*m0);
        REQUIRE(p0.has_value());
        CHECK(*p0 == hex("4c756477696720766f6e204d69736573"));

        auto m1 = responder.write_message(hex("4d757272617920526f746862617264"));
        REQUIRE(m1.has_value());
        CHECK(*m1 == hex("95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843d6062704"
                         "d5a9c422a8e834423f8c1feada7e8d0d910a1a2cd030fb584221e3"));
        REQUIRE(initiator.read_message(*m1).has_value());

        auto i = initiator.split();
        auto r = responder.split();
        // The file's handshake_hash (054a32ea...) is h after the first message, not after the
        // handshake: message 2's tag, checked above, authenticates h up to its payload, and the
        // final h follows from the bytes. Both sides must agree on it.
        CHECK(i.handshake_hash == r.handshake_hash);
        CHECK(seal_with(i.send, hex("462e20412e20486179656b")) ==
              hex("e632c3763d7669067383433197a3baddf146e9e70ad4b4e9e59e0f"));
        CHECK(seal_with(r.send, hex("4361726c204d656e676572")) ==
              hex("64c6bee32ea91c8474bb4c21d7a700109ad45af77b29764ba5eb1e"));
        CHECK(seal_with(i.send, hex("4a65616e2d426170746973746520536179")) ==
              hex("e2fa0bed0603b62d3ccac2ecabbf3fe33f3e86514909b323361626266cb2471cc8"));
        CHECK(seal_with(r.send, hex("457567656e2042f6686d20766f6e2042617765726b")) ==
              hex("0c01dc9cec1fe4ddd692e8dd32188aa351088dc91183639a53b57aa4692b5ebdef8b8ca111"));
    }

    // No cacophony vectors for AESGCM here: the cipher is checked against libsodium's own
    // AES-256-GCM (and ChaCha20-Poly1305) under the nonces Noise spells out, and the handshake
    // with it end to end below.
    TEST_CASE_TEMPLATE(
        "a cipher state is libsodium's AEAD under Noise's nonce: 4 zero bytes and the counter, "
        "little-endian for ChaChaPoly, big-endian for AESGCM; rekey encrypts zeros at 2^64-1",
        T, CIPHERS) {
        require_cipher(T::cipher);
        const bool aes = T::cipher == Cipher::AESGCM;
        Key k{};
        randombytes_buf(k.data(), k.size());
        const auto ad = bytes("associated"), plain = bytes("a Noise transport message");
        using Nonce = std::array<std::uint8_t, 12>;
        auto reference = [&](const Key& key, const Nonce& nonce, std::span<const std::uint8_t> m,
                             std::span<const std::uint8_t> data) {
            std::vector<std::uint8_t> out(m.size() + tag_bytes);
            if (aes)
                crypto_aead_aes256gcm_encrypt(out.data(), nullptr, m.data(), m.size(), data.data(),
                                              data.size(), nullptr, nonce.data(), key.data());
            else
                crypto_aead_chacha20poly1305_ietf_encrypt(out.data(), nullptr, m.data(), m.size(),
                                                          data.data(), data.size(), nullptr,
                                                          nonce.data(), key.data());
            return out;
        };
        const Nonce zero{};
        const Nonce n258 = aes ? Nonce{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x02}
                               : Nonce{0, 0, 0, 0, 0x02, 0x01, 0, 0, 0, 0, 0, 0};
        const Nonce n259 = aes ? Nonce{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x03}
                               : Nonce{0, 0, 0, 0, 0x03, 0x01, 0, 0, 0, 0, 0, 0};
        const Nonce largest{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

        CipherState sender(T::cipher, k), receiver(T::cipher, k);
        std::vector<std::uint8_t> sealed(plain.size() + tag_bytes);
        REQUIRE(sender.encrypt(ad, plain, sealed.data()));
        CHECK(sealed == reference(k, zero, plain, ad));
        std::vector<std::uint8_t> opened(plain.size());
        REQUIRE(receiver.decrypt(ad, sealed, opened.data()));
        CHECK(opened == plain);
        for (int n = 1; n < 258; ++n)
            REQUIRE(sender.encrypt(ad, plain, sealed.data()));
        REQUIRE(sender.encrypt(ad, plain, sealed.data()));
        CHECK(sender.nonce() == 259);
        CHECK(sealed == reference(k, n258, plain, ad));

        const std::array<std::uint8_t, 32> zeros{};
        const auto next = reference(k, largest, zeros, {});
        Key rekeyed{};
        std::copy(next.begin(), next.begin() + 32, rekeyed.begin());
        sender.rekey();
        CHECK(sender.nonce() == 259);
        REQUIRE(sender.encrypt(ad, plain, sealed.data()));
        CHECK(sealed == reference(rekeyed, n259, plain, ad));
    }

    TEST_CASE("a handshake under one cipher does not complete under the other") {
        require_cipher(Cipher::AESGCM);
        Key psk{};
        HandshakeParams init{Pattern::NNpsk0, Cipher::AESGCM, true, {}, psk, {}, {}, {}};
        HandshakeParams resp{Pattern::NNpsk0, Cipher::ChaChaPoly, false, {}, psk, {}, {}, {}};
        Handshake initiator(init), responder(resp);
        auto m0 = initiator.write_message({});
        REQUIRE(m0.has_value());
        auto read = responder.read_message(*m0);
        REQUIRE_FALSE(read.has_value());
        CHECK(read.error().detail.find("does not authenticate") != std::string::npos);
        CHECK(protocol_name(Pattern::NNpsk0, Cipher::AESGCM) == "Noise_NNpsk0_25519_AESGCM_SHA256");
        CHECK(protocol_name(Pattern::KKpsk0, Cipher::ChaChaPoly) ==
              "Noise_KKpsk0_25519_ChaChaPoly_SHA256");
    }

    TEST_CASE_TEMPLATE("KKpsk0 agrees on keys when both sides hold the keys the other pinned", T,
                       CIPHERS) {
        require_cipher(T::cipher);
        const auto a = KeyPair::generate(), b = KeyPair::generate();
        Key psk{};
        psk[0] = 7;
        HandshakeParams init{Pattern::KKpsk0, T::cipher, true, bytes("p"), psk, a,
                             b.public_key,    {}};
        HandshakeParams resp{Pattern::KKpsk0, T::cipher, false, bytes("p"), psk, b,
                             a.public_key,    {}};
        Handshake initiator(init), responder(resp);
        auto m0 = initiator.write_message({});
        REQUIRE(responder.read_message(*m0).has_value());
        auto m1 = responder.write_message({});
        REQUIRE(initiator.read_message(*m1).has_value());
        auto i = initiator.split();
        auto r = responder.split();
        CHECK(i.handshake_hash == r.handshake_hash);
        auto sealed = seal_with(i.send, bytes("hello"));
        std::vector<std::uint8_t> opened(5);
        CHECK(r.receive.decrypt({}, sealed, opened.data()));
        CHECK(opened == bytes("hello"));
    }

    TEST_CASE_TEMPLATE("KKpsk0 fails when the responder's key is not the one the initiator pinned",
                       T, CIPHERS) {
        require_cipher(T::cipher);
        const auto a = KeyPair::generate(), b = KeyPair::generate(), mallory = KeyPair::generate();
        Key psk{};
        HandshakeParams init{Pattern::KKpsk0, T::cipher, true, {}, psk, a, b.public_key, {}};
        HandshakeParams resp{Pattern::KKpsk0, T::cipher, false, {}, psk, mallory, a.public_key, {}};
        Handshake initiator(init), responder(resp);
        auto m0 = initiator.write_message({});
        auto read = responder.read_message(*m0);
        REQUIRE_FALSE(read.has_value());
        CHECK(read.error().code == CryptoErrc::handshake_failed);
        CHECK(read.error().detail.find("does not authenticate") != std::string::npos);
    }

    TEST_CASE_TEMPLATE("NNpsk0 fails on the first message when the pre-shared keys differ", T,
                       CIPHERS) {
        require_cipher(T::cipher);
        Key one{}, two{};
        two[31] = 1;
        HandshakeParams init{Pattern::NNpsk0, T::cipher, true, {}, one, {}, {}, {}};
        HandshakeParams resp{Pattern::NNpsk0, T::cipher, false, {}, two, {}, {}, {}};
        Handshake initiator(init), responder(resp);
        auto m0 = initiator.write_message({});
        CHECK_FALSE(responder.read_message(*m0).has_value());
    }

    TEST_CASE_TEMPLATE("records carry a stream of any size across record boundaries", T, CIPHERS) {
        require_cipher(T::cipher);
        auto [sealer, opener] = direction(T::cipher);
        std::vector<std::uint8_t> data(200'000);
        for (std::size_t i = 0; i < data.size(); ++i)
            data[i] = static_cast<std::uint8_t>(i * 7);
        std::vector<std::uint8_t> wire;
        REQUIRE(seal(sealer, data, wire, now));
        CHECK(wire.size() == RecordSealer::sealed_size(data.size()));
        // Fed in odd pieces, as TCP may deliver them.
        std::vector<std::uint8_t> out;
        std::size_t begin = 0, end = 0;
        while (end < wire.size()) {
            end = std::min(wire.size(), end + 1000 + end % 777);
            auto opened = open(opener, std::span(wire).subspan(begin, end - begin), out);
            REQUIRE_FALSE(opened.failed);
            begin += opened.used;
        }
        CHECK(begin == wire.size());
        CHECK(out == data);
    }

    TEST_CASE_TEMPLATE("parts are sealed together into full records, whatever their sizes", T,
                       CIPHERS) {
        require_cipher(T::cipher);
        auto [sealer, opener] = direction(T::cipher);
        std::vector<std::uint8_t> big(max_record_data + 100);
        for (std::size_t i = 0; i < big.size(); ++i)
            big[i] = static_cast<std::uint8_t>(i * 13);
        const auto head = bytes("a small header"), tail = bytes("a small trailer");
        const std::span<const std::uint8_t> parts[] = {head, big, {}, tail};
        const std::size_t total = head.size() + big.size() + tail.size();
        std::vector<std::uint8_t> wire(RecordSealer::max_sealed_size(total));
        auto written = sealer.seal(parts, wire.data(), now);
        REQUIRE(written.has_value());
        // Two records, the first one full: the small parts do not get records of their own.
        CHECK(*written == RecordSealer::sealed_size(total));
        CHECK(*written == total + 2 * (record_header_bytes + 1 + tag_bytes));
        CHECK(((std::size_t{wire[0]} << 8) | wire[1]) == max_record_bytes);
        wire.resize(*written);
        std::vector<std::uint8_t> out;
        REQUIRE_FALSE(open(opener, wire, out).failed);
        // What went in, part after part.
        REQUIRE(out.size() == total);
        CHECK(std::equal(head.begin(), head.end(), out.begin()));
        CHECK(std::equal(big.begin(), big.end(), out.begin() + head.size()));
        CHECK(std::equal(tail.begin(), tail.end(), out.end() - tail.size()));
    }

    TEST_CASE_TEMPLATE("records open straight into a buffer as far as their data and type byte fit",
                       T, CIPHERS) {
        require_cipher(T::cipher);
        auto [sealer, opener] = direction(T::cipher);
        std::vector<std::uint8_t> wire;
        REQUIRE(seal(sealer, bytes("abc"), wire, now));
        const std::size_t first = wire.size();
        REQUIRE(seal(sealer, bytes("defg"), wire, now));
        // Room for "abc" and its type byte, not for "defg" and its type byte.
        std::array<std::uint8_t, 7> room{};
        auto opened = opener.open(wire, room);
        CHECK_FALSE(opened.failed);
        CHECK(opened.blocked);
        CHECK(opened.used == first);
        CHECK(opened.produced == 3);
        CHECK(std::string(room.begin(), room.begin() + 3) == "abc");
        // The blocked record is left whole: it opens into a larger buffer.
        std::array<std::uint8_t, 5> more{};
        opened = opener.open(std::span(wire).subspan(first), more);
        CHECK_FALSE(opened.blocked);
        CHECK(opened.used == wire.size() - first);
        CHECK(std::string(more.begin(), more.begin() + 4) == "defg");
    }

    TEST_CASE_TEMPLATE("a flipped bit anywhere in a record fails it and says so", T, CIPHERS) {
        require_cipher(T::cipher);
        for (std::size_t bit : {0u, 9u, 16u, 40u, 8u * 30}) {
            auto [sealer, opener] = direction(T::cipher);
            std::vector<std::uint8_t> wire, out;
            REQUIRE(seal(sealer, bytes("a message to tamper with"), wire, now));
            wire[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
            auto opened = open(opener, wire, out);
            if (bit < 16) {
                // A length header flipped: either too short to be a record, or waiting for bytes
                // that never come (which the transport reports as cut short), never opened.
                CHECK(out.empty());
                CHECK((opened.failed || opened.used == 0));
            } else {
                CHECK(opened.failed);
                CHECK(opened.why.find("failed authentication") != std::string::npos);
                CHECK(out.empty());
            }
        }
    }

    TEST_CASE_TEMPLATE("a replayed record fails authentication", T, CIPHERS) {
        require_cipher(T::cipher);
        auto [sealer, opener] = direction(T::cipher);
        std::vector<std::uint8_t> first, out;
        REQUIRE(seal(sealer, bytes("pay 100"), first, now));
        auto wire = first;
        wire.insert(wire.end(), first.begin(), first.end());
        auto opened = open(opener, wire, out);
        CHECK(opened.failed);
        CHECK(opened.used == first.size());
        CHECK(opened.why.find("record 1 failed authentication") != std::string::npos);
        CHECK(out == bytes("pay 100"));
    }

    TEST_CASE_TEMPLATE("records swapped in order fail authentication", T, CIPHERS) {
        require_cipher(T::cipher);
        auto [sealer, opener] = direction(T::cipher);
        std::vector<std::uint8_t> one, two, out;
        REQUIRE(seal(sealer, bytes("first"), one, now));
        REQUIRE(seal(sealer, bytes("second"), two, now));
        auto wire = two;
        wire.insert(wire.end(), one.begin(), one.end());
        auto opened = open(opener, wire, out);
        CHECK(opened.failed);
        CHECK(opened.used == 0);
        CHECK(out.empty());
    }

    TEST_CASE_TEMPLATE("a truncated record is not opened: nothing of it is delivered", T, CIPHERS) {
        require_cipher(T::cipher);
        auto [sealer, opener] = direction(T::cipher);
        std::vector<std::uint8_t> wire, out;
        REQUIRE(seal(sealer, bytes("cut short"), wire, now));
        wire.pop_back();
        auto opened = open(opener, wire, out);
        CHECK_FALSE(opened.failed);
        CHECK(opened.used == 0);
        CHECK(out.empty());
    }

    TEST_CASE_TEMPLATE("a record shorter than a type byte and a tag is refused", T, CIPHERS) {
        require_cipher(T::cipher);
        auto [sealer, opener] = direction(T::cipher);
        std::vector<std::uint8_t> out;
        const std::vector<std::uint8_t> wire = {0, 5, 1, 2, 3, 4, 5};
        auto opened = open(opener, wire, out);
        CHECK(opened.failed);
        CHECK(opened.why.find("less than a type byte and a tag") != std::string::npos);
    }

    TEST_CASE_TEMPLATE(
        "the sender rekeys after the record count, tells the receiver, and both go on", T,
        CIPHERS) {
        require_cipher(T::cipher);
        auto [sealer, opener] = direction(T::cipher, RekeyPolicy{3, std::chrono::seconds(600)});
        std::vector<std::uint8_t> wire, out;
        for (int i = 0; i < 10; ++i)
            REQUIRE(seal(sealer, bytes("m" + std::to_string(i)), wire, now));
        auto opened = open(opener, wire, out);
        REQUIRE_FALSE(opened.failed);
        CHECK(sealer.rekeys() == 3);
        CHECK(opener.rekeys() == 3);
        CHECK(out == bytes("m0m1m2m3m4m5m6m7m8m9"));
    }

    TEST_CASE_TEMPLATE("the sender rekeys once the time is up", T, CIPHERS) {
        require_cipher(T::cipher);
        auto [sealer, opener] =
            direction(T::cipher, RekeyPolicy{1'000'000, std::chrono::seconds(600)});
        std::vector<std::uint8_t> wire, out;
        REQUIRE(seal(sealer, bytes("before"), wire, now));
        REQUIRE(seal(sealer, bytes("still"), wire, now + std::chrono::seconds(599)));
        REQUIRE(seal(sealer, bytes("after"), wire, now + std::chrono::seconds(600)));
        REQUIRE_FALSE(open(opener, wire, out).failed);
        CHECK(sealer.rekeys() == 1);
        CHECK(opener.rekeys() == 1);
        CHECK(out == bytes("beforestillafter"));
    }

    TEST_CASE_TEMPLATE("a record sealed under the old key after a rekey fails", T, CIPHERS) {
        require_cipher(T::cipher);
        auto [sealer, opener] = direction(T::cipher, RekeyPolicy{1, std::chrono::seconds(600)});
        std::vector<std::uint8_t> wire, out;
        REQUIRE(seal(sealer, bytes("one"), wire, now));
        REQUIRE(seal(sealer, bytes("two"), wire, now));  // a rekey record, then "two"
        REQUIRE_FALSE(open(opener, wire, out).failed);
        // Dropping the rekey record desynchronises the keys: the next record fails.
        auto [sealer2, opener2] = direction(T::cipher, RekeyPolicy{1, std::chrono::seconds(600)});
        std::vector<std::uint8_t> a, b, out2;
        REQUIRE(seal(sealer2, bytes("one"), a, now));
        REQUIRE(seal(sealer2, bytes("two"), b, now));
        const std::size_t rekey_record = record_header_bytes + 1 + tag_bytes;
        a.insert(a.end(), b.begin() + rekey_record, b.end());
        CHECK(open(opener2, a, out2).failed);
    }

    TEST_CASE(
        "the hello opens an NNpsk0 channel both ways under the cipher offered, and starts with "
        "00 00 DSEC, the version, the pattern and (version 2) the cipher") {
        require_cipher(Cipher::AESGCM);
        Key psk{};
        psk[3] = 9;
        struct Case {
            HelloOffer offer;
            std::vector<std::uint8_t> header_tail;
            Cipher cipher;
        };
        const Case cases[] = {
            {{Cipher::AESGCM, hello_version}, {2, 'N', 'A'}, Cipher::AESGCM},
            {{Cipher::ChaChaPoly, hello_version}, {2, 'N', 'C'}, Cipher::ChaChaPoly},
            // What nodes before the cipher byte send and read.
            {{Cipher::ChaChaPoly, chachapoly_only_hello_version}, {1, 'N'}, Cipher::ChaChaPoly},
        };
        for (const Case& c : cases) {
            CAPTURE(static_cast<int>(c.offer.version));
            CAPTURE(cipher_name(c.offer.cipher));
            InitiatorHello initiator(psk, std::nullopt, std::nullopt, {}, c.offer);
            ResponderHello responder(ResponderPolicy{psk, std::nullopt, nullptr, {}, true});
            const auto hello = initiator.hello();
            const std::size_t header = hello_magic.size() + c.header_tail.size();
            REQUIRE(hello.size() == header + Handshake::message_bytes(0));
            CHECK(std::equal(hello_magic.begin(), hello_magic.end(), hello.begin()));
            CHECK(std::equal(c.header_tail.begin(), c.header_tail.end(),
                             hello.begin() + hello_magic.size()));
            CHECK(starts_encrypted(hello[0], hello[1]));
            auto rest = responder.rest_bytes(std::span(hello).first(hello_prefix_bytes));
            REQUIRE(rest.has_value());
            CHECK(*rest == hello.size() - hello_prefix_bytes);
            auto answer = responder.answer(std::span(hello).subspan(hello_prefix_bytes));
            REQUIRE(answer.has_value());
            auto channel = initiator.finish(answer->first);
            REQUIRE(channel.has_value());
            CHECK(channel->cipher == c.cipher);
            CHECK(answer->second.cipher == c.cipher);
            CHECK(channel->handshake_hash == answer->second.handshake_hash);
            std::vector<std::uint8_t> wire, out;
            REQUIRE(seal(channel->sealer, bytes("over the wire"), wire, now));
            REQUIRE_FALSE(open(answer->second.opener, wire, out).failed);
            CHECK(out == bytes("over the wire"));
            wire.clear();
            out.clear();
            REQUIRE(seal(answer->second.sealer, bytes("and back"), wire, now));
            REQUIRE_FALSE(open(channel->opener, wire, out).failed);
            CHECK(out == bytes("and back"));
        }
    }

    TEST_CASE(
        "a responder that does not offer AESGCM refuses a hello asking for it, and says why") {
        require_cipher(Cipher::AESGCM);
        Key psk{};
        InitiatorHello initiator(psk, std::nullopt, std::nullopt, {},
                                 {Cipher::AESGCM, hello_version});
        const auto hello = initiator.hello();
        ResponderHello responder(ResponderPolicy{psk, std::nullopt, nullptr, {}, false});
        REQUIRE(responder.rest_bytes(std::span(hello).first(hello_prefix_bytes)).has_value());
        auto refused = responder.answer(std::span(hello).subspan(hello_prefix_bytes));
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().code == CryptoErrc::bad_hello);
        CHECK(refused.error().detail.find("asks for AESGCM, and this node does not offer it") !=
              std::string::npos);
    }

    TEST_CASE("a cipher byte changed in transit fails the handshake; an unknown one is refused") {
        require_cipher(Cipher::AESGCM);
        Key psk{};
        for (const Cipher asked : {Cipher::AESGCM, Cipher::ChaChaPoly}) {
            CAPTURE(cipher_name(asked));
            InitiatorHello initiator(psk, std::nullopt, std::nullopt, {}, {asked, hello_version});
            auto hello = initiator.hello();
            REQUIRE(hello[hello_prefix_bytes] == (asked == Cipher::AESGCM ? 'A' : 'C'));
            hello[hello_prefix_bytes] = asked == Cipher::AESGCM ? 'C' : 'A';
            ResponderHello responder(ResponderPolicy{psk, std::nullopt, nullptr, {}, true});
            REQUIRE(responder.rest_bytes(std::span(hello).first(hello_prefix_bytes)).has_value());
            auto failed = responder.answer(std::span(hello).subspan(hello_prefix_bytes));
            REQUIRE_FALSE(failed.has_value());
            CHECK(failed.error().detail.find("does not authenticate") != std::string::npos);
        }
        InitiatorHello initiator(psk, std::nullopt, std::nullopt, {}, {});
        auto hello = initiator.hello();
        hello[hello_prefix_bytes] = 'X';
        ResponderHello responder(ResponderPolicy{psk, std::nullopt, nullptr, {}, true});
        REQUIRE(responder.rest_bytes(std::span(hello).first(hello_prefix_bytes)).has_value());
        auto unknown = responder.answer(std::span(hello).subspan(hello_prefix_bytes));
        REQUIRE_FALSE(unknown.has_value());
        CHECK(unknown.error().detail.find("unknown cipher") != std::string::npos);
    }

    TEST_CASE("a hello whose header was changed in transit fails the handshake") {
        const auto a = KeyPair::generate(), b = KeyPair::generate();
        Key psk{};
        InitiatorHello initiator(psk, a, b.public_key, {}, {});
        auto hello = initiator.hello();
        // Another initiator key in the header (the pattern stays KK): the transcript differs.
        hello[hello_prefix_bytes] ^= 1;
        ResponderHello responder(
            ResponderPolicy{psk, b, [](const Key&) { return true; }, {}, false});
        REQUIRE(responder.rest_bytes(std::span(hello).first(hello_prefix_bytes)).has_value());
        CHECK_FALSE(responder.answer(std::span(hello).subspan(hello_prefix_bytes)).has_value());
    }

    TEST_CASE(
        "a responder with pinned keys refuses a hello without a static key, or an unpinned one") {
        const auto a = KeyPair::generate(), b = KeyPair::generate();
        Key psk{};
        const Key pinned = KeyPair::generate().public_key;
        ResponderPolicy policy{psk, b, [pinned](const Key& k) { return k == pinned; }, {}, false};

        InitiatorHello anonymous(psk, std::nullopt, std::nullopt, {}, {});
        auto hello = anonymous.hello();
        ResponderHello first(policy);
        auto refused = first.rest_bytes(std::span(hello).first(hello_prefix_bytes));
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().code == CryptoErrc::not_pinned);
        CHECK(refused.error().detail.find("only accepts pinned keys") != std::string::npos);

        InitiatorHello unpinned(psk, a, b.public_key, {}, {});
        hello = unpinned.hello();
        ResponderHello second(policy);
        REQUIRE(second.rest_bytes(std::span(hello).first(hello_prefix_bytes)).has_value());
        auto answer = second.answer(std::span(hello).subspan(hello_prefix_bytes));
        REQUIRE_FALSE(answer.has_value());
        CHECK(answer.error().code == CryptoErrc::not_pinned);
        CHECK(answer.error().detail.find("not pinned") != std::string::npos);
    }

    TEST_CASE("a responder without pinned keys refuses a KKpsk0 hello, and other versions") {
        const auto a = KeyPair::generate(), b = KeyPair::generate();
        Key psk{};
        InitiatorHello keyed(psk, a, b.public_key, {}, {});
        auto hello = keyed.hello();
        ResponderHello responder(ResponderPolicy{psk, std::nullopt, nullptr, {}, false});
        auto keyed_refused = responder.rest_bytes(std::span(hello).first(hello_prefix_bytes));
        REQUIRE_FALSE(keyed_refused.has_value());
        CHECK(keyed_refused.error().code == CryptoErrc::not_pinned);
        hello[6] = 3;
        auto version = responder.rest_bytes(std::span(hello).first(hello_prefix_bytes));
        REQUIRE_FALSE(version.has_value());
        CHECK(version.error().code == CryptoErrc::bad_hello);
        CHECK(version.error().detail.find("version 3, this node speaks 1 and 2") !=
              std::string::npos);
    }

    TEST_CASE("the pre-shared key is the same for one cookie and differs for another") {
        auto one = psk_from_cookie("cookie");
        auto again = psk_from_cookie("cookie");
        auto other = psk_from_cookie("cookie2");
        REQUIRE(one.has_value());
        REQUIRE(other.has_value());
        CHECK(*one == *again);
        CHECK(*one != *other);
    }

    TEST_CASE("a node key file written by keygen reads back; group-readable ones are refused") {
        const std::string path = "/tmp/distribute_test_key_" + std::to_string(::getpid());
        std::remove(path.c_str());
        const NodeKey key = NodeKey::generate();
        REQUIRE(write_node_key(path, key).has_value());
        auto again = write_node_key(path, key);  // never overwritten
        REQUIRE_FALSE(again.has_value());
        CHECK(again.error().code == CryptoErrc::file_error);
        CHECK(again.error().detail == path + ": File exists");
        auto read = read_node_key(path);
        REQUIRE(read.has_value());
        CHECK(read->secret == key.secret);
        CHECK(read->public_key == key.public_key);
        ::chmod(path.c_str(), 0640);
        auto refused = read_node_key(path);
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().code == CryptoErrc::exposed_key);
        CHECK(refused.error().detail.find("chmod 600") != std::string::npos);
        std::remove(path.c_str());
    }

    TEST_CASE("peer key files pin one key per node name and say which line is wrong") {
        const std::string path = "/tmp/distribute_test_peers_" + std::to_string(::getpid());
        const NodeKey key = NodeKey::generate();
        {
            std::ofstream out(path);
            out << "# pinned\n\na@host " << to_hex(key.public_key) << "  # comment\n";
        }
        auto keys = read_peer_keys(path);
        REQUIRE(keys.has_value());
        REQUIRE(keys->size() == 1);
        CHECK(keys->at("a@host") == key.public_key);
        {
            std::ofstream out(path, std::ios::app);
            out << "b@host 1234\n";
        }
        auto bad = read_peer_keys(path);
        REQUIRE_FALSE(bad.has_value());
        CHECK(bad.error().code == CryptoErrc::malformed);
        CHECK(bad.error().detail ==
              path + ":4: expected 'name@host' and a public key of 64 hex digits");
        std::remove(path.c_str());
    }

    TEST_CASE("a key file that is a device or over 1 MiB is refused before it is read") {
        auto device = read_peer_keys("/dev/zero");
        REQUIRE_FALSE(device.has_value());
        CHECK(device.error().code == CryptoErrc::file_error);
        CHECK(device.error().detail == "/dev/zero: not a regular file");
        CHECK_FALSE(read_node_key("/dev/zero").has_value());
        const std::string path = "/tmp/distribute_test_big_peers_" + std::to_string(::getpid());
        {
            std::ofstream out(path);
            out << std::string((1 << 20) + 1, '#');
        }
        auto big = read_peer_keys(path);
        std::remove(path.c_str());
        REQUIRE_FALSE(big.has_value());
        CHECK(big.error().detail == path + ": larger than 1 MiB");
    }

    TEST_CASE("a pinned name that is not alive@host is refused with its line") {
        const std::string hex = to_hex(NodeKey::generate().public_key);
        for (const std::string name : {"@host", "cpp@", "a@b@c"}) {
            CAPTURE(name);
            auto bad = crypto::parse_peer_keys("a@host " + hex + "\n" + name + " " + hex + "\n",
                                               "peers.txt");
            REQUIRE_FALSE(bad.has_value());
            CHECK(bad.error().detail ==
                  "peers.txt:2: expected 'name@host' and a public key of 64 hex digits");
        }
    }

    TEST_CASE("crypto modes parse from their names only") {
        CHECK(parse_crypto_mode("require").value() == CryptoMode::require);
        CHECK(parse_crypto_mode("prefer").value() == CryptoMode::prefer);
        CHECK(parse_crypto_mode("off").value() == CryptoMode::off);
        auto on = parse_crypto_mode("on");
        REQUIRE_FALSE(on.has_value());
        CHECK(on.error().code == CryptoErrc::bad_mode);
        CHECK(on.error().error_code() == std::error_code(CryptoErrc::bad_mode));
        CHECK(on.error().to_string() ==
              "not a crypto mode: 'on' is not a crypto mode (off, prefer, require)");
    }

    TEST_CASE("a missing key file, a key file without a secret and a mismatched pair differ") {
        const std::string path = "/tmp/distribute_test_badkey_" + std::to_string(::getpid());
        std::remove(path.c_str());
        auto missing = read_node_key(path);
        REQUIRE_FALSE(missing.has_value());
        CHECK(missing.error().code == CryptoErrc::file_error);
        CHECK(read_peer_keys(path).error().code == CryptoErrc::file_error);
        const NodeKey key = NodeKey::generate();
        const NodeKey other = NodeKey::generate();
        auto write = [&](const std::string& text) {
            std::remove(path.c_str());
            std::ofstream(path) << text;
            ::chmod(path.c_str(), 0600);
        };
        write("public " + to_hex(key.public_key) + "\n");
        CHECK(read_node_key(path).error().code == CryptoErrc::malformed);
        write("secret " + to_hex(key.secret) + "\npublic " + to_hex(other.public_key) + "\n");
        CHECK(read_node_key(path).error().code == CryptoErrc::key_mismatch);
        std::remove(path.c_str());
    }
}
