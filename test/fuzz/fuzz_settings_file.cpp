// libFuzzer target for the settings file: the text goes through the TOML or the INI reader (the
// first byte chooses), and every item it yields through the settings table, as a node reads its
// file at start and again when the file changes. No input may crash or hang; a value the table
// refuses gives a problem text, never an exception.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cluster/config_file.hpp"
#include "cluster/settings_table.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace distribute::cluster;
    if (size == 0) return 0;
    const ConfigSyntax syntax = (data[0] & 1) ? ConfigSyntax::ini : ConfigSyntax::toml;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    auto items = parse_config_text(text, syntax, "fuzz.toml");
    if (!items) return 0;
    distribute::Settings settings = default_settings();
    for (const auto& item : *items)
        if (const SettingDescriptor* descriptor = find_descriptor(item.key)) {
            auto problem = descriptor->set(settings, item.values);
            if (problem && problem->empty()) __builtin_trap();
        }
    for (const auto& descriptor : descriptors())
        (void)descriptor.show(settings);
    return 0;
}
