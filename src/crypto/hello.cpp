#include "crypto/hello.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace distribute::crypto {

namespace {

constexpr char prologue_label[] = "distribute encrypted transport";

std::vector<std::uint8_t> prologue_of(const std::vector<std::uint8_t>& header) {
    std::vector<std::uint8_t> prologue(sizeof prologue_label + header.size());
    std::memcpy(prologue.data(), prologue_label, sizeof prologue_label);
    std::memcpy(prologue.data() + sizeof prologue_label, header.data(), header.size());
    return prologue;
}

Channel channel_of(Handshake& handshake, Pattern pattern, Cipher cipher,
                   std::optional<Key> peer_static, RekeyPolicy policy) {
    auto keys = handshake.split();
    return Channel{RecordSealer(std::move(keys.send), policy),
                   RecordOpener(std::move(keys.receive)),
                   pattern,
                   cipher,
                   peer_static,
                   keys.handshake_hash};
}

constexpr std::uint8_t cipher_byte(Cipher cipher) {
    return cipher == Cipher::AESGCM ? 'A' : 'C';
}

std::optional<Cipher> cipher_of_byte(std::uint8_t byte) {
    for (const Cipher cipher : {Cipher::ChaChaPoly, Cipher::AESGCM})
        if (byte == cipher_byte(cipher)) return cipher;
    return std::nullopt;
}

HandshakeParams initiator_params(const Key& psk, const std::optional<KeyPair>& local_static,
                                 const std::optional<Key>& remote_static, Cipher cipher,
                                 const std::vector<std::uint8_t>& header,
                                 std::optional<KeyPair> ephemeral) {
    HandshakeParams p;
    p.pattern = remote_static ? Pattern::KKpsk0 : Pattern::NNpsk0;
    p.cipher = cipher;
    p.initiator = true;
    p.prologue = prologue_of(header);
    p.psk = psk;
    if (remote_static) {
        p.local_static = local_static;
        p.remote_static = remote_static;
    }
    p.local_ephemeral = std::move(ephemeral);
    return p;
}

std::vector<std::uint8_t> header_of(Pattern pattern, HelloOffer offer,
                                    const std::optional<KeyPair>& local_static) {
    const bool has_cipher = offer.version != chachapoly_only_hello_version;
    const bool has_key = pattern == Pattern::KKpsk0;
    std::vector<std::uint8_t> header(hello_prefix_bytes + (has_cipher ? 1 : 0) +
                                     (has_key ? key_bytes : 0));
    std::copy(hello_magic.begin(), hello_magic.end(), header.begin());
    header[hello_magic.size()] = offer.version;
    header[hello_magic.size() + 1] = has_key ? 'K' : 'N';
    if (has_cipher) header[hello_prefix_bytes] = cipher_byte(offer.cipher);
    if (has_key)
        std::copy(local_static->public_key.begin(), local_static->public_key.end(),
                  header.end() - key_bytes);
    return header;
}

}  // namespace

Expected<Key, CryptoError> psk_from_cookie(const std::string& cookie) {
    static constexpr char salt[crypto_pwhash_SALTBYTES + 1] = "distribute/psk/1";
    Key psk{};
    if (crypto_pwhash(psk.data(), psk.size(), cookie.data(), cookie.size(),
                      reinterpret_cast<const std::uint8_t*>(salt),
                      crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return crypto_failure(CryptoErrc::no_memory,
                              "no memory for the key derivation (Argon2id, 64 MiB)");
    return psk;
}

InitiatorHello::InitiatorHello(const Key& psk, std::optional<KeyPair> local_static,
                               std::optional<Key> remote_static, RekeyPolicy policy,
                               HelloOffer offer, std::optional<KeyPair> ephemeral)
    : pattern_(remote_static ? Pattern::KKpsk0 : Pattern::NNpsk0),
      cipher_(offer.version == chachapoly_only_hello_version ? Cipher::ChaChaPoly : offer.cipher),
      header_(header_of(pattern_, offer, local_static)),
      remote_static_(remote_static),
      policy_(policy),
      handshake_(initiator_params(psk, local_static, remote_static, cipher_, header_,
                                  std::move(ephemeral))) {}

std::vector<std::uint8_t> InitiatorHello::hello() {
    std::vector<std::uint8_t> out = header_;
    auto message = handshake_.write_message({});
    // Writing the first message fails only on a low-order remote static key: send it anyway,
    // the responder refuses it.
    if (message) out.insert(out.end(), message->begin(), message->end());
    return out;
}

Expected<Channel, CryptoError> InitiatorHello::finish(std::span<const std::uint8_t> reply) {
    if (reply.size() != reply_bytes)
        return crypto_failure(CryptoErrc::bad_hello,
                              "the reply is " + std::to_string(reply.size()) + " bytes, not " +
                                  std::to_string(reply_bytes));
    auto payload = handshake_.read_message(reply);
    if (!payload) return unexpected(payload.error());
    if (!payload->empty())
        return crypto_failure(CryptoErrc::bad_hello, "the reply carries a payload");
    return channel_of(handshake_, pattern_, cipher_, remote_static_, policy_);
}

Expected<std::size_t, CryptoError> ResponderHello::rest_bytes(
    std::span<const std::uint8_t> prefix) {
    if (prefix.size() != hello_prefix_bytes ||
        std::memcmp(prefix.data(), hello_magic.data(), hello_magic.size()) != 0)
        return crypto_failure(CryptoErrc::bad_hello, "not an encrypted-transport hello");
    if (prefix[6] != hello_version && prefix[6] != chachapoly_only_hello_version)
        return crypto_failure(CryptoErrc::bad_hello,
                              "encrypted-transport version " + std::to_string(prefix[6]) +
                                  ", this node speaks " +
                                  std::to_string(chachapoly_only_hello_version) + " and " +
                                  std::to_string(hello_version));
    const std::uint8_t pattern = prefix[7];
    if (pattern != 'N' && pattern != 'K')
        return crypto_failure(CryptoErrc::bad_hello,
                              "unknown handshake pattern " + std::to_string(pattern));
    if (pattern == 'N' && policy_.is_pinned)
        return crypto_failure(
            CryptoErrc::not_pinned,
            "the peer offers no static key, and this node only accepts pinned keys");
    if (pattern == 'K' && (!policy_.is_pinned || !policy_.local_static))
        return crypto_failure(
            CryptoErrc::not_pinned,
            "the peer offers a static key, and this node has no node key or pinned keys");
    pattern_ = pattern == 'K' ? Pattern::KKpsk0 : Pattern::NNpsk0;
    cipher_byte_ = prefix[6] == hello_version;
    header_.assign(prefix.begin(), prefix.end());
    return (cipher_byte_ ? 1 : 0) + (pattern_ == Pattern::KKpsk0 ? key_bytes : 0) +
           Handshake::message_bytes(0);
}

Expected<std::pair<std::vector<std::uint8_t>, Channel>, CryptoError> ResponderHello::answer(
    std::span<const std::uint8_t> rest, std::optional<KeyPair> ephemeral) {
    HandshakeParams p;
    p.pattern = pattern_;
    if (cipher_byte_) {
        if (rest.empty()) return crypto_failure(CryptoErrc::bad_hello, "hello cut short");
        const auto cipher = cipher_of_byte(rest[0]);
        if (!cipher)
            return crypto_failure(CryptoErrc::bad_hello,
                                  "unknown cipher " + std::to_string(rest[0]));
        if (*cipher == Cipher::AESGCM && !policy_.aesgcm)
            return crypto_failure(CryptoErrc::bad_hello,
                                  "the peer asks for AESGCM, and this node does not offer it (no "
                                  "AES hardware, or crypto.cipher = chachapoly)");
        p.cipher = *cipher;
        header_.push_back(rest[0]);
        rest = rest.subspan(1);
    }
    p.initiator = false;
    p.psk = policy_.psk;
    p.local_ephemeral = std::move(ephemeral);
    std::optional<Key> peer_static;
    if (pattern_ == Pattern::KKpsk0) {
        if (rest.size() < key_bytes)
            return crypto_failure(CryptoErrc::bad_hello, "hello cut short");
        Key key;
        std::memcpy(key.data(), rest.data(), key_bytes);
        if (!policy_.is_pinned(key))
            return crypto_failure(CryptoErrc::not_pinned,
                                  "the peer's static key is not pinned here");
        header_.insert(header_.end(), rest.begin(), rest.begin() + key_bytes);
        rest = rest.subspan(key_bytes);
        peer_static = key;
        p.local_static = policy_.local_static;
        p.remote_static = key;
    }
    p.prologue = prologue_of(header_);
    const Cipher cipher = p.cipher;
    Handshake handshake(std::move(p));
    auto payload = handshake.read_message(rest);
    if (!payload) return unexpected(payload.error());
    if (!payload->empty())
        return crypto_failure(CryptoErrc::bad_hello, "the hello carries a payload");
    auto reply = handshake.write_message({});
    if (!reply) return unexpected(reply.error());
    return std::pair{std::move(*reply),
                     channel_of(handshake, pattern_, cipher, peer_static, policy_.rekey)};
}

}  // namespace distribute::crypto
