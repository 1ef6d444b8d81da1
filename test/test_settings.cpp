// Settings: the layers in order (defaults, file, environment, command line) with each value's
// source, every kind of error from every source naming the setting, the source and what is
// allowed, TOML and INI files, the cookie never shown, the watched file applying what may change
// and refusing the rest, and a node started from settings taking changes while it runs.
#include <doctest/doctest.h>

#include <fstream>
#include <mutex>

#include "distribute/crypto.hpp"
#include "distribute/settings.hpp"
#include "net/asio.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

std::string write(const TempDir& dir, const std::string& name, const std::string& content) {
    const std::string path = dir.path() + "/" + name;
    const std::string temporary = path + ".new";
    std::ofstream(temporary) << content;
    REQUIRE(std::rename(temporary.c_str(), path.c_str()) == 0);
    return path;
}

// A config file written in `dir` and the settings loaded from it alone, for a watch on it.
struct WatchedFile {
    SettingsSources sources;
    LoadedSettings loaded;
};
WatchedFile watched_file(const TempDir& dir, const std::string& name, const std::string& content) {
    SettingsSources sources{.config_file = write(dir, name, content)};
    auto loaded = load_settings(sources);
    REQUIRE(loaded.has_value());
    return {std::move(sources), std::move(*loaded)};
}

ShownSetting shown(const LoadedSettings& loaded, const std::string& key) {
    for (auto& s : show_settings(loaded))
        if (s.key == key) return s;
    FAIL("no setting " << key);
    return {};
}

// The one error of a load that must fail.
SettingsError only_error(const SettingsSources& sources) {
    auto loaded = load_settings(sources);
    REQUIRE_FALSE(loaded.has_value());
    REQUIRE(loaded.error().size() == 1);
    return loaded.error()[0];
}

SettingsSources named(std::vector<FlagValue> flags = {}) {
    flags.insert(flags.begin(), {"node.name", "app", "--sname"});
    return {.command_line = std::move(flags)};
}

}  // namespace

TEST_CASE("settings come from defaults, then the file, then the environment, then flags") {
    TempDir dir;
    const auto file = write(dir, "node.toml", R"(
# a node
[node]
name = "from_file"
port = "9100-9110"
hidden = true
[log]
level = "warning"
[discovery.dns]
name = "app.svc.test"
pattern = "app@{ip}"
servers = ["127.0.0.1:5353", "10.0.0.53"]
[cluster]
seeds = ["a@h", "b@h"]
)");
    auto loaded = load_settings({.config_file = file,
                                 .environment = {"DISTRIBUTE_NODE_PORT=9200", "ERL_EPMD_PORT=5555",
                                                 "HOME=/root", "DISTRIBUTE_LOG_LEVEL=error"},
                                 .command_line = {{"node.port", "9300", "--port"}}});
    REQUIRE(loaded.has_value());
    const Settings& s = loaded->settings;
    CHECK(s.node.name == "from_file");
    CHECK(s.node.port_min == 9300);
    CHECK(s.node.port_max == 9300);
    CHECK(s.node.epmd.endpoint.port == 5555);
    CHECK(s.log_level == LogLevel::error);
    CHECK(s.discovery.dns.servers == std::vector<std::string>{"127.0.0.1:5353", "10.0.0.53"});
    CHECK(s.cluster.seeds == std::vector<std::string>{"a@h", "b@h"});
    CHECK(s.node.net_ticktime == std::chrono::seconds(60));

    CHECK(shown(*loaded, "node.name").origin.source == SettingSource::config_file);
    CHECK(shown(*loaded, "node.name").origin.origin == file);
    CHECK(shown(*loaded, "node.port").origin.source == SettingSource::command_line);
    CHECK(shown(*loaded, "node.port").origin.origin == "--port");
    CHECK(shown(*loaded, "epmd.port").origin.origin == "ERL_EPMD_PORT");
    CHECK(shown(*loaded, "log.level").origin.origin == "DISTRIBUTE_LOG_LEVEL");
    CHECK(shown(*loaded, "node.net_ticktime").origin.source == SettingSource::default_value);
    CHECK(shown(*loaded, "node.net_ticktime").value == "1m");
    CHECK(shown(*loaded, "discovery.dns.servers").value == "127.0.0.1:5353,10.0.0.53");
    CHECK(loaded->warnings.empty());
}

TEST_CASE(
    "DISTRIBUTE_EPMD_PORT wins over ERL_EPMD_PORT; ERL_EPMD_ADDRESS lists the EPMD's addresses") {
    auto sources = named();
    sources.environment = {"DISTRIBUTE_EPMD_PORT=4400", "ERL_EPMD_PORT=5555",
                           "ERL_EPMD_ADDRESS=10.0.0.1, 10.0.0.2 ::1"};
    auto loaded = load_settings(sources);
    REQUIRE(loaded.has_value());
    CHECK(loaded->settings.node.epmd.endpoint.port == 4400);
    CHECK(loaded->settings.node.embedded_epmd_addresses ==
          std::vector<std::string>{"10.0.0.1", "10.0.0.2", "::1"});
}

TEST_CASE(
    "node.epmdless_port comes from the file, DISTRIBUTE_NODE_EPMDLESS_PORT or --epmdless-port") {
    TempDir dir;
    const auto file = write(dir, "less.toml", "[node]\nname = \"x\"\nepmdless_port = 9100\n");
    auto from_file = load_settings({.config_file = file});
    REQUIRE(from_file.has_value());
    CHECK(from_file->settings.node.epmdless_port == 9100);
    CHECK(load_settings(named())->settings.node.epmdless_port == 0);  // through EPMD

    auto sources = named({{"node.epmdless_port", "9300", "--epmdless-port"}});
    sources.config_file = file;
    sources.environment = {"DISTRIBUTE_NODE_EPMDLESS_PORT=9200"};
    auto from_flag = load_settings(sources);
    REQUIRE(from_flag.has_value());
    CHECK(from_flag->settings.node.epmdless_port == 9300);
    CHECK(shown(*from_flag, "node.epmdless_port").origin.origin == "--epmdless-port");
    sources.command_line.pop_back();
    auto from_environment = load_settings(sources);
    REQUIRE(from_environment.has_value());
    CHECK(from_environment->settings.node.epmdless_port == 9200);
    CHECK(shown(*from_environment, "node.epmdless_port").origin.origin ==
          "DISTRIBUTE_NODE_EPMDLESS_PORT");
}

TEST_CASE("a DISTRIBUTE_ variable that names no setting is a warning, not an error") {
    auto sources = named();
    sources.environment = {"DISTRIBUTE_TEST_LOG=1"};
    auto loaded = load_settings(sources);
    REQUIRE(loaded.has_value());
    CHECK(loaded->warnings ==
          std::vector<std::string>{"DISTRIBUTE_TEST_LOG names no setting; ignored"});
}

TEST_CASE("a bad value names the setting, its source and what is allowed, from every source") {
    TempDir dir;
    const auto file = write(dir, "bad.toml", "[node]\nname = \"x\"\nport = 70000\n");
    auto from_file = only_error({.config_file = file});
    CHECK(from_file.key == "node.port");
    CHECK(from_file.source == SettingSource::config_file);
    CHECK(from_file.origin == file);
    CHECK(from_file.value == "70000");
    CHECK(from_file.allowed.find("P or P-Q") != std::string::npos);
    CHECK(from_file.to_string() ==
          "node.port = '70000' (config file " + file +
              "): not a port or a port range; allowed: P or P-Q with 0 <= P <= Q <= 65535 (0: "
              "any free port)");

    auto sources = named();
    sources.environment = {"DISTRIBUTE_NODE_HIDDEN=maybe"};
    auto from_environment = only_error(sources);
    CHECK(from_environment.key == "node.hidden");
    CHECK(from_environment.source == SettingSource::environment);
    CHECK(from_environment.origin == "DISTRIBUTE_NODE_HIDDEN");
    CHECK(from_environment.problem == "not a boolean");

    auto from_flag = only_error(named({{"node.net_ticktime", "5 fortnights", "--net-ticktime"}}));
    CHECK(from_flag.key == "node.net_ticktime");
    CHECK(from_flag.source == SettingSource::command_line);
    CHECK(from_flag.origin == "--net-ticktime");
    CHECK(from_flag.problem == "unknown unit 'fortnights'");
}

TEST_CASE("every error is reported, not only the first, even when a later layer overrides it") {
    TempDir dir;
    const auto file = write(dir, "two.toml", "[node]\nthreads = -1\n[log]\nlevel = loud\n");
    auto sources = named({{"node.threads", "2", "--threads"}});
    sources.config_file = file;
    auto loaded = load_settings(sources);
    REQUIRE_FALSE(loaded.has_value());
    REQUIRE(loaded.error().size() == 2);
    CHECK(loaded.error()[0].key == "node.threads");
    CHECK(loaded.error()[1].key == "log.level");
    CHECK(loaded.error()[1].allowed == "debug, info, warning or error");
}

TEST_CASE("each kind of value refuses what it cannot take") {
    struct Case {
        std::string key, value, problem;
    };
    const std::vector<Case> cases = {
        {"node.port", "9200-9100", "the range ends before it starts"},
        {"node.port", "http", "not a port or a port range"},
        {"node.listen", "localhost", "not an IP address"},
        {"node.epmdless_port", "70000", "out of range"},
        {"node.threads", "2000", "out of range"},
        {"node.cookie", "has\ttab", "a character outside ' '..'~'"},
        {"node.net_ticktime", "0", "out of range"},
        {"node.setup_time", "5 parsecs", "unknown unit 'parsecs'"},
        {"epmd.port", "0", "out of range"},
        {"epmd.mode", "sometimes", "not one of the allowed values"},
        {"epmd.listen", "127.0.0.1,nowhere", "'nowhere': not an IP address"},
        {"limits.max_frame_bytes", "12", "out of range"},
        {"limits.busy_limit", "2 elephants", "unknown unit 'elephants'"},
        {"discovery.static", "good@host,bad", "'bad': not a node name"},
        {"discovery.dns.query", "mx", "not one of the allowed values"},
        {"cluster.suspect_phi", "high", "not a number"},
        {"cluster.suspect_phi", "0.5", "out of range"},
        {"cluster.seeds", "@host", "'@host': not a node name"},
        {"cluster.disconnect_dead", "2", "not a boolean"},
    };
    for (const auto& c : cases) {
        INFO(c.key << " = " << c.value);
        auto error = only_error(named({{c.key, c.value, "--x"}}));
        CHECK(error.key == c.key);
        CHECK(error.problem == c.problem);
        CHECK_FALSE(error.allowed.empty());
    }
}

TEST_CASE("every setting's value as shown reads back as the same value") {
    auto loaded = load_settings(named());
    REQUIRE(loaded.has_value());
    for (const auto& s : show_settings(*loaded)) {
        if (s.key == "node.cookie" || s.value.empty()) continue;
        INFO(s.key << " = " << s.value);
        auto again = load_settings(named({{s.key, s.value, "--x"}}));
        REQUIRE(again.has_value());
        CHECK(shown(*again, s.key).value == s.value);
    }
    CHECK(known_settings().size() == show_settings(*loaded).size());
}

TEST_CASE("a key the file gives that is no setting is an error naming its section's settings") {
    TempDir dir;
    const auto file = write(dir, "typo.toml", "[node]\nnmae = \"x\"\n");
    auto sources = named();
    sources.config_file = file;
    auto error = only_error(sources);
    CHECK(error.key == "node.nmae");
    CHECK(error.problem == "no such setting");
    CHECK(error.allowed.find("node.name, node.long_names") == 0);
}

TEST_CASE("a config file that is missing or is not a file is one error naming it") {
    auto missing = only_error({.config_file = "/nonexistent/node.toml"});
    CHECK(missing.source == SettingSource::config_file);
    CHECK(missing.origin == "/nonexistent/node.toml");
    CHECK(missing.problem.find("cannot be read") == 0);
    TempDir dir;
    auto directory = only_error({.config_file = dir.path()});
    CHECK(directory.problem.find("not a regular file") != std::string::npos);
}

TEST_CASE("an INI file is read as INI") {
    TempDir dir;
    const auto file =
        write(dir, "node.ini", "; a comment\n[node]\nname=ini_node\n[log]\nlevel=debug\n");
    auto loaded = load_settings({.config_file = file});
    REQUIRE(loaded.has_value());
    CHECK(loaded->settings.node.name == "ini_node");
    CHECK(loaded->settings.log_level == LogLevel::debug);
}

TEST_CASE("node.name must be set to start a node, and need not be for a check") {
    auto error = only_error({});
    CHECK(error.key == "node.name");
    CHECK(error.problem.find("not set by any source") == 0);
    CHECK(load_settings({.for_start = false}).has_value());
}

TEST_CASE(
    "the encrypted transport is set from the file like any setting: the keys are read from their "
    "files, a key file that cannot be read is that setting's error, the secret is never shown") {
    TempDir dir;
    const NodeKey key = NodeKey::generate();
    const std::string key_file = dir.path() + "/node.key";
    REQUIRE(write_node_key(key_file, key).has_value());
    const NodeKey peer = NodeKey::generate();
    const auto peers =
        write(dir, "peers.txt", "# pinned\nother@host " + to_hex(peer.public_key) + "\n");
    const auto file = write(dir, "node.toml",
                            "[node]\nname = \"app\"\n[crypto]\nmode = \"require\"\nnode_key = \"" +
                                key_file + "\"\npeer_keys = \"" + peers +
                                "\"\nrekey_after = \"2m\"\nrekey_after_records = 1000\n"
                                "cipher = \"chachapoly\"\n");
    auto loaded = load_settings({.config_file = file});
    REQUIRE_MESSAGE(loaded.has_value(), loaded.error()[0].to_string());
    const CryptoOptions& crypto = loaded->settings.node.crypto;
    CHECK(crypto.mode == CryptoMode::require);
    REQUIRE(crypto.node_key.has_value());
    CHECK(crypto.node_key->public_key == key.public_key);
    CHECK(crypto.node_key->secret == key.secret);
    REQUIRE(crypto.peer_keys.size() == 1);
    CHECK(crypto.peer_keys.at("other@host") == peer.public_key);
    CHECK(crypto.rekey_after == std::chrono::seconds(120));
    CHECK(crypto.rekey_after_records == 1000);
    CHECK(crypto.cipher == CryptoCipher::chachapoly);
    CHECK(shown(*loaded, "crypto.cipher").value == "chachapoly");
    CHECK(shown(*loaded, "crypto.node_key").value == "public " + to_hex(key.public_key));
    CHECK(shown(*loaded, "crypto.peer_keys").value == "other@host");
    for (const auto& s : show_settings(*loaded))
        CHECK(s.value.find(to_hex(key.secret)) == std::string::npos);

    // The command line wins, as for every setting.
    auto plain = load_settings(
        {.config_file = file, .command_line = {{"crypto.mode", "prefer", "--crypto"}}});
    REQUIRE(plain.has_value());
    CHECK(plain->settings.node.crypto.mode == CryptoMode::prefer);

    auto missing = only_error(named({{"crypto.node_key", dir.path() + "/nope.key", "--node-key"}}));
    CHECK(missing.key == "crypto.node_key");
    CHECK(missing.problem.find("nope.key") != std::string::npos);
    auto mode = only_error(named({{"crypto.mode", "sometimes", "--crypto"}}));
    CHECK(mode.key == "crypto.mode");
    const auto empty = write(dir, "empty.txt", "# nobody\n");
    CHECK(only_error(named({{"crypto.peer_keys", empty, "--peer-keys"}})).key ==
          "crypto.peer_keys");
}

TEST_CASE("the cookie is never shown, only whether it is set") {
    auto loaded = load_settings(named({{"node.cookie", "secret_cookie", "--cookie"}}));
    REQUIRE(loaded.has_value());
    CHECK(loaded->settings.node.cookie == "secret_cookie");
    for (const auto& s : show_settings(*loaded))
        CHECK(s.value.find("secret_cookie") == std::string::npos);
    CHECK(shown(*loaded, "node.cookie").value == "(set)");
    auto error = only_error(named({{"node.cookie", "bad\ncookie", "--cookie"}}));
    CHECK(error.value == "(hidden)");
    CHECK(error.to_string().find("bad") == std::string::npos);
}

TEST_CASE("a watch's own callback hears of an edit made before it, with the io_context running") {
    TempDir dir;
    auto [sources, loaded] =
        watched_file(dir, "early.toml", "[node]\nname = \"early\"\n[log]\nlevel = \"info\"\n");
    write(dir, "early.toml", "[node]\nname = \"early\"\n[log]\nlevel = \"debug\"\n");
    boost::asio::io_context io;
    auto work = boost::asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    std::mutex mutex;
    std::vector<SettingsUpdate> updates;
    {
        SettingsWatch watch(
            io, sources, loaded,
            [&](const SettingsUpdate& u) {
                std::lock_guard lock(mutex);
                updates.push_back(u);
            },
            std::chrono::milliseconds(20));
        eventually([&] {
            std::lock_guard lock(mutex);
            return updates.size() == 1;
        });
    }
    work.reset();
    runner.join();
    REQUIRE(updates.size() == 1);
    REQUIRE(updates[0].applied.size() == 1);
    CHECK(updates[0].applied[0].key == "log.level");
    CHECK(updates[0].applied[0].after == "debug");
}

TEST_CASE("a watched file applies what may change while running and refuses the rest") {
    TempDir dir;
    auto [sources, loaded] = watched_file(
        dir, "live.toml", "[node]\nname = \"live\"\nport = 9100\n[log]\nlevel = \"info\"\n");
    boost::asio::io_context io;
    auto work = boost::asio::make_work_guard(io);
    std::thread runner;
    std::mutex mutex;
    std::vector<SettingsUpdate> updates;
    {
        SettingsWatch watch(io, sources, loaded, std::chrono::milliseconds(20));
        watch.subscribe([&](const SettingsUpdate& u) {
            std::lock_guard lock(mutex);
            updates.push_back(u);
        });
        // Changed after the settings were loaded and before the watch's first look (no io thread
        // yet): that first look reports it.
        write(dir, "live.toml",
              "[node]\nname = \"live\"\nport = 9200\n[log]\nlevel = \"debug\"\n[limits]\n"
              "max_frame_bytes = \"64MiB\"\n");
        runner = std::thread([&] { io.run(); });
        eventually([&] {
            std::lock_guard lock(mutex);
            return updates.size() == 1;
        });
        {
            std::lock_guard lock(mutex);
            const auto& u = updates[0];
            REQUIRE(u.applied.size() == 2);
            CHECK(u.applied[0].key == "limits.max_frame_bytes");
            CHECK(u.applied[0].before == "1GiB");
            CHECK(u.applied[0].after == "64MiB");
            CHECK(u.applied[1].key == "log.level");
            REQUIRE(u.refused.size() == 1);
            CHECK(u.refused[0].key == "node.port");
            CHECK(u.refused[0].after == "9200");
            CHECK(u.settings.node.port_min == 9100);  // kept as the node started
            CHECK(u.settings.log_level == LogLevel::debug);
        }
        CHECK(watch.current().settings.node.limits.max_frame_bytes == 64u << 20);

        write(dir, "live.toml", "[node]\nname = \"live\"\n[log]\nlevel = \"shouting\"\n");
        eventually([&] {
            std::lock_guard lock(mutex);
            return updates.size() == 2;
        });
        std::lock_guard lock(mutex);
        REQUIRE(updates[1].errors.size() == 1);
        CHECK(updates[1].errors[0].key == "log.level");
        CHECK(updates[1].applied.empty());
        CHECK(updates[1].settings.log_level == LogLevel::debug);  // nothing applied
    }
    work.reset();
    runner.join();
}

TEST_CASE("a node that cannot start from settings says so with the node's own code as the cause") {
    const auto epmd = free_port();
    auto loaded = load_settings(named({{"epmd.port", std::to_string(epmd), "--epmd-port"},
                                       {"epmd.mode", "embedded", "--epmd"},
                                       {"epmd.host", "127.0.0.1", "--epmd-host"},
                                       {"log.level", "error", "--log"},
                                       {"node.cookie", "unit_test_cookie", "--cookie"}}));
    REQUIRE(loaded.has_value());
    auto first = start_from_settings(loaded->settings, nullptr);
    REQUIRE(first.has_value());
    auto second = start_from_settings(loaded->settings, nullptr);
    REQUIRE_FALSE(second.has_value());
    CHECK(second.error().code == StartupErrc::node_failed);
    CHECK(second.error().cause == NodeErrc::epmd_failed);  // EPMD refused the name
    CHECK_FALSE(second.error().detail.empty());
}

TEST_CASE("a node started from settings takes its name, limits and log level, and their changes") {
    const auto epmd = free_port();
    auto loaded = load_settings(named({{"epmd.port", std::to_string(epmd), "--epmd-port"},
                                       {"epmd.mode", "embedded", "--epmd"},
                                       {"epmd.host", "127.0.0.1", "--epmd-host"},
                                       {"limits.max_frame_bytes", "2MiB", "--max-frame"},
                                       {"log.level", "warning", "--log"},
                                       {"node.cookie", "unit_test_cookie", "--cookie"}}));
    REQUIRE(loaded.has_value());
    auto lines = std::make_shared<std::vector<std::string>>();
    auto mutex = std::make_shared<std::mutex>();
    auto running =
        start_from_settings(loaded->settings, [lines, mutex](LogLevel, std::string_view l) {
            std::lock_guard lock(*mutex);
            lines->emplace_back(l);
        });
    REQUIRE_MESSAGE(running.has_value(), (running ? std::string() : running.error().detail));
    CHECK(running->node.name().name().starts_with("app@"));
    CHECK(running->node.limits().max_frame_bytes == 2u << 20);
    CHECK_FALSE(running->cluster);
    CHECK_FALSE(running->discovery);
    {
        std::lock_guard lock(*mutex);
        CHECK(lines->empty());  // the info line about the EPMD it started is below warning
    }
    SettingsUpdate update;
    update.settings = loaded->settings;
    update.settings.log_level = LogLevel::debug;
    update.settings.node.limits.max_frame_bytes = 4u << 20;
    update.settings.discovery.static_nodes = {"peer@host"};
    update.applied = {{"log.level", "warning", "debug"},
                      {"limits.max_frame_bytes", "2MiB", "4MiB"},
                      {"discovery.static", "", "peer@host"}};
    running->apply(update);
    CHECK(running->log_level->load() == LogLevel::debug);
    CHECK(running->node.limits().max_frame_bytes == 4u << 20);
    REQUIRE(running->discovery);
    REQUIRE(running->cluster);
    eventually(
        [&] { return running->cluster->member(Atom::make("peer@host").value()).has_value(); });
}
