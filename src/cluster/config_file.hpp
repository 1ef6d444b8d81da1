// The config file of settings: TOML, or INI when its name ends in ".ini" (CLI11's readers), read
// into key = values items that the layering (settings_load) checks against the table. The text is
// anything a user or a deployment tool wrote, so the parser is fuzzed (test/fuzz).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "distribute/settings.hpp"

namespace distribute::cluster {

// One key = value of a config file (several values for an array).
struct SettingItem {
    std::string key;
    std::vector<std::string> values;
};

enum class ConfigSyntax { toml, ini };

[[nodiscard]] Expected<std::vector<SettingItem>, SettingsError> read_config_file(
    const std::string& path);

// `origin` names the text in errors (the file's path).
[[nodiscard]] Expected<std::vector<SettingItem>, SettingsError> parse_config_text(
    std::string_view text, ConfigSyntax syntax, const std::string& origin);

}  // namespace distribute::cluster
