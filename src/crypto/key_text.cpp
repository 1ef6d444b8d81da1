#include "crypto/key_text.hpp"

#include <sodium.h>

#include <optional>
#include <sstream>

#include "wire/node_name.hpp"

namespace distribute::crypto {

namespace {

std::optional<PublicKey> key_from_hex(const std::string& hex) {
    PublicKey key{};
    std::size_t length = 0;
    if (hex.size() != 64 ||
        sodium_hex2bin(key.data(), key.size(), hex.data(), hex.size(), nullptr, &length, nullptr) !=
            0 ||
        length != key.size())
        return std::nullopt;
    return key;
}

Unexpected<CryptoError> malformed(std::string detail) {
    return unexpected(CryptoError{CryptoErrc::malformed, std::move(detail)});
}

}  // namespace

Expected<NodeKey, CryptoError> parse_node_key(std::string_view text, const std::string& path) {
    std::istringstream lines{std::string(text)};
    std::string word, hex;
    std::optional<PublicKey> secret, public_key;
    while (lines >> word) {
        if (word.starts_with("#")) {
            std::getline(lines, hex);
            continue;
        }
        if (!(lines >> hex)) break;
        if (word == "secret") secret = key_from_hex(hex);
        if (word == "public") public_key = key_from_hex(hex);
    }
    if (!secret) return malformed(path + ": no 'secret HEX' line of 64 hex digits");
    NodeKey key;
    key.secret = *secret;
    crypto_scalarmult_base(key.public_key.data(), key.secret.data());
    if (public_key && *public_key != key.public_key)
        return unexpected(CryptoError{CryptoErrc::key_mismatch,
                                      path + ": the public key does not belong to the secret key"});
    return key;
}

Expected<std::map<std::string, PublicKey>, CryptoError> parse_peer_keys(std::string_view text,
                                                                        const std::string& path) {
    std::map<std::string, PublicKey> keys;
    std::istringstream lines{std::string(text)};
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
        if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
        std::istringstream words(line);
        std::string name, hex, extra;
        if (!(words >> name)) continue;
        auto key = (words >> hex) ? key_from_hex(hex) : std::nullopt;
        if (!key || (words >> extra) || !wire::NodeName::parse(name))
            return malformed(path + ":" + std::to_string(number) +
                             ": expected 'name@host' and a public key of 64 hex digits");
        keys[name] = *key;
    }
    return keys;
}

}  // namespace distribute::crypto
