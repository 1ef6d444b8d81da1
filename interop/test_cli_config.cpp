// `distribute config check`, `distribute config show` and `distribute node --config` as a user
// runs them: errors naming the setting, its source and what is allowed; the effective settings
// with their sources and never the cookie; a node started from a file that erl reaches, that
// connects to the peers the file lists, and that takes edits of the file while it runs.
#include <doctest/doctest.h>

#include <fstream>

#include "node_support.hpp"
#include "peer_process.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

const std::string cli = DISTRIBUTE_BUILD_ROOT "/src/cli/distribute";

void write_file(const std::string& path, const std::string& content) {
    const std::string temporary = path + ".new";
    std::ofstream(temporary) << content;
    REQUIRE(std::rename(temporary.c_str(), path.c_str()) == 0);
}

}  // namespace

TEST_CASE("config check names each bad setting, its source and what is allowed, and fails") {
    REQUIRE_MESSAGE(run({"test", "-x", cli}, 5s).exit_status == 0, cli << " is not built");
    TempDir dir;
    const auto file = dir.file("bad.toml");
    write_file(file, "[node]\nport = \"9200-9100\"\nnmae = \"x\"\n[log]\nlevel = \"loud\"\n");
    const auto result = run({cli, "config", "check", file}, 20s);
    CHECK(result.exit_status == 1);
    CHECK(result.err.find("node.port = '9200-9100' (config file " + file +
                          "): the range ends before it starts; allowed: P or P-Q") !=
          std::string::npos);
    CHECK(result.err.find("node.nmae = 'x' (config file " + file + "): no such setting") !=
          std::string::npos);
    CHECK(result.err.find("log.level = 'loud'") != std::string::npos);
    CHECK(result.err.find("3 error(s)") != std::string::npos);

    write_file(file, "[node]\nport = \"9100-9110\"\n[cluster]\nseeds = [\"a@h\"]\n");
    const auto good = run({cli, "config", "check", file}, 20s);
    CHECK(good.exit_status == 0);
    CHECK(good.out ==
          "node.port = 9100-9110\ncluster.seeds = a@h\n" + file + ": ok, 2 setting(s)\n");
}

TEST_CASE("config show gives every setting with its source, the cookie never") {
    TempDir dir;
    const auto file = dir.file("node.toml");
    write_file(file, "[node]\nname = \"shown\"\nport = 9100\n[log]\nlevel = \"warning\"\n");
    const auto result = run({cli, "config", "show", "--config", file, "--port", "9300"}, 20s,
                            {"DISTRIBUTE_NODE_COOKIE=very_secret_cookie", "ERL_EPMD_PORT=4400"});
    REQUIRE_MESSAGE(result.exit_status == 0, result.err);
    CHECK(result.out.find("very_secret_cookie") == std::string::npos);
    auto line_of = [&](const std::string& key) {
        const auto at = result.out.find(key + " ");
        REQUIRE(at != std::string::npos);
        return result.out.substr(at, result.out.find('\n', at) - at);
    };
    CHECK(line_of("node.cookie").find("(set)") != std::string::npos);
    CHECK(line_of("node.cookie").find("environment DISTRIBUTE_NODE_COOKIE") != std::string::npos);
    CHECK(line_of("node.name").find("config file " + file) != std::string::npos);
    CHECK(line_of("node.port").find("9300") != std::string::npos);
    CHECK(line_of("node.port").find("command line --port") != std::string::npos);
    CHECK(line_of("epmd.port").find("environment ERL_EPMD_PORT") != std::string::npos);
    CHECK(line_of("log.level").find("(changes while running)") != std::string::npos);
    CHECK(line_of("node.net_ticktime").find("default") != std::string::npos);
}

TEST_CASE(
    "a node started from a settings file is reached by erl, connects to the peers it "
    "lists, and takes edits of the file while it runs") {
    Cluster cluster;
    ErlNode erl(cluster.erl_options("erl_cfg"));
    TempDir dir;
    const auto file = dir.file("node.toml");
    const std::string name = unique_name("cpp_cfg");
    const std::string config = "[node]\nname = \"" + name + "\"\ncookie = \"interop_cookie\"\n" +
                               "[epmd]\nmode = \"use_running\"\n[discovery]\nstatic = [\"" +
                               erl.node_name() + "\"]\ninterval = \"500ms\"\n";
    write_file(file, config);
    PeerProcess node({cli, "node", "--config", file}, {epmd_env(cluster.epmd_port())});
    node.await_output("is up");
    const std::string full = name + "@" + short_host();
    // Discovery connected it to erl, which sees it without being asked.
    eventually(
        [&] { return erl.eval("lists:member(" + quoted(full) + ", nodes(connected))") == "true"; });
    CHECK(erl.eval("gen_server:call({kv, " + quoted(full) + "}, {put, k, 1})") == "ok");

    write_file(file, config + "[log]\nlevel = \"debug\"\n[limits]\nmax_frame_bytes = \"8MiB\"\n" +
                         "[cluster]\nheartbeat_interval = \"2s\"\n");
    node.await_output("setting log.level changed: info -> debug");
    node.await_output("setting limits.max_frame_bytes changed: 1GiB -> 8MiB");
    node.await_output(
        "setting cluster.heartbeat_interval cannot change while the node runs (1s kept, 2s "
        "asked): restart to apply");
    write_file(file, config + "[log]\nlevel = \"loud\"\n");
    node.await_output("settings file refused, nothing changed: log.level = 'loud'");
    CHECK(erl.eval("net_adm:ping(" + quoted(full) + ")") == "pong");
}

TEST_CASE("distribute node refuses settings it cannot use, naming each, before starting") {
    const auto result = run({cli, "node", "--port", "http"}, 20s, {"DISTRIBUTE_NODE_HIDDEN=maybe"});
    CHECK(result.exit_status == 2);
    CHECK(result.err.find(
              "node.hidden = 'maybe' (environment DISTRIBUTE_NODE_HIDDEN): not a boolean") !=
          std::string::npos);
    CHECK(result.err.find("node.port = 'http' (command line --port)") != std::string::npos);
    CHECK(result.err.find("node.name") != std::string::npos);  // not set by any source
}
