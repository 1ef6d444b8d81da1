// The encrypted transport between two of our nodes (docs/crypto.md): what a node asks of its
// connections, its own key pair and the keys it pins for its peers. BEAM nodes never see any of
// it: the capability is advertised in EPMD's extra data, which only our nodes read, and an
// encrypted connection opens before the distribution handshake.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "distribute/error.hpp"
#include "distribute/expected.hpp"

namespace distribute {

enum class CryptoErrc {
    bad_mode = 1,  // not off, prefer or require
    file_error,    // a key file cannot be opened, read or written (or exists: never overwritten)
    exposed_key,   // the node key file's group or others may access it
    malformed,     // a key file's content is not what it must hold: detail says where
    key_mismatch,  // the node key file's public key does not belong to its secret key
    // On a connection (logged, and the connection closed):
    bad_hello,         // not an encrypted hello or reply, or one of another version or pattern
    not_pinned,        // the peer's static key (or its lack of one) is refused by the pinned keys
    handshake_failed,  // the Noise handshake failed: another cookie or key, a low-order point
    no_memory,         // no memory for deriving the cookie's key (Argon2id, 64 MiB)
};
const std::error_category& crypto_category() noexcept;
std::error_code make_error_code(CryptoErrc e) noexcept;

// Its detail is a whole sentence for people, with the file and line: what the CLI prints.
using CryptoError = CodedError<CryptoErrc>;

enum class CryptoMode {
    off,     // plaintext only, as a BEAM node; encrypted hellos are refused
    prefer,  // encrypted with every peer that advertises it, plaintext with the others (BEAM)
    require  // encrypted only: plaintext connections are refused both ways
};
// "off", "prefer", "require".
Expected<CryptoMode, CryptoError> parse_crypto_mode(const std::string& text);
const char* to_string(CryptoMode mode);

// The cipher of the handshake and the records between two of our nodes.
enum class CryptoCipher {
    // AES-256-GCM (Noise AESGCM) when both nodes have AES hardware (AES-NI and PCLMUL) and
    // offer it, ChaCha20-Poly1305 (Noise ChaChaPoly) otherwise: AES-256-GCM costs less CPU there.
    automatic,
    // ChaCha20-Poly1305 only: the node neither offers AES-256-GCM nor asks for it.
    chachapoly
};

using PublicKey = std::array<std::uint8_t, 32>;

// An X25519 key pair that names a node to the peers that pin its public key.
struct NodeKey {
    std::array<std::uint8_t, 32> secret{};
    PublicKey public_key{};
    static NodeKey generate();
};
// A node key file: "secret HEX" and "public HEX" lines; written with mode 0600, and refused when
// others may read it (as erl refuses such a cookie file).
[[nodiscard]] Expected<void, CryptoError> write_node_key(const std::string& path,
                                                         const NodeKey& key);
[[nodiscard]] Expected<NodeKey, CryptoError> read_node_key(const std::string& path);
// Pinned peer keys: one "name@host HEX" line per peer ('#' starts a comment).
[[nodiscard]] Expected<std::map<std::string, PublicKey>, CryptoError> read_peer_keys(
    const std::string& path);
std::string to_hex(const PublicKey& key);

struct CryptoOptions {
    CryptoMode mode = CryptoMode::off;
    // With pinned keys (peer_keys not empty, node_key set) every encrypted connection proves
    // both static keys (Noise KKpsk0): a peer without a pinned key is refused, and a stolen cookie
    // alone is not enough. Without, the cookie is the only secret (Noise NNpsk0).
    std::optional<NodeKey> node_key;
    std::map<std::string, PublicKey> peer_keys;  // by node name
    // A direction's key is replaced after this many records or this long, whichever first.
    std::uint64_t rekey_after_records = std::uint64_t{1} << 20;
    std::chrono::seconds rekey_after{600};
    CryptoCipher cipher = CryptoCipher::automatic;
};

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::CryptoErrc> : std::true_type {};
