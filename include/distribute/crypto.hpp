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

#include "distribute/expected.hpp"

namespace distribute {

enum class CryptoMode {
    off,     // plaintext only, as a BEAM node; encrypted hellos are refused
    prefer,  // encrypted with every peer that advertises it, plaintext with the others (BEAM)
    require  // encrypted only: plaintext connections are refused both ways
};
// "off", "prefer", "require".
Expected<CryptoMode, std::string> parse_crypto_mode(const std::string& text);
const char* to_string(CryptoMode mode);

using PublicKey = std::array<std::uint8_t, 32>;

// An X25519 key pair that names a node to the peers that pin its public key.
struct NodeKey {
    std::array<std::uint8_t, 32> secret{};
    PublicKey public_key{};
    static NodeKey generate();
};
// A node key file: "secret HEX" and "public HEX" lines; written with mode 0600, and refused when
// others may read it (as erl refuses such a cookie file).
[[nodiscard]] Expected<void, std::string> write_node_key(const std::string& path,
                                                         const NodeKey& key);
[[nodiscard]] Expected<NodeKey, std::string> read_node_key(const std::string& path);
// Pinned peer keys: one "name@host HEX" line per peer ('#' starts a comment).
[[nodiscard]] Expected<std::map<std::string, PublicKey>, std::string> read_peer_keys(
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
};

}  // namespace distribute
