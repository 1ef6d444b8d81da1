// Settings: one typed object for everything a node needs (its name, cookie, EPMD, ports, ticks,
// limits, discovery, cluster, log level), read from layers that override each other in this
// order: defaults < a config file (TOML or INI, parsed by CLI11) < the environment (DISTRIBUTE_*,
// and the BEAM's own ERL_EPMD_PORT and ERL_EPMD_ADDRESS) < command-line flags. Every value
// remembers where it came from; every error names the setting, its source and what is allowed.
// A watched config file changes the settings that may change while the node runs (limits,
// discovery, log level) and refuses the others, telling subscribers either way.
//
//   auto loaded = load_settings({.config_file = "/etc/app/node.toml",
//                                .environment = process_environment()});
//   if (!loaded) for (auto& e : loaded.error()) std::cerr << e.to_string() << "\n";
//   auto running = start_from_settings(loaded->settings);
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "distribute/cluster.hpp"
#include "distribute/discovery.hpp"
#include "distribute/expected.hpp"
#include "distribute/node.hpp"

namespace boost::asio {
class io_context;
}

namespace distribute {

enum class SettingSource { default_value, config_file, environment, command_line };
std::string_view to_string(SettingSource source);

struct SettingsError {
    std::string key;  // node.port; empty for a file that cannot be read at all
    SettingSource source = SettingSource::default_value;
    std::string origin;  // the file, the environment variable, the flag
    std::string value;   // as given
    std::string allowed;
    std::string problem;
    // "node.port = '70000' (config file /etc/app.toml): not a port; allowed: P or P-Q ..."
    std::string to_string() const;
};

// Which discovery backends to run, as settings describe them.
struct DiscoverySettings {
    std::vector<std::string> static_nodes{};
    std::string file{};  // empty: no file backend
    std::chrono::milliseconds file_poll{1000};
    DnsBackendOptions dns;    // dns.name empty: no DNS backend
    EpmdBackendOptions epmd;  // epmd.hosts empty: no EPMD backend
    DiscoveryOptions options;
    bool any() const {
        return !static_nodes.empty() || !file.empty() || !dns.name.empty() || !epmd.hosts.empty();
    }
    // The backends these settings describe (bad_config for a DNS pattern that cannot work).
    [[nodiscard]] Expected<std::vector<std::unique_ptr<DiscoveryBackend>>, DiscoveryError>
    backends() const;
};

struct Settings {
    NodeOptions node;  // everything but `log`, which the program provides
    LogLevel log_level = LogLevel::info;
    DiscoverySettings discovery;
    ClusterOptions cluster;
};

// Where a value came from.
struct SettingOrigin {
    SettingSource source = SettingSource::default_value;
    std::string origin;  // file path, variable name, flag; empty for defaults
};

struct LoadedSettings {
    Settings settings;
    std::map<std::string, SettingOrigin> origins;  // by key, every known setting
    std::vector<std::string> warnings;  // DISTRIBUTE_* variables that name no setting, say
};

// A value the command line gave for a setting.
struct FlagValue {
    std::string key;    // the setting: node.port
    std::string value;  // for lists, several separated by commas
    std::string flag;   // as given, for messages: --port
};

struct SettingsSources {
    std::string config_file{};  // empty: none; ".ini" files are read as INI, others as TOML
    // "NAME=value" entries; process_environment() for this process's.
    std::vector<std::string> environment{};
    // What the command line gave (a program maps its flags to keys).
    std::vector<FlagValue> command_line{};
    // Set: every setting that cannot change while running must be given (node.name).
    bool for_start = true;
};

std::vector<std::string> process_environment();

// Every layer read, every value checked. All the errors found, not just the first.
[[nodiscard]] Expected<LoadedSettings, std::vector<SettingsError>> load_settings(
    const SettingsSources& sources);

// One line of `distribute config show`.
struct ShownSetting {
    std::string key;
    std::string value;  // the cookie is never shown: "(set)" or "(not set)"
    SettingOrigin origin;
    bool changeable = false;  // may change while the node runs
};
std::vector<ShownSetting> show_settings(const LoadedSettings& loaded);

// The keys, what each allows, and whether it may change while running: for help texts.
struct SettingInfo {
    std::string key;
    std::string allowed;
    std::string environment;  // the variable that sets it
    bool changeable = false;
};
const std::vector<SettingInfo>& known_settings();

// ---------------------------------------------------------------------------------------------
// Run-time changes

struct SettingChange {
    std::string key;
    std::string before;
    std::string after;
};

// What one change of the watched file did. With errors, nothing was applied.
struct SettingsUpdate {
    Settings settings;  // in force now
    std::vector<SettingChange> applied;
    std::vector<SettingChange> refused;  // cannot change while running: restart to apply
    std::vector<SettingsError> errors;
};

// Watches sources.config_file and reads every layer again when it changes: the changes that may
// happen while running are applied, the others refused, and subscribers told.
class SettingsWatch {
  public:
    // `on_update` is subscribed before the watch's first look, which runs on the io_context at
    // once: an edit made since `current` was loaded reaches it, which a subscribe() after
    // construction can miss while the io_context's threads run.
    SettingsWatch(boost::asio::io_context& io, SettingsSources sources, LoadedSettings current,
                  std::function<void(const SettingsUpdate&)> on_update,
                  std::chrono::milliseconds poll = std::chrono::milliseconds(1000));
    SettingsWatch(boost::asio::io_context& io, SettingsSources sources, LoadedSettings current,
                  std::chrono::milliseconds poll = std::chrono::milliseconds(1000));
    ~SettingsWatch();
    SettingsWatch(const SettingsWatch&) = delete;
    SettingsWatch& operator=(const SettingsWatch&) = delete;

    // Called on the io_context, in order, for each change of the file that changed a setting,
    // refused one or had errors, from the next look at the file on.
    std::uint64_t subscribe(std::function<void(const SettingsUpdate&)> callback);
    void unsubscribe(std::uint64_t id);
    LoadedSettings current() const;

    struct State;

  private:
    std::shared_ptr<State> state_;
};

// ---------------------------------------------------------------------------------------------
// Starting a node from settings

// A node with the discovery and cluster its settings ask for.
struct RunningNode {
    Node node;
    std::unique_ptr<Cluster> cluster;      // when settings name seeds or a discovery backend
    std::unique_ptr<Discovery> discovery;  // when they name a discovery backend (it feeds the
                                           // cluster, so it is declared after it: it goes first)
    // The log level in force, which apply() changes.
    std::shared_ptr<std::atomic<LogLevel>> log_level;

    // Applies what a SettingsWatch applied: the log level, the limits, discovery (rebuilt).
    void apply(const SettingsUpdate& update);
};

// Why start_from_settings failed. `cause` is the failing part's own code (NodeErrc::no_epmd,
// NodeErrc::epmd_failed when EPMD refuses the name, DiscoveryErrc::bad_config, ...); `detail` is
// that part's detail.
enum class StartupErrc {
    node_failed = 1,   // the node did not start
    discovery_failed,  // the discovery settings make no backend
};
const std::error_category& startup_category() noexcept;
std::error_code make_error_code(StartupErrc e) noexcept;

struct StartupError {
    StartupErrc code{};
    std::error_code cause;
    std::string detail;
};

// Starts the node (logging through `log` at the settings' level), discovery and the cluster
// (joining the seeds in the background; members found by discovery are added).
[[nodiscard]] Expected<RunningNode, StartupError> start_from_settings(const Settings& settings,
                                                                      LogSink log);

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::StartupErrc> : std::true_type {};
