#include "crypto/noise.hpp"

#include <sodium.h>

#include <cstring>

namespace distribute::crypto {

namespace {

constexpr std::uint64_t max_nonce = ~std::uint64_t{0};  // reserved by Noise for rekey

constexpr std::size_t nonce_size = crypto_aead_chacha20poly1305_IETF_NPUBBYTES;
static_assert(nonce_size == crypto_aead_aes256gcm_NPUBBYTES);
static_assert(tag_bytes == crypto_aead_chacha20poly1305_IETF_ABYTES &&
              tag_bytes == crypto_aead_aes256gcm_ABYTES);

// Noise's nonce: 4 zero bytes, then the counter in the cipher's byte order.
void nonce_bytes(Cipher cipher, std::uint64_t n, std::uint8_t out[nonce_size]) {
    std::memset(out, 0, nonce_size);
    for (int i = 0; i < 8; ++i) {
        const int at = cipher == Cipher::AESGCM ? 4 + 7 - i : 4 + i;
        out[at] = static_cast<std::uint8_t>(n >> (8 * i));
    }
}

Key hmac(const Key& key, std::span<const std::uint8_t> a, std::span<const std::uint8_t> b = {}) {
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, key.data(), key.size());
    crypto_auth_hmacsha256_update(&state, a.data(), a.size());
    crypto_auth_hmacsha256_update(&state, b.data(), b.size());
    Key out;
    crypto_auth_hmacsha256_final(&state, out.data());
    sodium_memzero(&state, sizeof state);
    return out;
}

// Noise's HKDF(chaining_key, input, 3): HMAC-SHA-256 chained with the counters 1, 2, 3.
std::array<Key, 3> hkdf(const Key& chaining, std::span<const std::uint8_t> input) {
    const Key temp = hmac(chaining, input);
    const std::uint8_t one = 1, two = 2, three = 3;
    std::array<Key, 3> out;
    out[0] = hmac(temp, std::span(&one, 1));
    out[1] = hmac(temp, out[0], std::span(&two, 1));
    out[2] = hmac(temp, out[1], std::span(&three, 1));
    return out;
}

// The tokens of each message, in order. "psk" is written as 'p'.
const char* tokens(Pattern pattern, int message) {
    if (pattern == Pattern::NNpsk0) return message == 0 ? "pe" : "E";  // psk, e | e, ee
    return message == 0 ? "peSs" : "EZ";                               // psk, e, es, ss | e, ee, se
}
// Token letters: p psk, e e (first message), E e then ee, S es, s ss, Z se.

}  // namespace

KeyPair KeyPair::generate() {
    KeyPair pair;
    crypto_box_keypair(pair.public_key.data(), pair.secret.data());
    return pair;
}

KeyPair KeyPair::from_secret(const Key& secret) {
    KeyPair pair;
    pair.secret = secret;
    crypto_scalarmult_base(pair.public_key.data(), secret.data());
    return pair;
}

const char* cipher_name(Cipher cipher) {
    return cipher == Cipher::AESGCM ? "AESGCM" : "ChaChaPoly";
}

bool aesgcm_available() {
    // sodium_init finds the CPU's features; it is idempotent and thread-safe.
    return sodium_init() >= 0 && crypto_aead_aes256gcm_is_available() == 1;
}

CipherState::CipherState(Cipher cipher, const Key& key)
    : cipher_(cipher), key_(key), has_key_(true) {
    expand_key();
}

CipherState::~CipherState() {
    sodium_memzero(key_.data(), key_.size());
    sodium_memzero(&aes_, sizeof aes_);
}

CipherState::CipherState(CipherState&& other) noexcept
    : cipher_(other.cipher_),
      key_(other.key_),
      aes_(other.aes_),
      has_key_(other.has_key_),
      nonce_(other.nonce_) {
    sodium_memzero(other.key_.data(), other.key_.size());
    sodium_memzero(&other.aes_, sizeof other.aes_);
    other.has_key_ = false;
}

CipherState& CipherState::operator=(CipherState&& other) noexcept {
    if (this != &other) {
        cipher_ = other.cipher_;
        key_ = other.key_;
        aes_ = other.aes_;
        has_key_ = other.has_key_;
        nonce_ = other.nonce_;
        sodium_memzero(other.key_.data(), other.key_.size());
        sodium_memzero(&other.aes_, sizeof other.aes_);
        other.has_key_ = false;
    }
    return *this;
}

void CipherState::expand_key() {
    if (cipher_ == Cipher::AESGCM) crypto_aead_aes256gcm_beforenm(&aes_, key_.data());
}

bool CipherState::encrypt(std::span<const std::uint8_t> ad, std::span<const std::uint8_t> plain,
                          std::uint8_t* out) {
    if (nonce_ == max_nonce) return false;
    std::uint8_t nonce[nonce_size];
    nonce_bytes(cipher_, nonce_, nonce);
    if (cipher_ == Cipher::AESGCM)
        crypto_aead_aes256gcm_encrypt_afternm(out, nullptr, plain.data(), plain.size(), ad.data(),
                                              ad.size(), nullptr, nonce, &aes_);
    else
        crypto_aead_chacha20poly1305_ietf_encrypt(out, nullptr, plain.data(), plain.size(),
                                                  ad.data(), ad.size(), nullptr, nonce,
                                                  key_.data());
    ++nonce_;
    return true;
}

bool CipherState::decrypt(std::span<const std::uint8_t> ad, std::span<const std::uint8_t> cipher,
                          std::uint8_t* out) {
    if (nonce_ == max_nonce || cipher.size() < tag_bytes) return false;
    std::uint8_t nonce[nonce_size];
    nonce_bytes(cipher_, nonce_, nonce);
    const int failed = cipher_ == Cipher::AESGCM
                           ? crypto_aead_aes256gcm_decrypt_afternm(
                                 out, nullptr, nullptr, cipher.data(), cipher.size(), ad.data(),
                                 ad.size(), nonce, &aes_)
                           : crypto_aead_chacha20poly1305_ietf_decrypt(
                                 out, nullptr, nullptr, cipher.data(), cipher.size(), ad.data(),
                                 ad.size(), nonce, key_.data());
    if (failed != 0) return false;
    ++nonce_;
    return true;
}

void CipherState::rekey() {
    std::uint8_t nonce[nonce_size];
    nonce_bytes(cipher_, max_nonce, nonce);
    const std::uint8_t zeros[key_bytes] = {};
    std::uint8_t out[key_bytes + tag_bytes];
    if (cipher_ == Cipher::AESGCM)
        crypto_aead_aes256gcm_encrypt_afternm(out, nullptr, zeros, sizeof zeros, nullptr, 0,
                                              nullptr, nonce, &aes_);
    else
        crypto_aead_chacha20poly1305_ietf_encrypt(out, nullptr, zeros, sizeof zeros, nullptr, 0,
                                                  nullptr, nonce, key_.data());
    std::memcpy(key_.data(), out, key_bytes);
    sodium_memzero(out, sizeof out);
    expand_key();
}

std::string protocol_name(Pattern pattern, Cipher cipher) {
    return std::string("Noise_") + (pattern == Pattern::NNpsk0 ? "NNpsk0" : "KKpsk0") + "_25519_" +
           cipher_name(cipher) + "_SHA256";
}

Handshake::Handshake(HandshakeParams params) : params_(std::move(params)) {
    const std::string name = protocol_name(params_.pattern, params_.cipher);
    // Longer than a hash: the name's hash is the first h.
    crypto_hash_sha256(hash_.data(), reinterpret_cast<const std::uint8_t*>(name.data()),
                       name.size());
    chaining_ = hash_;
    mix_hash(params_.prologue);
    if (params_.pattern == Pattern::KKpsk0) {
        // Pre-messages: the initiator's static key, then the responder's.
        const Key& mine = params_.local_static->public_key;
        const Key& theirs = *params_.remote_static;
        mix_hash(params_.initiator ? mine : theirs);
        mix_hash(params_.initiator ? theirs : mine);
    }
}

Handshake::~Handshake() {
    sodium_memzero(ephemeral_.secret.data(), key_bytes);
    sodium_memzero(chaining_.data(), key_bytes);
    sodium_memzero(params_.psk.data(), key_bytes);
    if (params_.local_static) sodium_memzero(params_.local_static->secret.data(), key_bytes);
}

void Handshake::mix_hash(std::span<const std::uint8_t> data) {
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    crypto_hash_sha256_update(&state, hash_.data(), hash_.size());
    crypto_hash_sha256_update(&state, data.data(), data.size());
    crypto_hash_sha256_final(&state, hash_.data());
}

void Handshake::mix_key(std::span<const std::uint8_t> input) {
    auto out = hkdf(chaining_, input);
    chaining_ = out[0];
    cipher_ = CipherState(params_.cipher, out[1]);
    sodium_memzero(out.data(), sizeof out);
}

void Handshake::mix_key_and_hash(std::span<const std::uint8_t> input) {
    auto out = hkdf(chaining_, input);
    chaining_ = out[0];
    mix_hash(out[1]);
    cipher_ = CipherState(params_.cipher, out[2]);
    sodium_memzero(out.data(), sizeof out);
}

bool Handshake::mix_dh(const KeyPair& local, const Key& remote) {
    Key shared;
    // libsodium refuses a low-order remote key (an all-zero result).
    if (crypto_scalarmult(shared.data(), local.secret.data(), remote.data()) != 0) return false;
    mix_key(shared);
    sodium_memzero(shared.data(), shared.size());
    return true;
}

// The DH tokens, from this side's point of view.
bool Handshake::token_dh(char token) {
    const bool i = params_.initiator;
    switch (token) {
        case 'E':  // ee
            return mix_dh(ephemeral_, remote_ephemeral_);
        case 'S':  // es
            return i ? mix_dh(ephemeral_, *params_.remote_static)
                     : mix_dh(*params_.local_static, remote_ephemeral_);
        case 's':  // ss
            return mix_dh(*params_.local_static, *params_.remote_static);
        case 'Z':  // se
            return i ? mix_dh(*params_.local_static, remote_ephemeral_)
                     : mix_dh(ephemeral_, *params_.remote_static);
    }
    return false;
}

Expected<std::vector<std::uint8_t>, CryptoError> Handshake::write_message(
    std::span<const std::uint8_t> payload) {
    if (step_ != (params_.initiator ? 0 : 1))
        return crypto_failure(CryptoErrc::handshake_failed, "not our turn");
    std::vector<std::uint8_t> out;
    for (const char* t = tokens(params_.pattern, step_); *t; ++t) {
        if (*t == 'p') {
            mix_key_and_hash(params_.psk);
            continue;
        }
        if (*t == 'e' || (*t == 'E' && step_ == 1)) {
            ephemeral_ = params_.local_ephemeral ? *params_.local_ephemeral : KeyPair::generate();
            out.insert(out.end(), ephemeral_.public_key.begin(), ephemeral_.public_key.end());
            mix_hash(ephemeral_.public_key);
            mix_key(ephemeral_.public_key);  // the psk modifier
        }
        if (*t != 'e' && !token_dh(*t))
            return crypto_failure(CryptoErrc::handshake_failed,
                                  "the peer's key is a low-order point");
    }
    const std::size_t at = out.size();
    out.resize(at + payload.size() + tag_bytes);
    if (!cipher_.encrypt(hash_, payload, out.data() + at))
        return crypto_failure(CryptoErrc::handshake_failed, "nonce exhausted");
    mix_hash(std::span(out).subspan(at));
    ++step_;
    return out;
}

Expected<std::vector<std::uint8_t>, CryptoError> Handshake::read_message(
    std::span<const std::uint8_t> message) {
    if (step_ != (params_.initiator ? 1 : 0))
        return crypto_failure(CryptoErrc::handshake_failed, "not the peer's turn");
    std::size_t at = 0;
    for (const char* t = tokens(params_.pattern, step_); *t; ++t) {
        if (*t == 'p') {
            mix_key_and_hash(params_.psk);
            continue;
        }
        if (*t == 'e' || (*t == 'E' && step_ == 1)) {
            if (message.size() < at + key_bytes)
                return crypto_failure(CryptoErrc::handshake_failed,
                                      "message too short for an ephemeral key");
            std::memcpy(remote_ephemeral_.data(), message.data() + at, key_bytes);
            at += key_bytes;
            mix_hash(remote_ephemeral_);
            mix_key(remote_ephemeral_);
        }
        if (*t != 'e' && !token_dh(*t))
            return crypto_failure(CryptoErrc::handshake_failed,
                                  "the peer's key is a low-order point");
    }
    if (message.size() < at + tag_bytes)
        return crypto_failure(CryptoErrc::handshake_failed, "message too short for its tag");
    const auto cipher = message.subspan(at);
    std::vector<std::uint8_t> payload(cipher.size() - tag_bytes);
    if (!cipher_.decrypt(hash_, cipher, payload.data()))
        return crypto_failure(
            CryptoErrc::handshake_failed,
            "the handshake message does not authenticate: another cookie or another key");
    mix_hash(cipher);
    ++step_;
    return payload;
}

TransportKeys Handshake::split() {
    auto out = hkdf(chaining_, {});
    TransportKeys keys;
    keys.send = CipherState(params_.cipher, params_.initiator ? out[0] : out[1]);
    keys.receive = CipherState(params_.cipher, params_.initiator ? out[1] : out[0]);
    keys.handshake_hash = hash_;
    sodium_memzero(out.data(), sizeof out);
    return keys;
}

}  // namespace distribute::crypto
