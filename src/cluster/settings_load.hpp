// The layering of settings, for load_settings() and for the watch (which reads the file again
// and keeps what cannot change while running as it was).
#pragma once

#include <string>
#include <vector>

#include "cluster/config_file.hpp"
#include "distribute/settings.hpp"

namespace distribute::cluster {

// Defaults, then `file_items`, then the environment and the command line of `sources`.
[[nodiscard]] Expected<LoadedSettings, std::vector<SettingsError>> load_from(
    const std::vector<SettingItem>& file_items, const SettingsSources& sources);

}  // namespace distribute::cluster
