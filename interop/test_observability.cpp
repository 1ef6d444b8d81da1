// Counters and log lines against real erl: what erl reads of our node with rpc
// (erlang:statistics(io), erlang:memory/0,1, distribute:stats/0), `distribute stats` against an
// erl node and ours, `distribute node`'s summary on SIGUSR1 and at exit, and the key=value log
// lines of connections coming and going.
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <sstream>

#include "cli_support.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// The value of `key` in a key=value line, or "" when the line has none.
std::string value_of(const std::string& line, const std::string& key) {
    const std::string start = " " + key + "=";
    const auto at = (" " + line).find(start);
    if (at == std::string::npos) return "";
    const auto from = at + start.size() - 1;
    return line.substr(from, line.find(' ', from) - from);
}

}  // namespace

TEST_CASE("erl reads our counters with statistics(io), memory() and distribute:stats()") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_counted", &log));
    Mailbox inbox = named_mailbox(node, "inbox");
    ErlNode erl(cluster.erl_options("erl_counts"));
    const std::string ours = quoted(node.name());
    CHECK(erl.eval("[{inbox, " + ours + "} ! {n, I} || I <- lists:seq(1, 5)], ok") == "ok");
    for (int i = 1; i <= 5; ++i)
        CHECK(next_message(inbox) == tuple("n"_a, i));

    // memory(): the resident set, the one type that means something here.
    CHECK(erl.eval("[{total, T}] = rpc:call(" + ours + ", erlang, memory, []), T > 1000000") ==
          "true");
    CHECK(erl.eval("rpc:call(" + ours + ", erlang, memory, [total]) > 1000000") == "true");
    CHECK(erl.eval("element(1, catch erpc:call(" + ours + ", erlang, memory, [processes]))") ==
          "'EXIT'");
    CHECK(erl.eval("{{input, I}, {output, O}} = rpc:call(" + ours +
                   ", erlang, statistics, [io]), I > 0 andalso O > 0") == "true");

    // distribute:stats(): the counters as a map, erl's connection among them.
    const std::string connection =
        "S = rpc:call(" + ours +
        ", distribute, stats, []), [C] = [C || C <- maps:get(connections, S), "
        "maps:get(node, C) =:= node()], ";
    CHECK(erl.eval(connection + "{maps:get(messages_in, C) >= 5, maps:get(hidden, C), "
                                "maps:get(processes, S) > 0, maps:get(bytes_in, S) > 0}") ==
          "{true,false,true,true}");  // erl is a visible node
    const NodeStats stats = node.stats();
    const auto ours_of_erl =
        std::find_if(stats.connections.begin(), stats.connections.end(),
                     [&](const ConnectionStats& c) { return c.node == atom(erl.node_name()); });
    REQUIRE(ours_of_erl != stats.connections.end());
    CHECK(ours_of_erl->messages_in >= 5);
    CHECK(ours_of_erl->address.starts_with("127.0.0.1:"));

    // The log: key=value lines for the connection coming up and going down, with the reason.
    CHECK(log.contains("event=nodeup node=" + erl.node_name() + " address=127.0.0.1:"));
    REQUIRE(node.disconnect(atom(erl.node_name())));
    eventually([&] {
        return log.contains("event=nodedown node=" + erl.node_name() + " address=127.0.0.1:");
    });
    CHECK(log.contains("reason=disconnect_node messages_in="));
}

TEST_CASE("distribute stats prints any node's counters, and ours with each connection") {
    require_cli();
    Cluster cluster;
    const std::vector<std::string> env = {epmd_env(cluster.epmd_port())};
    ErlNode erl(cluster.erl_options("erl_stats"));
    ForegroundNode cpp({"--sname", unique_name("cpp_stats"), "--cookie", "interop_cookie",
                        "--listen", "127.0.0.1"},
                       env);
    CHECK(erl.eval("net_adm:ping('" + cpp.name() + "')") == "pong");

    // A BEAM: the line every node answers, and nothing of ours.
    const RunResult beam = run_cli({"stats", erl.node_name(), "--cookie", "interop_cookie"}, env);
    INFO(beam.err);
    REQUIRE(beam.exit_status == 0);
    const auto beam_lines = lines_of(beam.out);
    REQUIRE(beam_lines.size() == 1);
    CHECK(value_of(beam_lines[0], "node") == erl.node_name());
    CHECK(value_of(beam_lines[0], "machine") == "BEAM");
    CHECK(value_of(beam_lines[0], "otp_release") ==
          erl.eval("erlang:system_info(otp_release)").substr(1, 2));
    CHECK(std::stoll(value_of(beam_lines[0], "processes")) > 20);
    CHECK(std::stoll(value_of(beam_lines[0], "memory_total")) > 1000000);
    CHECK(value_of(beam_lines[0], "connected_nodes") != "");

    // Ours: the same line, then the counters and one line per connection (erl's, and the
    // command's own node).
    const RunResult ours = run_cli({"stats", cpp.name(), "--cookie", "interop_cookie"}, env);
    INFO(ours.err);
    REQUIRE(ours.exit_status == 0);
    const auto lines = lines_of(ours.out);
    REQUIRE(lines.size() >= 4);
    CHECK(value_of(lines[0], "machine") == "distribute");
    CHECK(value_of(lines[0], "connected_nodes") == "2");
    CHECK(lines[1].starts_with("counters "));
    CHECK(std::stoll(value_of(lines[1], "messages_in")) > 0);
    const auto erl_line = std::find_if(lines.begin(), lines.end(), [&](const std::string& l) {
        return l.starts_with("connection ") && value_of(l, "node") == erl.node_name();
    });
    REQUIRE(erl_line != lines.end());
    CHECK(value_of(*erl_line, "hidden") == "false");  // erl is visible
    CHECK(std::stoll(value_of(*erl_line, "messages_in")) > 0);
    CHECK(value_of(*erl_line, "queued_bytes") == "0");
    CHECK(value_of(*erl_line, "reassembly_bytes") == "0");
    CHECK(std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
              return l.starts_with("connection ") && has(l, "node=distribute_stats_");
          }) == 1);
}

TEST_CASE("distribute node prints its counters on SIGUSR1 and its totals at exit") {
    require_cli();
    Cluster cluster;
    ErlNode erl(cluster.erl_options("erl_usr1"));
    ForegroundNode cpp(
        {"--sname", unique_name("cpp_usr1"), "--cookie", "interop_cookie", "--listen", "127.0.0.1"},
        {epmd_env(cluster.epmd_port())});
    CHECK(erl.eval("{echo, '" + cpp.name() + "'} ! {self(), hi}, receive M -> M end") == "hi");

    cpp.process().send_signal(SIGUSR1);
    const std::string counters = cpp.process().await_line("counters ");
    CHECK(std::stoll(value_of(counters, "messages_in")) >= 1);
    const std::string connection = cpp.process().await_line("connection ");
    CHECK(value_of(connection, "node") == erl.node_name());

    CHECK(cpp.process().stop_with(SIGTERM) == 0);
    const std::string totals = cpp.process().await_line("counters ");
    CHECK(std::stoll(value_of(totals, "messages_in")) >=
          std::stoll(value_of(counters, "messages_in")));
    CHECK(value_of(totals, "processes") == "0");
    CHECK(has(cpp.log(), "event=nodeup node=" + erl.node_name()));
    CHECK(has(cpp.log(), "stopped on SIGTERM"));
}
