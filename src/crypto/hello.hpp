// How two of our nodes open an encrypted connection, around the Noise handshake (noise.hpp): the
// initiator's first message starts with 00 00 "DSEC", which no distribution handshake message
// can (a length of zero), so an acceptor tells the two apart by the first two bytes. Then a
// version, the pattern ('N' NNpsk0, 'K' KKpsk0), in version 2 the cipher ('C' ChaChaPoly, 'A'
// AESGCM; version 1, what nodes before AESGCM send, means ChaChaPoly), with KKpsk0 the
// initiator's static public key in clear, then Noise message 1; the responder answers with Noise
// message 2. The header is the prologue, so tampering with it fails the handshake. No I/O;
// docs/crypto.md.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crypto/noise.hpp"
#include "crypto/records.hpp"

namespace distribute::crypto {

inline constexpr std::array<std::uint8_t, 6> hello_magic = {0, 0, 'D', 'S', 'E', 'C'};
inline constexpr std::uint8_t hello_version = 2;
// The header of nodes that predate the cipher byte: no cipher byte, ChaChaPoly.
inline constexpr std::uint8_t chachapoly_only_hello_version = 1;
inline constexpr std::size_t hello_prefix_bytes = hello_magic.size() + 2;  // + version, pattern

// What an initiator asks for: the cipher, in a header the responder reads (its EPMD entry says
// which: a node that advertises only version 1 gets a version 1 hello, ChaChaPoly).
struct HelloOffer {
    Cipher cipher = Cipher::ChaChaPoly;
    std::uint8_t version = hello_version;
};
inline constexpr std::size_t reply_bytes = Handshake::message_bytes(0);

// The first two bytes of a connection: ours when they are zero.
inline bool starts_encrypted(std::uint8_t first, std::uint8_t second) {
    return first == 0 && second == 0;
}

// The pre-shared key from a cookie: Argon2id (libsodium's interactive limits) over the cookie
// with a fixed salt, so that each offline guess at a weak cookie costs tens of milliseconds and
// 64 MiB. Slow on purpose: a node derives it once per cookie and keeps it. Fails only when the
// memory cannot be had.
[[nodiscard]] Expected<Key, CryptoError> psk_from_cookie(const std::string& cookie);

// A finished handshake: both directions of the record layer.
struct Channel {
    RecordSealer sealer;
    RecordOpener opener;
    Pattern pattern;
    Cipher cipher;
    std::optional<Key> peer_static;  // KKpsk0: the key the peer proved it holds
    Key handshake_hash{};
};

class InitiatorHello {
  public:
    // `remote_static` set: KKpsk0 (then `local_static` too); else NNpsk0. A version 1 offer is
    // ChaChaPoly.
    InitiatorHello(const Key& psk, std::optional<KeyPair> local_static,
                   std::optional<Key> remote_static, RekeyPolicy policy, HelloOffer offer,
                   std::optional<KeyPair> ephemeral = std::nullopt);
    // The first message, whole.
    std::vector<std::uint8_t> hello();
    // The responder's reply (reply_bytes long).
    [[nodiscard]] Expected<Channel, CryptoError> finish(std::span<const std::uint8_t> reply);

  private:
    Pattern pattern_;
    Cipher cipher_;
    std::vector<std::uint8_t> header_;
    std::optional<Key> remote_static_;
    RekeyPolicy policy_;
    Handshake handshake_;
};

// What an acceptor allows.
struct ResponderPolicy {
    Key psk{};
    std::optional<KeyPair> local_static;
    // Pinned keys: set, only KKpsk0 from an initiator whose key it accepts; unset, NNpsk0 only.
    std::function<bool(const Key&)> is_pinned;
    RekeyPolicy rekey;
    // Whether an initiator may pick AESGCM: false refuses such a hello (no AES hardware here, or
    // the node is told to use ChaChaPoly).
    bool aesgcm = false;
};

class ResponderHello {
  public:
    explicit ResponderHello(ResponderPolicy policy) : policy_(std::move(policy)) {}
    // After the prefix (hello_prefix_bytes): how many bytes of the first message follow (the
    // cipher byte of version 2 first), or why the connection is refused.
    [[nodiscard]] Expected<std::size_t, CryptoError> rest_bytes(
        std::span<const std::uint8_t> prefix);
    // The rest of the first message: the reply to send, and the channel.
    [[nodiscard]] Expected<std::pair<std::vector<std::uint8_t>, Channel>, CryptoError> answer(
        std::span<const std::uint8_t> rest, std::optional<KeyPair> ephemeral = std::nullopt);

  private:
    ResponderPolicy policy_;
    std::vector<std::uint8_t> header_;
    Pattern pattern_ = Pattern::NNpsk0;
    bool cipher_byte_ = false;  // version 2
};

}  // namespace distribute::crypto
