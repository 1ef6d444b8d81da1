#include "cli/client_node.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "net/asio.hpp"
#include "node/environment.hpp"
#include "wire/node_name.hpp"

namespace distribute::cli {

const char* const exit_status_help =
    "Exit status:\n"
    "  0  done\n"
    "  1  failed: pang, an error reply, a cookie file refused, ...\n"
    "  2  bad command line\n"
    "  3  no EPMD on the target's host (HOST:PORT in the message)\n"
    "  4  the target's name is not registered with that EPMD (the message lists the names)\n"
    "  5  the target refused the handshake: wrong cookie?\n"
    "  6  the target is unreachable (host unknown, port closed, no answer in time)";

namespace {

[[noreturn]] void exit_with(int status, const std::string& command, const std::string& why) {
    std::fprintf(stderr, "distribute %s: %s\n", command.c_str(), why.c_str());
    std::fflush(stderr);
    throw CLI::RuntimeError(status);
}

int exit_status_of(NodeErrc code) {
    switch (code) {
        case NodeErrc::no_epmd:
            return exit_no_epmd;
        case NodeErrc::not_registered:
            return exit_not_registered;
        case NodeErrc::wrong_cookie:
            return exit_wrong_cookie;
        case NodeErrc::unreachable:
            return exit_unreachable;
        default:
            return exit_failed;
    }
}

// The address this machine would use to reach `host` (an IP address or a name): the host part of
// a long name where the machine has no domain name, which a peer accepts as it accepts
// erl -name x@127.0.0.1. No packet is sent.
std::string local_address_toward(const std::string& host) {
    namespace asio = net::asio;
    asio::io_context io;
    boost::system::error_code e;
    asio::ip::udp::resolver resolver(io);
    const auto found = resolver.resolve(host, "9", e);
    if (!e && !found.empty()) {
        asio::ip::udp::socket probe(io);
        const auto target = found.begin()->endpoint();
        probe.open(target.protocol(), e);
        if (!e) probe.connect(target, e);
        if (!e) {
            const auto local = probe.local_endpoint(e).address();
            if (!e) return local.to_string();
        }
    }
    return "127.0.0.1";
}

std::string cookie_of(const std::string& command, const ClientOptions& options) {
    if (!options.cookie.empty()) return options.cookie;
    auto file =
        options.cookie_file.empty() ? default_cookie_file() : read_cookie_file(options.cookie_file);
    if (!file) command_failed(command, file.error().detail);
    if (file->created)
        std::fprintf(stderr,
                     "distribute %s: warning: created %s with a new random cookie; a node that "
                     "does not share it refuses the connection\n",
                     command.c_str(), file->path.c_str());
    return file->cookie;
}

}  // namespace

void usage_error(const std::string& command, const std::string& why) {
    exit_with(exit_usage, command, why);
}

void command_failed(const std::string& command, const std::string& why, int status) {
    exit_with(status, command, why);
}

Atom atom_of(const std::string& command, const std::string& text) {
    auto atom = Atom::make(text);
    if (!atom) usage_error(command, "'" + text + "' cannot be an atom");
    return *atom;
}

void add_client_options(CLI::App& command, ClientOptions& options) {
    command.add_option("--cookie", options.cookie, "Cookie (default: erl's cookie file)");
    command
        .add_option("--cookie-file", options.cookie_file,
                    "Read the cookie from PATH, with erl's checks (owner-only, one line)")
        ->option_text("PATH");
    command
        .add_option("--sname", options.sname,
                    "Short name for this command's own node (default: distribute_CMD_PID)")
        ->option_text("NAME");
    command
        .add_option("--name", options.name,
                    "Long name for this command's own node, NAME or NAME@HOST")
        ->option_text("NAME");
    command
        .add_option("--epmdless-port", options.epmdless_port,
                    "The target listens on PORT and no EPMD is asked, as erl -start_epmd false "
                    "-erl_epmd_port PORT (default: ask the EPMD of the target's host)")
        ->option_text("PORT")
        ->check(CLI::Range(1, 65535));
    add_crypto_options(command, options.crypto);
}

Node client_node(const std::string& command, const std::string& target,
                 const ClientOptions& client) {
    auto peer = wire::NodeName::parse(target);
    if (!peer) usage_error(command, "'" + target + "' is not a node name (name@host)");
    if (!client.sname.empty() && !client.name.empty())
        usage_error(command, "give at most one of --sname and --name");
    if (!client.cookie.empty() && !client.cookie_file.empty())
        usage_error(command, "give at most one of --cookie and --cookie-file");
    NodeOptions options;
    if (!client.sname.empty()) {
        options.name = client.sname;
    } else if (!client.name.empty()) {
        options.name = client.name;
        options.long_names = true;
    } else {
        options.name = "distribute_" + command + "_" + std::to_string(::getpid());
        options.long_names = peer->is_long();
        // A long name with an IP host (erl -name x@127.0.0.1), or a machine without a domain
        // name: the host part is our address, as a peer accepts in a long name.
        if (options.long_names &&
            (peer->host_is_address() || !node::local_host_name(true).has_value()))
            options.name += "@" + local_address_toward(peer->host);
    }
    options.cookie = cookie_of(command, client);
    options.crypto = crypto_options(command, client.crypto);
    // It dials its target and leaves: nothing needs to reach it, so it neither listens nor
    // registers with EPMD (erl -dist_listen false), and starts no EPMD either.
    options.dist_listen = false;
    options.epmdless_port = client.epmdless_port;
    options.setup_timeout = std::chrono::milliseconds(5000);
    // In and out in a moment: not worth a place in the cluster's global and nodes().
    options.hidden = true;
    auto node = Node::start(std::move(options));
    if (!node) command_failed(command, node.error().detail);
    return std::move(*node);
}

void connect_or_exit(Node& node, const std::string& command, Atom target, bool pang) {
    auto up = node.connect(target, std::chrono::milliseconds(7000));
    if (up) return;
    if (pang) {
        std::printf("pang\n");
        std::fflush(stdout);
    }
    command_failed(command, up.error().detail, exit_status_of(up.error().code));
}

}  // namespace distribute::cli
