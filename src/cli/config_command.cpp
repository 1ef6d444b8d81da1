// `distribute config check FILE` and `distribute config show`: a settings file checked as a node
// would read it, and the settings a node would start with, each with where it came from.
//
//   distribute config check FILE [--environment]   every error on stderr; exit status 1
//   distribute config show [--config FILE] [node flags]
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/client_node.hpp"
#include "cli/commands.hpp"
#include "cli/setting_flags.hpp"

namespace distribute::cli {
namespace {

std::string source_text(const SettingOrigin& origin) {
    std::string out(to_string(origin.source));
    if (!origin.origin.empty()) out += " " + origin.origin;
    return out;
}

struct CheckCommand {
    std::string file;
    bool environment = false;
};

void run_check(const CheckCommand& c) {
    SettingsSources sources;
    sources.config_file = c.file;
    if (c.environment) sources.environment = process_environment();
    sources.for_start = false;
    auto loaded = load_settings(sources);
    if (!loaded) {
        for (const auto& e : loaded.error())
            std::fprintf(stderr, "%s\n", e.to_string().c_str());
        command_failed("config check",
                       c.file + ": " + std::to_string(loaded.error().size()) + " error(s)");
    }
    std::size_t from_file = 0;
    for (const auto& s : show_settings(*loaded))
        if (s.origin.source == SettingSource::config_file) {
            std::printf("%s = %s\n", s.key.c_str(), s.value.c_str());
            ++from_file;
        }
    for (const auto& warning : loaded->warnings)
        std::fprintf(stderr, "warning: %s\n", warning.c_str());
    std::printf("%s: ok, %zu setting(s)\n", c.file.c_str(), from_file);
}

void run_show(const SettingFlags& flags) {
    const auto loaded = flags.load("config show", /*for_start=*/false);
    const auto all = show_settings(loaded);
    std::size_t key_width = 0, value_width = 0;
    for (const auto& s : all) {
        key_width = std::max(key_width, s.key.size());
        value_width = std::max(value_width, s.value.size());
    }
    for (const auto& s : all)
        std::printf("%-*s  %-*s  %s%s\n", static_cast<int>(key_width), s.key.c_str(),
                    static_cast<int>(value_width), s.value.c_str(), source_text(s.origin).c_str(),
                    s.changeable ? "  (changes while running)" : "");
}

}  // namespace

void add_config_command(CLI::App& app) {
    CLI::App* config = app.add_subcommand("config", "Check a settings file, show the settings");
    config->require_subcommand(1);

    auto check = std::make_shared<CheckCommand>();
    CLI::App* c = config->add_subcommand("check", "Check a settings file; errors on stderr");
    c->add_option("FILE", check->file, "TOML (or *.ini) settings file")->required();
    c->add_flag("--environment", check->environment,
                "Layer this process's environment (DISTRIBUTE_*, ERL_EPMD_*) over the file");
    c->footer(
        "Prints the settings the file gives, or every error (setting, source, allowed "
        "values) on stderr.\n\nExample:\n  distribute config check /etc/app/node.toml\n\n"
        "Exit status: 0 when the file is good, 1 when it has errors, 2 for a bad command "
        "line.");
    c->callback([check] { run_check(*check); });

    CLI::App* s = config->add_subcommand(
        "show", "The settings `distribute node` would start with, and where each comes from");
    auto flags = add_setting_flags(s);
    s->footer(
        "Every setting, its value (never the cookie), where it came from (default, config "
        "file, environment, command line) and whether it changes while the node runs.\n\n"
        "Example:\n  DISTRIBUTE_LOG_LEVEL=debug distribute config show --config "
        "/etc/app/node.toml --port 9200\n\nExit status: 0, or 2 when a setting is refused.");
    s->callback([flags] { run_show(*flags); });
}

}  // namespace distribute::cli
