// The Noise protocol framework (revision 34), the two handshakes the encrypted transport uses:
// Noise_NNpsk0_25519_<cipher>_SHA256 (ephemeral keys and the cookie's pre-shared key) and
// Noise_KKpsk0_25519_<cipher>_SHA256 (the same plus both nodes' pinned static keys), the cipher
// ChaChaPoly or AESGCM. Built from libsodium's X25519, ChaCha20-Poly1305 (IETF), AES-256-GCM,
// SHA-256 and HMAC-SHA-256; no I/O. docs/crypto.md writes the protocol down.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <sodium.h>

#include "distribute/crypto.hpp"
#include "distribute/expected.hpp"

namespace distribute::crypto {

// A failure of the encrypted transport's setup, as its callers return it.
[[nodiscard]] inline Unexpected<CryptoError> crypto_failure(CryptoErrc code, std::string detail) {
    return unexpected(CryptoError{code, std::move(detail)});
}

using Key = std::array<std::uint8_t, 32>;
inline constexpr std::size_t key_bytes = 32;
inline constexpr std::size_t tag_bytes = 16;

// The AEAD of the handshake and of the records. AESGCM is faster where the CPU has AES-NI and
// PCLMUL, and libsodium offers it only there; ChaChaPoly runs anywhere.
enum class Cipher { ChaChaPoly, AESGCM };
// "ChaChaPoly" or "AESGCM", as in the Noise protocol name.
const char* cipher_name(Cipher cipher);
// Whether this CPU runs libsodium's AES-256-GCM.
bool aesgcm_available();

struct KeyPair {
    Key secret{};
    Key public_key{};
    static KeyPair generate();
    static KeyPair from_secret(const Key& secret);
};

// One direction's AEAD key and its counter nonce (never random: a nonce is the number of
// messages sent before, so a replayed or reordered message fails its tag). Noise's nonce is 4
// zero bytes and the counter, little-endian for ChaChaPoly and big-endian for AESGCM.
class CipherState {
  public:
    CipherState() = default;
    CipherState(Cipher cipher, const Key& key);
    ~CipherState();
    CipherState(CipherState&& other) noexcept;
    CipherState& operator=(CipherState&& other) noexcept;

    bool has_key() const { return has_key_; }
    std::uint64_t nonce() const { return nonce_; }
    // `out` takes plain.size() + tag_bytes. False once the nonce space is used up.
    [[nodiscard]] bool encrypt(std::span<const std::uint8_t> ad,
                               std::span<const std::uint8_t> plain, std::uint8_t* out);
    // `out` takes cipher.size() - tag_bytes. False when the tag does not verify (the nonce is
    // not advanced then).
    [[nodiscard]] bool decrypt(std::span<const std::uint8_t> ad,
                               std::span<const std::uint8_t> cipher, std::uint8_t* out);
    // Noise's Rekey(): the next key is the first 32 bytes of encrypting zeros under the largest
    // nonce; the counter goes on.
    void rekey();

  private:
    void expand_key();  // AESGCM: the key schedule, once per key rather than per message

    Cipher cipher_ = Cipher::ChaChaPoly;
    Key key_{};
    crypto_aead_aes256gcm_state aes_{};
    bool has_key_ = false;
    std::uint64_t nonce_ = 0;
};

enum class Pattern { NNpsk0, KKpsk0 };
// "Noise_NNpsk0_25519_ChaChaPoly_SHA256" and the like.
std::string protocol_name(Pattern pattern, Cipher cipher);

struct HandshakeParams {
    Pattern pattern = Pattern::NNpsk0;
    Cipher cipher = Cipher::ChaChaPoly;
    bool initiator = true;
    std::vector<std::uint8_t> prologue;
    Key psk{};
    std::optional<KeyPair> local_static;  // KKpsk0
    std::optional<Key> remote_static;     // KKpsk0
    // Fixed ephemeral keys, for the test vectors only; empty: fresh ones from libsodium.
    std::optional<KeyPair> local_ephemeral;
};

// The transport keys a finished handshake gives one side.
struct TransportKeys {
    CipherState send;
    CipherState receive;
    Key handshake_hash{};
};

// The two messages of NNpsk0 or KKpsk0: the initiator writes the first and reads the second; the
// responder the other way round.
class Handshake {
  public:
    explicit Handshake(HandshakeParams params);
    ~Handshake();
    Handshake(const Handshake&) = delete;
    Handshake& operator=(const Handshake&) = delete;

    // The next message of ours with `payload` encrypted in it.
    [[nodiscard]] Expected<std::vector<std::uint8_t>, CryptoError> write_message(
        std::span<const std::uint8_t> payload);
    // The peer's next message: its payload, or why it is refused.
    [[nodiscard]] Expected<std::vector<std::uint8_t>, CryptoError> read_message(
        std::span<const std::uint8_t> message);
    bool finished() const { return step_ == 2; }
    // After both messages: the keys for each direction.
    TransportKeys split();
    // Size of a message carrying a payload of `payload_bytes` (both messages have one ephemeral
    // key and one tag: the psk modifier keys even the first message).
    static constexpr std::size_t message_bytes(std::size_t payload_bytes) {
        return key_bytes + payload_bytes + tag_bytes;
    }

  private:
    void mix_hash(std::span<const std::uint8_t> data);
    void mix_key(std::span<const std::uint8_t> input);
    void mix_key_and_hash(std::span<const std::uint8_t> input);
    [[nodiscard]] bool mix_dh(const KeyPair& local, const Key& remote);
    [[nodiscard]] bool token_dh(char token);

    HandshakeParams params_;
    Key chaining_{};
    Key hash_{};
    CipherState cipher_;
    KeyPair ephemeral_;
    Key remote_ephemeral_{};
    int step_ = 0;  // messages done
};

}  // namespace distribute::crypto
