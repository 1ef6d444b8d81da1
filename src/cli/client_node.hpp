// What the one-shot subcommands (ping, send, call, rpc) share: their options for the short-lived
// hidden node they talk through, its cookie, connecting to the target with an exit status that
// says why it failed, and reporting a bad command line or a failure alike.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "cli/crypto_options.hpp"
#include "distribute/node.hpp"

namespace distribute::cli {

// The exit statuses of every subcommand; `exit_status_help` lists them for --help.
enum ExitStatus : int {
    exit_ok = 0,
    exit_failed = 1,          // the work failed: pang, an error reply, a cookie file refused, ...
    exit_usage = 2,           // the command line is wrong
    exit_no_epmd = 3,         // nothing answers on the EPMD port of the target's host
    exit_not_registered = 4,  // that EPMD does not know the target's name
    exit_wrong_cookie = 5,    // the target refused the handshake: the cookies differ
    exit_unreachable = 6,     // the host does not resolve, or the target's port takes no connection
};
extern const char* const exit_status_help;

[[noreturn]] void usage_error(const std::string& command, const std::string& why);
[[noreturn]] void command_failed(const std::string& command, const std::string& why,
                                 int status = exit_failed);

// `text` as an atom, or a usage error naming the command.
Atom atom_of(const std::string& command, const std::string& text);

// How a client subcommand names its own node and finds its cookie.
struct ClientOptions {
    std::string sname, name, cookie, cookie_file;
    std::uint16_t epmdless_port = 0;  // the target listens there, and no EPMD is asked
    CryptoArgs crypto;
};
// --sname, --name, --cookie, --cookie-file, --epmdless-port, --crypto, --node-key and
// --peer-keys.
void add_client_options(CLI::App& command, ClientOptions& options);

// A hidden node that does not listen (erl -dist_listen false), named by --sname or --name, or
// else after the command and this process with the name length of `target` (a short-names node
// cannot talk to a long-names one). Its cookie: --cookie, --cookie-file, or erl's default file
// (a warning on stderr when that was just created). Exits with a message when it cannot start.
Node client_node(const std::string& command, const std::string& target,
                 const ClientOptions& options);

// Connects to `target`, or prints why not and exits with that reason's status. When `pang`, the
// failure also prints "pang" on stdout, as `ping` does for every failure.
void connect_or_exit(Node& node, const std::string& command, Atom target, bool pang = false);

}  // namespace distribute::cli
