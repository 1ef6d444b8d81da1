// --crypto, --node-key and --peer-keys, shared by `node` and the one-shot commands, and
// `distribute keygen FILE`.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "distribute/crypto.hpp"

namespace distribute::cli {

struct CryptoArgs {
    std::string mode = "off";
    std::string node_key;
    std::string peer_keys;
};
void add_crypto_options(CLI::App& command, CryptoArgs& args);
// The options they ask for, or a usage error (bad mode) or failure (a key file refused).
CryptoOptions crypto_options(const std::string& command, const CryptoArgs& args);

}  // namespace distribute::cli
