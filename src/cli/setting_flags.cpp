#include "cli/setting_flags.hpp"

#include <cstdio>

#include "cli/client_node.hpp"

namespace distribute::cli {

std::shared_ptr<SettingFlags> add_setting_flags(CLI::App* c) {
    auto f = std::make_shared<SettingFlags>();
    f->app = c;
    c->add_option("--config", f->config, "Settings file (TOML, or INI when named *.ini)")
        ->option_text("FILE");
    c->add_option("--sname", f->sname, "Short node name (like erl -sname)")->option_text("NAME");
    c->add_option("--name", f->name, "Long node name (like erl -name)")->option_text("NAME");
    c->add_option("--cookie", f->cookie, "Cookie (default: erl's cookie file)");
    c->add_option("--cookie-file", f->cookie_file,
                  "Read the cookie from PATH, with erl's checks (owner-only, one line)")
        ->option_text("PATH");
    c->add_flag("--hidden", f->hidden,
                "Hidden node: left out of nodes(), global and pg on the BEAM (default: visible)");
    c->add_option("--listen", f->listen,
                  "Listen on ADDRESS only, e.g. 127.0.0.1 or ::1 (erl's -kernel "
                  "inet_dist_use_interface; default: every interface, IPv4 and IPv6)")
        ->option_text("ADDRESS");
    c->add_option("--port", f->port,
                  "Distribution port, or the first free one of MIN-MAX (erl's -kernel "
                  "inet_dist_listen_min/inet_dist_listen_max; default: any)")
        ->option_text("MIN[-MAX]");
    c->add_option("--epmdless-port", f->epmdless_port,
                  "EPMD-less, as erl -start_epmd false -erl_epmd_port PORT: listen on PORT, start "
                  "and ask no EPMD, and dial every peer at PORT (default: 0, through EPMD)")
        ->option_text("PORT");
    c->add_option("--threads", f->threads, "Threads running the node (default: one per core)");
    c->add_option("--net-ticktime", f->net_ticktime,
                  "Silence after which a peer is dropped, as -kernel net_ticktime (seconds, or "
                  "with a unit: 10s, 2m; default: 60)")
        ->option_text("SECONDS");
    c->add_option("--seed", f->seeds, "A node to join (repeatable)")->option_text("NODE");
    c->add_option("--log-level", f->log_level, "debug, info, warning or error (default: info)");
    c->add_flag("-v,--verbose", f->verbose, "Also log debug lines (--log-level debug)");
    add_crypto_options(*c, f->crypto);
    return f;
}

std::vector<FlagValue> SettingFlags::values() const {
    std::vector<FlagValue> out;
    auto given = [&](const char* flag) { return app->count(flag) > 0; };
    if (given("--sname")) {
        out.push_back({"node.name", sname, "--sname"});
        out.push_back({"node.long_names", "false", "--sname"});
    }
    if (given("--name")) {
        out.push_back({"node.name", name, "--name"});
        out.push_back({"node.long_names", "true", "--name"});
    }
    if (given("--cookie")) out.push_back({"node.cookie", cookie, "--cookie"});
    if (given("--cookie-file")) out.push_back({"node.cookie_file", cookie_file, "--cookie-file"});
    if (given("--hidden")) out.push_back({"node.hidden", "true", "--hidden"});
    if (given("--port")) out.push_back({"node.port", port, "--port"});
    if (given("--listen")) out.push_back({"node.listen", listen, "--listen"});
    if (given("--epmdless-port"))
        out.push_back({"node.epmdless_port", epmdless_port, "--epmdless-port"});
    if (given("--threads")) out.push_back({"node.threads", std::to_string(threads), "--threads"});
    if (given("--net-ticktime"))
        out.push_back({"node.net_ticktime", net_ticktime, "--net-ticktime"});
    if (given("--seed")) {
        std::string list;
        for (auto& seed : seeds)
            list += (list.empty() ? "" : ",") + seed;
        out.push_back({"cluster.seeds", list, "--seed"});
    }
    if (given("--log-level")) out.push_back({"log.level", log_level, "--log-level"});
    if (given("--verbose")) out.push_back({"log.level", "debug", "--verbose"});
    if (given("--crypto")) out.push_back({"crypto.mode", crypto.mode, "--crypto"});
    if (given("--node-key")) out.push_back({"crypto.node_key", crypto.node_key, "--node-key"});
    if (given("--peer-keys")) out.push_back({"crypto.peer_keys", crypto.peer_keys, "--peer-keys"});
    return out;
}

LoadedSettings SettingFlags::load(const std::string& command, bool for_start) const {
    if (app->count("--sname") && app->count("--name"))
        usage_error(command, "give at most one of --sname and --name");
    if (app->count("--cookie") && app->count("--cookie-file"))
        usage_error(command, "give at most one of --cookie and --cookie-file");
    SettingsSources sources{config, process_environment(), values(), for_start};
    auto loaded = load_settings(sources);
    if (!loaded) {
        for (const auto& e : loaded.error())
            std::fprintf(stderr, "distribute %s: %s\n", command.c_str(), e.to_string().c_str());
        usage_error(command, std::to_string(loaded.error().size()) + " setting(s) refused");
    }
    for (const auto& warning : loaded->warnings)
        std::fprintf(stderr, "distribute %s: warning: %s\n", command.c_str(), warning.c_str());
    return std::move(*loaded);
}

}  // namespace distribute::cli
