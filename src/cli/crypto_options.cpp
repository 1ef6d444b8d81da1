#include "cli/crypto_options.hpp"

#include <cstdio>

#include "cli/client_node.hpp"
#include "cli/commands.hpp"

namespace distribute::cli {

void add_crypto_options(CLI::App& command, CryptoArgs& args) {
    command
        .add_option("--crypto", args.mode,
                    "Encrypted transport with our own nodes: off (plaintext, as a BEAM), prefer "
                    "(encrypted with every node that offers it, plaintext with BEAM nodes) or "
                    "require (encrypted only) (default: off)")
        ->option_text("MODE");
    command
        .add_option("--node-key", args.node_key,
                    "This node's key pair, written by `distribute keygen FILE`")
        ->option_text("FILE");
    command
        .add_option("--peer-keys", args.peer_keys,
                    "Pinned peer keys, one 'name@host PUBLIC-KEY-HEX' per line: encrypted peers "
                    "must prove the key pinned for their name (needs --node-key)")
        ->option_text("FILE");
}

CryptoOptions crypto_options(const std::string& command, const CryptoArgs& args) {
    CryptoOptions options;
    auto mode = parse_crypto_mode(args.mode);
    if (!mode) usage_error(command, "--crypto: " + mode.error().detail);
    options.mode = *mode;
    if (!args.peer_keys.empty() && args.node_key.empty())
        usage_error(command, "--peer-keys needs --node-key (distribute keygen FILE makes one)");
    if (options.mode == CryptoMode::off && (!args.node_key.empty() || !args.peer_keys.empty()))
        usage_error(command, "--node-key and --peer-keys need --crypto prefer or require");
    if (!args.node_key.empty()) {
        auto key = read_node_key(args.node_key);
        if (!key) command_failed(command, key.error().detail);
        options.node_key = *key;
    }
    if (!args.peer_keys.empty()) {
        auto keys = read_peer_keys(args.peer_keys);
        if (!keys) command_failed(command, keys.error().detail);
        if (keys->empty()) command_failed(command, args.peer_keys + ": no keys in it");
        options.peer_keys = std::move(*keys);
    }
    return options;
}

namespace {

void run_keygen(const std::string& path) {
    const NodeKey key = NodeKey::generate();
    if (auto written = write_node_key(path, key); !written)
        command_failed("keygen", written.error().detail);
    // The line a peer pins, once the node's name replaces NAME@HOST.
    std::printf("NAME@HOST %s\n", to_hex(key.public_key).c_str());
    std::fflush(stdout);
}

}  // namespace

void add_keygen_command(CLI::App& app) {
    auto path = std::make_shared<std::string>();
    CLI::App* k = app.add_subcommand(
        "keygen", "Write a new node key pair to FILE (mode 0600) and print its public key");
    k->add_option("FILE", *path, "Where the key goes (never overwritten)")->required();
    k->footer(
        "The printed line, with the node's name in place of NAME@HOST, goes into the --peer-keys "
        "file of every node that talks to this one.\n\n"
        "Example:\n  distribute keygen cpp.key\n  distribute node --sname cpp --crypto require "
        "--node-key cpp.key --peer-keys peers.txt");
    k->callback([path] { run_keygen(*path); });
}

}  // namespace distribute::cli
