// The flags that set a node's settings, shared by `distribute node` (which starts one) and
// `distribute config show` (which shows what it would start with). Each given flag becomes a
// command-line value of a setting (the top layer; see settings.hpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/crypto_options.hpp"
#include "distribute/settings.hpp"

namespace distribute::cli {

struct SettingFlags {
    std::string config;  // --config FILE
    std::string sname, name, cookie, cookie_file, port, epmdless_port, listen, net_ticktime,
        log_level;
    unsigned threads = 0;
    bool hidden = false;
    bool verbose = false;
    std::vector<std::string> seeds;
    CryptoArgs crypto;        // --crypto, --node-key, --peer-keys: the crypto.* settings
    CLI::App* app = nullptr;  // the subcommand, to tell which flags were given

    // The given flags as settings values.
    std::vector<FlagValue> values() const;
    // Settings from --config, the environment and the flags; every error printed on stderr
    // with the exit status of a usage error when there is one.
    LoadedSettings load(const std::string& command, bool for_start) const;
};

// Adds the flags to `command`; the returned object holds what they parse into.
std::shared_ptr<SettingFlags> add_setting_flags(CLI::App* command);

}  // namespace distribute::cli
