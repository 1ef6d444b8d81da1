// Reading settings: defaults, then the config file (CLI11's TOML or INI reader), then the
// environment, then the command line; every value checked, every error kept.
#include "cluster/settings_load.hpp"
#include "cluster/settings_table.hpp"
#include "cluster/settings_values.hpp"

extern char** environ;

namespace distribute {

using cluster::SettingDescriptor;

std::string_view to_string(SettingSource source) {
    switch (source) {
        case SettingSource::default_value:
            return "default";
        case SettingSource::config_file:
            return "config file";
        case SettingSource::environment:
            return "environment";
        case SettingSource::command_line:
            return "command line";
    }
    return "?";
}

std::string SettingsError::to_string() const {
    std::string out;
    if (!key.empty()) out += key;
    if (!value.empty() || !key.empty()) out += " = '" + value + "'";
    out += " (" + std::string(distribute::to_string(source));
    if (!origin.empty()) out += " " + origin;
    out += "): " + problem;
    if (!allowed.empty()) out += "; allowed: " + allowed;
    return out;
}

std::vector<std::string> process_environment() {
    std::vector<std::string> out;
    for (char** entry = environ; entry && *entry; ++entry)
        out.emplace_back(*entry);
    return out;
}

const std::vector<SettingInfo>& known_settings() {
    static const std::vector<SettingInfo> info = [] {
        std::vector<SettingInfo> out;
        for (const auto& d : cluster::descriptors())
            out.push_back({d.key, d.allowed, cluster::environment_name(d.key), d.changeable});
        return out;
    }();
    return info;
}

Expected<std::vector<std::unique_ptr<DiscoveryBackend>>, DiscoveryError>
DiscoverySettings::backends() const {
    std::vector<std::unique_ptr<DiscoveryBackend>> out;
    if (!static_nodes.empty()) out.push_back(static_backend(static_nodes));
    if (!file.empty()) out.push_back(file_backend(file, file_poll));
    if (!dns.name.empty()) {
        auto backend = dns_backend(dns);
        if (!backend) return unexpected(backend.error());
        out.push_back(std::move(*backend));
    }
    if (!epmd.hosts.empty()) out.push_back(epmd_backend(epmd));
    return out;
}

namespace cluster {

namespace {

struct Layering {
    LoadedSettings loaded;
    std::vector<SettingsError> errors;

    void apply(const std::string& key, std::vector<std::string> values, SettingSource source,
               const std::string& origin) {
        const SettingDescriptor* d = find_descriptor(key);
        const std::string shown = join(values);
        if (!d) {
            std::string section = key.substr(0, key.rfind('.') + 1);
            std::string known;
            for (const auto& other : descriptors())
                if (!section.empty() && other.key.rfind(section, 0) == 0)
                    known += (known.empty() ? "" : ", ") + other.key;
            errors.push_back({key, source, origin, shown,
                              known.empty() ? "see distribute config show" : known,
                              "no such setting"});
            return;
        }
        // Lists: a file gives an array; elsewhere (and inside array items) commas separate.
        if (d->list) {
            std::vector<std::string> split;
            for (auto& value : values)
                for (auto& piece : split_list(value, source == SettingSource::environment &&
                                                         origin == "ERL_EPMD_ADDRESS"))
                    split.push_back(piece);
            values = std::move(split);
        }
        if (auto problem = d->set(loaded.settings, values)) {
            errors.push_back(
                {key, source, origin, d->secret ? "(hidden)" : shown, d->allowed, *problem});
            return;
        }
        loaded.origins[key] = SettingOrigin{source, origin};
    }
};

void check_whole(Layering& l, const SettingsSources& sources) {
    const Settings& s = l.loaded.settings;
    auto origin_of = [&](const std::string& key) { return l.loaded.origins[key]; };
    if (sources.for_start && s.node.name.empty())
        l.errors.push_back({"node.name", SettingSource::default_value, "", "",
                            find_descriptor("node.name")->allowed,
                            "not set by any source (--sname/--name, " +
                                environment_name("node.name") + ", or [node] name)"});
    if (!s.discovery.dns.name.empty()) {
        auto dns = dns_backend(s.discovery.dns);
        if (!dns) {
            auto o = origin_of("discovery.dns.pattern");
            l.errors.push_back(
                {"discovery.dns.pattern", o.source, o.origin, s.discovery.dns.node_pattern,
                 find_descriptor("discovery.dns.pattern")->allowed, dns.error().detail});
        }
    }
}

}  // namespace

Expected<LoadedSettings, std::vector<SettingsError>> load_from(
    const std::vector<SettingItem>& file_items, const SettingsSources& sources) {
    Layering l;
    l.loaded.settings = default_settings();
    for (const auto& d : descriptors())
        l.loaded.origins[d.key] = SettingOrigin{};
    for (const auto& item : file_items)
        l.apply(item.key, item.values, SettingSource::config_file, sources.config_file);

    // The BEAM's own variables first, so that DISTRIBUTE_* ones win over them.
    std::vector<std::pair<std::string, std::string>> ours;
    for (const auto& entry : sources.environment) {
        const auto eq = entry.find('=');
        if (eq == std::string::npos) continue;
        const std::string name = entry.substr(0, eq);
        const std::string value = entry.substr(eq + 1);
        if (name == "ERL_EPMD_PORT")
            l.apply("epmd.port", {value}, SettingSource::environment, name);
        else if (name == "ERL_EPMD_ADDRESS")
            l.apply("epmd.listen", {value}, SettingSource::environment, name);
        else if (name.rfind("DISTRIBUTE_", 0) == 0)
            ours.emplace_back(name, value);
    }
    for (const auto& [name, value] : ours) {
        const SettingDescriptor* match = nullptr;
        for (const auto& d : descriptors())
            if (environment_name(d.key) == name) match = &d;
        if (!match) {
            l.loaded.warnings.push_back(name + " names no setting; ignored");
            continue;
        }
        l.apply(match->key, {value}, SettingSource::environment, name);
    }
    for (const auto& flag : sources.command_line)
        l.apply(flag.key, {flag.value}, SettingSource::command_line, flag.flag);
    check_whole(l, sources);
    if (!l.errors.empty()) return unexpected(std::move(l.errors));
    return std::move(l.loaded);
}

}  // namespace cluster

Expected<LoadedSettings, std::vector<SettingsError>> load_settings(const SettingsSources& sources) {
    std::vector<cluster::SettingItem> items;
    if (!sources.config_file.empty()) {
        auto read = cluster::read_config_file(sources.config_file);
        if (!read) return unexpected(std::vector<SettingsError>{read.error()});
        items = std::move(*read);
    }
    return cluster::load_from(items, sources);
}

std::vector<ShownSetting> show_settings(const LoadedSettings& loaded) {
    std::vector<ShownSetting> out;
    for (const auto& d : cluster::descriptors()) {
        auto it = loaded.origins.find(d.key);
        out.push_back({d.key, d.show(loaded.settings),
                       it == loaded.origins.end() ? SettingOrigin{} : it->second, d.changeable});
    }
    return out;
}

}  // namespace distribute
