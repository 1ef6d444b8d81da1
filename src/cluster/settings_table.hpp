// The settings a node has: for each, its key, what it allows, whether it may change while the
// node runs, and how a value given as text becomes part of the typed Settings (and back, for
// `config show`). One table, used by every layer and by the watch.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "distribute/settings.hpp"

namespace distribute::cluster {

struct SettingDescriptor {
    std::string key;      // section.name
    std::string allowed;  // for errors and help
    bool changeable = false;
    bool secret = false;
    bool list = false;  // several values: a file array, or commas elsewhere
    // Sets the value; returns the problem when it cannot.
    std::function<std::optional<std::string>(Settings&, const std::vector<std::string>&)> set;
    std::function<std::string(const Settings&)> show;
};

const std::vector<SettingDescriptor>& descriptors();
const SettingDescriptor* find_descriptor(std::string_view key);

// DISTRIBUTE_ and the key in capitals with '_' for '.': DISTRIBUTE_NODE_NAME.
std::string environment_name(std::string_view key);

// The defaults, independent of this process's environment (which is a layer of its own).
Settings default_settings();

}  // namespace distribute::cluster
