// The layering of settings, for load_settings() and for the watch (which reads the file again
// and keeps what cannot change while running as it was).
#pragma once

#include <string>
#include <vector>

#include "distribute/settings.hpp"

namespace distribute::cluster {

// One key = value of a config file (several values for an array).
struct SettingItem {
    std::string key;
    std::vector<std::string> values;
};

[[nodiscard]] Expected<std::vector<SettingItem>, SettingsError> read_config_file(
    const std::string& path);

// Defaults, then `file_items`, then the environment and the command line of `sources`.
[[nodiscard]] Expected<LoadedSettings, std::vector<SettingsError>> load_from(
    const std::vector<SettingItem>& file_items, const SettingsSources& sources);

}  // namespace distribute::cluster
