// The node's side of the encrypted transport (docs/crypto.md): what it advertises in EPMD, how
// it dials each peer (plaintext, NNpsk0 or KKpsk0 with ChaChaPoly or AESGCM, or not at all),
// what its acceptor allows, and that a peer's proven key is the one pinned for the name it gives.
#include <algorithm>

#include "node/runtime.hpp"

namespace distribute::node {

namespace {

// The words of the EPMD extra data, separated by spaces. Version 1 (hello version 1,
// ChaChaPoly) is what nodes before the cipher byte advertise and look for, so every node still
// advertises it; version 2 reads the cipher byte; "aesgcm" offers AES-256-GCM.
constexpr std::string_view capability_v1 = "distribute-crypto/1";
constexpr std::string_view capability_v2 = "distribute-crypto/2";
constexpr std::string_view capability_aesgcm = "aesgcm";

bool advertises(const std::vector<std::uint8_t>& extra, std::string_view word) {
    const std::string_view text(reinterpret_cast<const char*>(extra.data()), extra.size());
    for (std::size_t at = 0; at <= text.size();) {
        const std::size_t end = std::min(text.find(' ', at), text.size());
        if (text.substr(at, end - at) == word) return true;
        at = end + 1;
    }
    return false;
}

bool advertises_crypto(const std::vector<std::uint8_t>& extra) {
    return advertises(extra, capability_v1) || advertises(extra, capability_v2);
}

std::optional<crypto::KeyPair> key_pair(const std::optional<NodeKey>& key) {
    if (!key) return std::nullopt;
    return crypto::KeyPair{key->secret, key->public_key};
}

crypto::RekeyPolicy rekey_policy(const CryptoOptions& options) {
    return {options.rekey_after_records, options.rekey_after};
}

}  // namespace

Expected<void, NodeError> Runtime::prepare_crypto() {
    const auto& c = options_.crypto;
    if (!c.peer_keys.empty() && !c.node_key)
        return unexpected(NodeError{NodeErrc::crypto_failed,
                                    "pinned peer keys need a node key of this node's own "
                                    "(distribute keygen FILE, then --node-key FILE)"});
    if (c.mode == CryptoMode::off) return {};
    // The acceptor's key, derived now rather than on the first connection.
    if (auto psk = psk_for(cookie_); !psk) return unexpected(psk.error());
    return {};
}

Expected<crypto::Key, NodeError> Runtime::psk_for(const std::string& cookie) {
    {
        std::lock_guard lock(cookies_mutex_);
        if (auto it = psks_.find(cookie); it != psks_.end()) return it->second;
    }
    auto psk = crypto::psk_from_cookie(cookie);
    if (!psk) return unexpected(NodeError{NodeErrc::crypto_failed, psk.error().detail});
    std::lock_guard lock(cookies_mutex_);
    psks_.emplace(cookie, *psk);
    return *psk;
}

bool Runtime::offers_aesgcm() const {
    return options_.crypto.cipher == CryptoCipher::automatic && crypto::aesgcm_available();
}

std::vector<std::uint8_t> Runtime::epmd_extra() const {
    if (options_.crypto.mode == CryptoMode::off) return {};
    std::string text = std::string(capability_v1) + " " + std::string(capability_v2);
    if (offers_aesgcm()) text += " " + std::string(capability_aesgcm);
    return {text.begin(), text.end()};
}

Expected<std::optional<net::SecureDial>, NodeError> Runtime::dial_plan(
    const std::string& peer, const std::vector<std::uint8_t>& epmd_extra) {
    const auto& c = options_.crypto;
    if (c.mode == CryptoMode::off) return std::optional<net::SecureDial>();
    // EPMD-less, nothing advertises: a node that requires encryption dials encrypted, as every
    // peer it may talk to must be one of ours; one that prefers it cannot tell, and dials plain.
    const bool assumed = options_.epmdless_port != 0 && c.mode == CryptoMode::require;
    if (!assumed && !advertises_crypto(epmd_extra)) {
        if (c.mode == CryptoMode::prefer) return std::optional<net::SecureDial>();  // a BEAM
        return unexpected(NodeError{
            NodeErrc::crypto_failed,
            peer + " does not offer the encrypted transport (its EPMD entry does not advertise "
                   "it: a BEAM node, or ours with crypto off), and this node requires it"});
    }
    // Advertised: encrypted or nothing, never plaintext (no downgrade).
    net::SecureDial dial;
    auto psk = psk_for(cookie_for(peer));
    if (!psk) return unexpected(psk.error());
    dial.psk = *psk;
    if (!c.peer_keys.empty()) {
        auto pinned = c.peer_keys.find(peer);
        if (pinned == c.peer_keys.end())
            return unexpected(NodeError{NodeErrc::crypto_failed,
                                        "no key is pinned for " + peer + " in the peer keys"});
        dial.local_static = key_pair(c.node_key);
        dial.remote_static = pinned->second;
    }
    // The hello the peer reads, and AESGCM when both offer it. EPMD-less there is no entry to
    // tell: version 1, which every node of ours reads.
    if (advertises(epmd_extra, capability_v2)) {
        dial.offer.version = crypto::hello_version;
        dial.offer.cipher = advertises(epmd_extra, capability_aesgcm) && offers_aesgcm()
                                ? crypto::Cipher::AESGCM
                                : crypto::Cipher::ChaChaPoly;
    } else {
        dial.offer = {crypto::Cipher::ChaChaPoly, crypto::chachapoly_only_hello_version};
    }
    dial.rekey = rekey_policy(c);
    dial.timeout = options_.setup_timeout;
    return std::optional<net::SecureDial>(std::move(dial));
}

net::AcceptPolicy Runtime::accept_policy() const {
    const auto& c = options_.crypto;
    net::AcceptPolicy policy;
    policy.plaintext = c.mode != CryptoMode::require;
    policy.timeout = options_.setup_timeout;
    if (c.mode == CryptoMode::off) return policy;
    crypto::ResponderPolicy responder;
    {
        std::lock_guard lock(cookies_mutex_);
        responder.psk = psks_.at(cookie_);  // derived in prepare_crypto
    }
    responder.local_static = key_pair(c.node_key);
    if (!c.peer_keys.empty()) {
        // Which peer it is shows only in the distribution handshake: here any pinned key will
        // do, and key_fits_name checks the name that comes with it.
        std::vector<crypto::Key> pinned;
        for (const auto& [name, key] : c.peer_keys)
            pinned.push_back(key);
        responder.is_pinned = [pinned = std::move(pinned)](const crypto::Key& key) {
            return std::find(pinned.begin(), pinned.end(), key) != pinned.end();
        };
    }
    responder.rekey = rekey_policy(c);
    responder.aesgcm = offers_aesgcm();
    policy.encrypted = std::move(responder);
    return policy;
}

bool Runtime::key_fits_name(const net::Session& session) const {
    const auto key = session.peer_key();
    if (!key) return true;  // plaintext, or encrypted with the cookie alone
    const auto& pinned = options_.crypto.peer_keys;
    auto it = pinned.find(session.peer().name);
    return it != pinned.end() && it->second == *key;
}

}  // namespace distribute::node
