// Every setting: key, allowed values, whether it may change while running, how it is set and
// shown.
#include "cluster/settings_table.hpp"

#include <algorithm>
#include <cctype>

#include "cluster/settings_values.hpp"
#include "distribute/crypto.hpp"

namespace distribute::cluster {

namespace {

using std::chrono::milliseconds;
using Values = std::vector<std::string>;
using Problem = std::optional<std::string>;
using Setter = std::function<Problem(Settings&, const Values&)>;
using Shower = std::function<std::string(const Settings&)>;

constexpr milliseconds day{86'400'000};

// One value, parsed by `parse` (text -> Expected<T, std::string>), given to `assign`.
template <class Parse, class Assign>
Setter scalar(Parse parse, Assign assign) {
    return [parse, assign](Settings& s, const Values& values) -> Problem {
        if (values.size() != 1)
            return "one value expected, " + std::to_string(values.size()) + " given";
        auto parsed = parse(values[0]);
        if (!parsed) return parsed.error();
        assign(s, *parsed);
        return std::nullopt;
    };
}

// Several values, each parsed by `parse`, the whole list given to `assign`.
template <class Parse, class Assign>
Setter many(Parse parse, Assign assign) {
    return [parse, assign](Settings& s, const Values& values) -> Problem {
        std::vector<std::string> out;
        for (const auto& value : values) {
            auto parsed = parse(value);
            if (!parsed) return "'" + value + "': " + parsed.error();
            out.push_back(*parsed);
        }
        assign(s, out);
        return std::nullopt;
    };
}

Expected<std::string, std::string> any_text(std::string_view text) {
    return std::string(text);
}

Expected<std::string, std::string> some_text(std::string_view text) {
    if (text.empty()) return unexpected(std::string("empty"));
    return std::string(text);
}

Expected<std::string, std::string> cookie_text(std::string_view text) {
    if (text.empty() || text.size() > 255)
        return unexpected(std::string("not 1 to 255 characters"));
    for (char c : text)
        if (c < ' ' || c > '~') return unexpected(std::string("a character outside ' '..'~'"));
    return std::string(text);
}

// As inet_dist_use_interface, or empty for every interface.
Expected<std::string, std::string> listen_address(std::string_view text) {
    if (text.empty()) return std::string();
    return parse_address(text);
}

auto choice(std::vector<std::string> allowed) {
    return [allowed](std::string_view text) -> Expected<std::string, std::string> {
        std::string t(text);
        for (char& c : t)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (std::find(allowed.begin(), allowed.end(), t) == allowed.end())
            return unexpected(std::string("not one of the allowed values"));
        return t;
    };
}

auto uint_in(std::uint64_t min, std::uint64_t max) {
    return [min, max](std::string_view t) { return parse_uint(t, min, max); };
}
auto duration_in(milliseconds unit, milliseconds min, milliseconds max) {
    return [=](std::string_view t) { return parse_duration(t, unit, min, max); };
}
auto bytes_in(std::uint64_t min, std::uint64_t max) {
    return [min, max](std::string_view t) { return parse_bytes(t, min, max); };
}
auto boolean = [](std::string_view t) { return parse_bool(t); };

std::string yes_no(bool b) {
    return b ? "true" : "false";
}

Expected<CryptoMode, std::string> crypto_mode(std::string_view text) {
    auto mode = parse_crypto_mode(std::string(text));
    if (!mode) return unexpected(std::move(mode).error().detail);
    return *mode;
}

// A key file is read when the setting is: a file that is missing, unreadable or open to others
// is the setting's error, named with the key and the file.
Expected<std::optional<NodeKey>, std::string> node_key_file(std::string_view path) {
    if (path.empty()) return std::optional<NodeKey>();
    auto key = read_node_key(std::string(path));
    if (!key) return unexpected(std::move(key).error().detail);
    return std::optional<NodeKey>(*key);
}

Expected<std::map<std::string, PublicKey>, std::string> peer_keys_file(std::string_view path) {
    if (path.empty()) return std::map<std::string, PublicKey>();
    auto keys = read_peer_keys(std::string(path));
    if (!keys) return unexpected(std::move(keys).error().detail);
    if (keys->empty()) return unexpected(std::string(path) + ": no keys in it");
    return std::move(*keys);
}

const char* epmd_mode_name(EpmdMode mode) {
    switch (mode) {
        case EpmdMode::use_running:
            return "use_running";
        case EpmdMode::embedded:
            return "embedded";
        case EpmdMode::automatic:
            return "automatic";
    }
    return "automatic";
}

std::vector<SettingDescriptor> make_table() {
    const std::string duration = "a duration (250ms, 5s, 2m; a bare number is ";
    std::vector<SettingDescriptor> t;
    auto add = [&](std::string key, std::string allowed, bool changeable, Setter set, Shower show,
                   bool list = false, bool secret = false) {
        t.push_back({std::move(key), std::move(allowed), changeable, secret, list, std::move(set),
                     std::move(show)});
    };

    // node: who the node is and how it listens. None of these can change while it runs.
    add("node.name", "alive or alive@host, as erl -sname/-name take it", false,
        scalar(some_text, [](Settings& s, std::string v) { s.node.name = v; }),
        [](const Settings& s) { return s.node.name; });
    add("node.long_names", "true or false (erl -name rather than -sname)", false,
        scalar(boolean, [](Settings& s, bool v) { s.node.long_names = v; }),
        [](const Settings& s) { return yes_no(s.node.long_names); });
    add("node.hidden", "true or false (hidden: left out of nodes(), global and pg on the BEAM)",
        false, scalar(boolean, [](Settings& s, bool v) { s.node.hidden = v; }),
        [](const Settings& s) { return yes_no(s.node.hidden); });
    add("node.atom_cache",
        "true or false (false: our messages carry every atom as text, no atom cache references)",
        false, scalar(boolean, [](Settings& s, bool v) { s.node.atom_cache = v; }),
        [](const Settings& s) { return yes_no(s.node.atom_cache); });
    add(
        "node.cookie", "1 to 255 characters ' '..'~' (never shown)", false,
        scalar(cookie_text, [](Settings& s, std::string v) { s.node.cookie = v; }),
        [](const Settings& s) {
            return std::string(s.node.cookie.empty() ? "(not set)" : "(set)");
        },
        false, true);
    add("node.cookie_file",
        "a file holding the cookie, owner-only as erl wants it (empty: erl's default file)", false,
        scalar(any_text, [](Settings& s, std::string v) { s.node.cookie_file = v; }),
        [](const Settings& s) { return s.node.cookie_file; });
    add("node.listen", "an IPv4 or IPv6 address (empty: every interface, IPv4 and IPv6)", false,
        scalar(listen_address, [](Settings& s, std::string v) { s.node.listen_address = v; }),
        [](const Settings& s) { return s.node.listen_address; });
    add("node.port", "P or P-Q with 0 <= P <= Q <= 65535 (0: any free port)", false,
        scalar(parse_port_range,
               [](Settings& s, std::pair<std::uint16_t, std::uint16_t> v) {
                   s.node.port_min = v.first;
                   s.node.port_max = v.second;
               }),
        [](const Settings& s) {
            return s.node.port_min == s.node.port_max
                       ? std::to_string(s.node.port_min)
                       : std::to_string(s.node.port_min) + "-" + std::to_string(s.node.port_max);
        });
    add("node.epmdless_port",
        "0 (peers found through EPMD) or 1 to 65535: EPMD-less, as erl -start_epmd false "
        "-erl_epmd_port: the node listens on this port, uses no EPMD, and dials every peer at it",
        false,
        scalar(uint_in(0, 65535),
               [](Settings& s, std::uint64_t v) {
                   s.node.epmdless_port = static_cast<std::uint16_t>(v);
               }),
        [](const Settings& s) { return std::to_string(s.node.epmdless_port); });
    add("node.threads", "0 (one per core) to 1024", false,
        scalar(uint_in(0, 1024),
               [](Settings& s, std::uint64_t v) { s.node.threads = static_cast<unsigned>(v); }),
        [](const Settings& s) { return std::to_string(s.node.threads); });
    add("node.net_ticktime", duration + "seconds), 1s to 1 day, as -kernel net_ticktime", false,
        scalar(duration_in(milliseconds(1000), milliseconds(1000), day),
               [](Settings& s, milliseconds v) {
                   s.node.net_ticktime = std::chrono::duration_cast<std::chrono::seconds>(v);
               }),
        [](const Settings& s) { return format_duration(s.node.net_ticktime); });
    add("node.setup_time", duration + "milliseconds), 100ms to 1h, as net_setuptime", false,
        scalar(duration_in(milliseconds(1), milliseconds(100), milliseconds(3'600'000)),
               [](Settings& s, milliseconds v) { s.node.setup_timeout = v; }),
        [](const Settings& s) { return format_duration(s.node.setup_timeout); });

    // crypto: the encrypted transport between our own nodes (docs/crypto.md). Whether the mode
    // and the keys fit together (pinned keys need a node key and a mode other than off) is
    // checked when the node starts.
    add("crypto.mode", "off, prefer or require", false,
        scalar(crypto_mode, [](Settings& s, CryptoMode v) { s.node.crypto.mode = v; }),
        [](const Settings& s) { return std::string(to_string(s.node.crypto.mode)); });
    add("crypto.node_key", "a key file written by `distribute keygen` (empty: none)", false,
        scalar(node_key_file,
               [](Settings& s, const std::optional<NodeKey>& v) { s.node.crypto.node_key = v; }),
        [](const Settings& s) {
            // The public half: what peers pin. The secret half is never shown.
            return s.node.crypto.node_key ? "public " + to_hex(s.node.crypto.node_key->public_key)
                                          : std::string();
        });
    add("crypto.peer_keys", "a file of 'name@host PUBLIC-KEY-HEX' lines (empty: none)", false,
        scalar(peer_keys_file,
               [](Settings& s, const std::map<std::string, PublicKey>& v) {
                   s.node.crypto.peer_keys = v;
               }),
        [](const Settings& s) {
            std::vector<std::string> names;
            for (const auto& entry : s.node.crypto.peer_keys)
                names.push_back(entry.first);
            return join(names);
        });
    add("crypto.rekey_after_records", "1 to 4294967296: records under one key", false,
        scalar(uint_in(1, std::uint64_t{1} << 32),
               [](Settings& s, std::uint64_t v) { s.node.crypto.rekey_after_records = v; }),
        [](const Settings& s) { return std::to_string(s.node.crypto.rekey_after_records); });
    add("crypto.rekey_after", duration + "seconds), 1s to 1 day: time under one key", false,
        scalar(duration_in(milliseconds(1000), milliseconds(1000), day),
               [](Settings& s, milliseconds v) {
                   s.node.crypto.rekey_after = std::chrono::duration_cast<std::chrono::seconds>(v);
               }),
        [](const Settings& s) { return format_duration(s.node.crypto.rekey_after); });
    add("crypto.cipher", "auto (AES-256-GCM where both nodes have AES hardware) or chachapoly",
        false,
        scalar(choice({"auto", "chachapoly"}),
               [](Settings& s, std::string v) {
                   s.node.crypto.cipher =
                       v == "chachapoly" ? CryptoCipher::chachapoly : CryptoCipher::automatic;
               }),
        [](const Settings& s) {
            return std::string(s.node.crypto.cipher == CryptoCipher::chachapoly ? "chachapoly"
                                                                                : "auto");
        });

    // epmd
    add("epmd.port", "1 to 65535 (ERL_EPMD_PORT)", false,
        scalar(uint_in(1, 65535),
               [](Settings& s, std::uint64_t v) {
                   s.node.epmd.endpoint.port = static_cast<std::uint16_t>(v);
               }),
        [](const Settings& s) { return std::to_string(s.node.epmd.endpoint.port); });
    add("epmd.host", "the host whose EPMD the node registers with", false,
        scalar(some_text, [](Settings& s, std::string v) { s.node.epmd.endpoint.host = v; }),
        [](const Settings& s) { return s.node.epmd.endpoint.host; });
    add("epmd.mode", "automatic, use_running or embedded", false,
        scalar(choice({"automatic", "use_running", "embedded"}),
               [](Settings& s, std::string v) {
                   s.node.epmd_mode = v == "embedded"      ? EpmdMode::embedded
                                      : v == "use_running" ? EpmdMode::use_running
                                                           : EpmdMode::automatic;
               }),
        [](const Settings& s) { return std::string(epmd_mode_name(s.node.epmd_mode)); });
    add(
        "epmd.listen",
        "IP addresses the EPMD this node starts listens on (ERL_EPMD_ADDRESS; loopback is added)",
        false,
        many(parse_address,
             [](Settings& s, std::vector<std::string> v) { s.node.embedded_epmd_addresses = v; }),
        [](const Settings& s) { return join(s.node.embedded_epmd_addresses); }, true);

    // limits: what peers push against; applied to connections made after a change.
    add("limits.max_frame_bytes", "a size from 1KiB to 4GiB (64KiB, 1MiB, 1GiB, or bytes)", true,
        scalar(bytes_in(1024, 1ull << 32),
               [](Settings& s, std::uint64_t v) { s.node.limits.max_frame_bytes = v; }),
        [](const Settings& s) { return format_bytes(s.node.limits.max_frame_bytes); });
    add("limits.max_handshakes_per_address", "1 to 100000", true,
        scalar(uint_in(1, 100000),
               [](Settings& s, std::uint64_t v) { s.node.limits.max_handshakes_per_address = v; }),
        [](const Settings& s) { return std::to_string(s.node.limits.max_handshakes_per_address); });
    add("limits.max_reassembly_bytes", "a size from 1KiB to 4GiB", true,
        scalar(bytes_in(1024, 1ull << 32),
               [](Settings& s, std::uint64_t v) { s.node.limits.max_reassembly_bytes = v; }),
        [](const Settings& s) { return format_bytes(s.node.limits.max_reassembly_bytes); });
    add("limits.busy_limit", "a size from 1KiB to 1GiB", true,
        scalar(bytes_in(1024, 1ull << 30),
               [](Settings& s, std::uint64_t v) { s.node.limits.busy_limit = v; }),
        [](const Settings& s) { return format_bytes(s.node.limits.busy_limit); });
    add("limits.max_send_queue_bytes", "a size from 1KiB to 4GiB", true,
        scalar(bytes_in(1024, 1ull << 32),
               [](Settings& s, std::uint64_t v) { s.node.limits.max_send_queue_bytes = v; }),
        [](const Settings& s) { return format_bytes(s.node.limits.max_send_queue_bytes); });
    add("limits.max_remote_calls_per_peer", "1 to 10000000", true,
        scalar(uint_in(1, 10000000),
               [](Settings& s, std::uint64_t v) { s.node.limits.max_remote_calls_per_peer = v; }),
        [](const Settings& s) { return std::to_string(s.node.limits.max_remote_calls_per_peer); });
    add("limits.max_new_atoms_per_connection", "1 to 1048576", true,
        scalar(
            uint_in(1, 1048576),
            [](Settings& s, std::uint64_t v) { s.node.limits.max_new_atoms_per_connection = v; }),
        [](const Settings& s) {
            return std::to_string(s.node.limits.max_new_atoms_per_connection);
        });

    add("log.level", "debug, info, warning or error", true,
        scalar(choice({"debug", "info", "warning", "error"}),
               [](Settings& s, std::string v) {
                   s.log_level = v == "debug"     ? LogLevel::debug
                                 : v == "warning" ? LogLevel::warning
                                 : v == "error"   ? LogLevel::error
                                                  : LogLevel::info;
               }),
        [](const Settings& s) { return std::string(to_string(s.log_level)); });

    // discovery: all of it may change while running (the backends are made again).
    add("discovery.interval", duration + "milliseconds), 100ms to 1 day", true,
        scalar(duration_in(milliseconds(1), milliseconds(100), day),
               [](Settings& s, milliseconds v) { s.discovery.options.interval = v; }),
        [](const Settings& s) { return format_duration(s.discovery.options.interval); });
    add("discovery.auto_connect", "true or false", true,
        scalar(boolean, [](Settings& s, bool v) { s.discovery.options.auto_connect = v; }),
        [](const Settings& s) { return yes_no(s.discovery.options.auto_connect); });
    add(
        "discovery.static", "node names (alive@host)", true,
        many(parse_node_name,
             [](Settings& s, std::vector<std::string> v) { s.discovery.static_nodes = v; }),
        [](const Settings& s) { return join(s.discovery.static_nodes); }, true);
    add("discovery.file", "a file of node names, one a line", true,
        scalar(any_text, [](Settings& s, std::string v) { s.discovery.file = v; }),
        [](const Settings& s) { return s.discovery.file; });
    add("discovery.file_poll", duration + "milliseconds), 10ms to 1h", true,
        scalar(duration_in(milliseconds(1), milliseconds(10), milliseconds(3'600'000)),
               [](Settings& s, milliseconds v) { s.discovery.file_poll = v; }),
        [](const Settings& s) { return format_duration(s.discovery.file_poll); });
    add("discovery.dns.name", "a DNS name (a headless service, or an SRV name)", true,
        scalar(any_text, [](Settings& s, std::string v) { s.discovery.dns.name = v; }),
        [](const Settings& s) { return s.discovery.dns.name; });
    add("discovery.dns.query", "address (A and AAAA records) or srv", true,
        scalar(choice({"address", "srv"}),
               [](Settings& s, std::string v) {
                   s.discovery.dns.query = v == "srv" ? DnsBackendOptions::Query::srv
                                                      : DnsBackendOptions::Query::address;
               }),
        [](const Settings& s) {
            return std::string(s.discovery.dns.query == DnsBackendOptions::Query::srv ? "srv"
                                                                                      : "address");
        });
    add("discovery.dns.pattern",
        "a node name with {ip}, {ip_dashed}, {host}, {host_label} or {port}", true,
        scalar(any_text, [](Settings& s, std::string v) { s.discovery.dns.node_pattern = v; }),
        [](const Settings& s) { return s.discovery.dns.node_pattern; });
    add(
        "discovery.dns.servers", "address or address:port entries ([v6]:port); empty: resolv.conf",
        true,
        many(some_text,
             [](Settings& s, std::vector<std::string> v) { s.discovery.dns.servers = v; }),
        [](const Settings& s) { return join(s.discovery.dns.servers); }, true);
    add("discovery.dns.timeout", duration + "milliseconds), 10ms to 1m", true,
        scalar(duration_in(milliseconds(1), milliseconds(10), milliseconds(60'000)),
               [](Settings& s, milliseconds v) { s.discovery.dns.timeout = v; }),
        [](const Settings& s) { return format_duration(s.discovery.dns.timeout); });
    add("discovery.dns.ipv4", "true or false (ask for A records)", true,
        scalar(boolean, [](Settings& s, bool v) { s.discovery.dns.ipv4 = v; }),
        [](const Settings& s) { return yes_no(s.discovery.dns.ipv4); });
    add("discovery.dns.ipv6", "true or false (ask for AAAA records)", true,
        scalar(boolean, [](Settings& s, bool v) { s.discovery.dns.ipv6 = v; }),
        [](const Settings& s) { return yes_no(s.discovery.dns.ipv6); });
    add(
        "discovery.epmd.hosts", "host names whose EPMD is asked for its names", true,
        many(some_text,
             [](Settings& s, std::vector<std::string> v) { s.discovery.epmd.hosts = v; }),
        [](const Settings& s) { return join(s.discovery.epmd.hosts); }, true);
    add("discovery.epmd.port", "1 to 65535", true,
        scalar(uint_in(1, 65535),
               [](Settings& s, std::uint64_t v) {
                   s.discovery.epmd.port = static_cast<std::uint16_t>(v);
               }),
        [](const Settings& s) { return std::to_string(s.discovery.epmd.port); });
    add("discovery.epmd.prefix", "a name prefix (only names starting with it)", true,
        scalar(any_text, [](Settings& s, std::string v) { s.discovery.epmd.name_prefix = v; }),
        [](const Settings& s) { return s.discovery.epmd.name_prefix; });

    // cluster: fixed while the node runs.
    add(
        "cluster.seeds", "node names (alive@host)", false,
        many(parse_node_name, [](Settings& s, std::vector<std::string> v) { s.cluster.seeds = v; }),
        [](const Settings& s) { return join(s.cluster.seeds); }, true);
    add("cluster.expected_size", "0 (the members known) to 100000", false,
        scalar(uint_in(0, 100000),
               [](Settings& s, std::uint64_t v) { s.cluster.expected_size = v; }),
        [](const Settings& s) { return std::to_string(s.cluster.expected_size); });
    add("cluster.heartbeat_interval", duration + "milliseconds), 10ms to 1m", false,
        scalar(duration_in(milliseconds(1), milliseconds(10), milliseconds(60'000)),
               [](Settings& s, milliseconds v) { s.cluster.detector.heartbeat_interval = v; }),
        [](const Settings& s) { return format_duration(s.cluster.detector.heartbeat_interval); });
    add("cluster.suspect_phi", "a number from 1 to 100", false,
        scalar([](std::string_view t) { return parse_double(t, 1, 100); },
               [](Settings& s, double v) { s.cluster.detector.suspect_phi = v; }),
        [](const Settings& s) {
            std::string text = std::to_string(s.cluster.detector.suspect_phi);
            text.erase(text.find_last_not_of('0') + 1);
            if (text.back() == '.') text.pop_back();
            return text;
        });
    add("cluster.acceptable_pause", duration + "milliseconds), 0 to 1h", false,
        scalar(duration_in(milliseconds(1), milliseconds(0), milliseconds(3'600'000)),
               [](Settings& s, milliseconds v) { s.cluster.detector.acceptable_pause = v; }),
        [](const Settings& s) { return format_duration(s.cluster.detector.acceptable_pause); });
    add("cluster.dead_after", duration + "milliseconds), 0 to 1 day", false,
        scalar(duration_in(milliseconds(1), milliseconds(0), day),
               [](Settings& s, milliseconds v) { s.cluster.detector.dead_after = v; }),
        [](const Settings& s) { return format_duration(s.cluster.detector.dead_after); });
    add("cluster.disconnect_dead", "true or false", false,
        scalar(boolean, [](Settings& s, bool v) { s.cluster.detector.disconnect_dead = v; }),
        [](const Settings& s) { return yes_no(s.cluster.detector.disconnect_dead); });
    return t;
}

}  // namespace

const std::vector<SettingDescriptor>& descriptors() {
    static const std::vector<SettingDescriptor> table = make_table();
    return table;
}

const SettingDescriptor* find_descriptor(std::string_view key) {
    for (const auto& d : descriptors())
        if (d.key == key) return &d;
    return nullptr;
}

std::string environment_name(std::string_view key) {
    std::string out = "DISTRIBUTE_";
    for (char c : key)
        out += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

Settings default_settings() {
    Settings s;
    // NodeOptions reads ERL_EPMD_PORT for its default: here the environment is a layer of its
    // own, so the default is EPMD's.
    s.node.epmd.endpoint = EpmdEndpoint{"127.0.0.1", default_epmd_port};
    return s;
}

}  // namespace distribute::cluster
