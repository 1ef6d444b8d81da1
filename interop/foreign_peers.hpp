// What the tests against foreign peers (the erl_interface C node, the JInterface node) share:
// reading their printed lines, calling them as a BEAM would be called, and running the
// distribute command against one of them.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "cli_support.hpp"
#include "distribute/rpc.hpp"
#include "node_support.hpp"
#include "peer_process.hpp"

namespace distribute::testing {

inline std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t at = 0;
    for (auto end = text.find('\n'); end != std::string::npos; end = text.find('\n', at)) {
        lines.push_back(text.substr(at, end - at));
        at = end + 1;
    }
    return lines;
}

inline bool has_line(const std::vector<std::string>& lines, std::string_view line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
}

// What our node asks of a serving peer, as of a BEAM: its echo, a gen_server call to its `kv`
// (answered {Tag, {kv_tag, Request}}), rpc through its rex (it takes no spawn request): a value,
// an argument back, undef. Returns the peer's own pid, from its `self` service.
inline Pid check_serves_us(Node& node, Mailbox& me, Atom peer, std::string_view kv_tag) {
    me.send(Atom::make("echo").value(), peer, tuple(me.pid(), tuple(atom("hello_peer"), 1)));
    CHECK(next_message(me) == tuple(atom("hello_peer"), 1));
    const Term request = tuple(atom("get"), atom("k"));
    auto reply = call(node, ServerRef(atom("kv"), peer), request);
    REQUIRE(reply.has_value());
    CHECK(*reply == tuple(atom(kv_tag), request));
    auto its_name = rpc(node, peer, atom("erlang"), atom("node"), {});
    REQUIRE(its_name.has_value());
    CHECK(*its_name == Term(peer));
    auto echoed = rpc(node, peer, atom("demo"), atom("echo"), {list(1, atom("two"))});
    REQUIRE(echoed.has_value());
    CHECK(*echoed == list(1, atom("two")));
    auto missing = rpc(node, peer, atom("nosuch"), atom("f"), {Term(1)});
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().code == RpcErrc::undef);
    me.send(atom("self"), peer, Term(me.pid()));
    const Term self = next_message(me);
    REQUIRE(self.is_tuple(2));
    auto pid = self[1].to<Pid>();
    REQUIRE(pid.has_value());
    return *pid;
}

// distribute ping, send, call and rpc against a serving peer, as against a BEAM: `kv` answers
// {Tag, {kv_tag, Request}}, `inbox` prints what it gets ({hello, [one, 2]} is sent to it, which
// the peer prints as `inbox_line`), rex answers erlang:node().
inline void check_distribute_commands(std::uint16_t epmd_port, PeerProcess& peer, Atom target,
                                      std::string_view kv_tag, std::string_view inbox_line) {
    const std::string name(target.name());
    auto command = [&](std::vector<std::string> args) {
        args.insert(args.end(), {"--cookie", "interop_cookie"});
        return run_cli(args, {epmd_env(epmd_port)});
    };
    auto pong = command({"ping", name});
    CHECK(pong.exit_status == 0);
    CHECK(pong.out == "pong\n");
    auto sent = command({"send", name, "inbox", "{hello, [one, 2]}"});
    CHECK(sent.exit_status == 0);
    CHECK(sent.err.empty());
    peer.await_line(inbox_line);
    auto called = command({"call", name, "kv", "{put, k, 42}"});
    CHECK(called.exit_status == 0);
    CHECK(called.out == "{" + std::string(kv_tag) + ",{put,k,42}}\n");
    auto rpc_node = command({"rpc", name, "erlang", "node"});
    CHECK(rpc_node.exit_status == 0);
    CHECK(rpc_node.out == name + "\n");
}

}  // namespace distribute::testing
