// libFuzzer target for the key files of the encrypted transport (src/crypto/key_text.cpp): the
// node key file ("secret HEX", "public HEX") and the pinned peer keys file ("name@host HEX" per
// line). The first byte chooses which; the rest is the file's text. No input may crash; a node
// key accepted has the public key of its secret, and every pinned name is a node name.
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crypto/key_text.hpp"
#include "wire/node_name.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace distribute;
    if (size == 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] & 1) {
        auto keys = crypto::parse_peer_keys(text, "fuzz.keys");
        if (!keys) return 0;
        for (const auto& [name, key] : *keys)
            if (!wire::NodeName::parse(name)) __builtin_trap();
        return 0;
    }
    auto key = crypto::parse_node_key(text, "fuzz.key");
    if (!key) return 0;
    PublicKey derived{};
    crypto_scalarmult_base(derived.data(), key->secret.data());
    if (derived != key->public_key) __builtin_trap();
    return 0;
}
