#include "cluster/config_file.hpp"

#include <CLI/CLI.hpp>

#include <sstream>

#include "support/file_watch.hpp"

namespace distribute::cluster {

Expected<std::vector<SettingItem>, SettingsError> read_config_file(const std::string& path) {
    auto content = support::read_text_file(path);
    if (!content)
        return unexpected(SettingsError{"", SettingSource::config_file, path, "", "",
                                        "cannot be read: " + content.error()});
    const bool ini = path.size() > 4 && path.compare(path.size() - 4, 4, ".ini") == 0;
    return parse_config_text(*content, ini ? ConfigSyntax::ini : ConfigSyntax::toml, path);
}

Expected<std::vector<SettingItem>, SettingsError> parse_config_text(std::string_view text,
                                                                    ConfigSyntax syntax,
                                                                    const std::string& origin) {
    std::istringstream in{std::string(text)};
    std::vector<CLI::ConfigItem> items;
    try {
        items = syntax == ConfigSyntax::ini ? CLI::ConfigINI().from_config(in)
                                            : CLI::ConfigTOML().from_config(in);
    } catch (const std::exception& e) {
        return unexpected(SettingsError{"", SettingSource::config_file, origin, "", "",
                                        std::string("cannot be parsed: ") + e.what()});
    }
    std::vector<SettingItem> out;
    for (auto& item : items) {
        // CLI11 marks where sections open and close with items named "++" and "--".
        if (item.name == "++" || item.name == "--") continue;
        out.push_back({item.fullname(), item.inputs});
    }
    return out;
}

}  // namespace distribute::cluster
