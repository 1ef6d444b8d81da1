// Capabilities are the intersection: a scripted peer that offers only the mandatory flags (and
// then each optional one in turn) connects to our node, our node does everything that could put
// an optional control message on the wire towards it, and the peer checks every frame it gets.
// What the peer did not offer never arrives; what it offered does; and the emulations hold: a
// monitor stays local, a gen_server call works, rpc goes through rex, a message to an alias goes
// in the one form the peer offered (ALTACT_SIG_SEND or ALIAS_SEND) or not at all.
#include <doctest/doctest.h>

#include <algorithm>
#include <future>
#include <set>

#include "cli/demo_services.hpp"
#include "distribute/rpc.hpp"
#include "node_support.hpp"
#include "scripted_peer.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// What every peer has: OTP 26's mandatory set, which our node requires.
const std::uint64_t mandatory = wire::mandatory_otp26;

struct FlagCase {
    const char* name;
    std::uint64_t extra;
};

const FlagCase flag_cases[] = {
    {"the mandatory flags only", 0},
    {"DIST_MONITOR alone (as erl_interface offers it)", wire::flag::dist_monitor},
    {"DIST_MONITOR and DIST_MONITOR_NAME",
     wire::flag::dist_monitor | wire::flag::dist_monitor_name},
    {"SPAWN", wire::flag::spawn},
    {"ALIAS", wire::flag::alias},
    {"SEND_SENDER", wire::flag::send_sender},
    {"EXIT_PAYLOAD", wire::flag::exit_payload},
    {"ALTACT_SIG without ALIAS (as OTP 30 will offer)", wire::flag::altact_sig},
    {"ALIAS and ALTACT_SIG (as OTP 28 and 29 offer)", wire::flag::alias | wire::flag::altact_sig},
};

// The ops a peer with `flags` may be sent.
bool allowed(wire::Op op, std::uint64_t flags) {
    using wire::Op;
    namespace f = wire::flag;
    const bool monitors = (flags & f::dist_monitor) && (flags & f::dist_monitor_name);
    switch (op) {
        case Op::link:
        case Op::send:
        case Op::exit:
        case Op::reg_send:
        case Op::exit2:
        case Op::unlink_id:
        case Op::unlink_id_ack:
            return true;
        case Op::monitor_p:
        case Op::demonitor_p:
        case Op::monitor_p_exit:
            return monitors;
        case Op::payload_monitor_p_exit:
            return monitors && (flags & f::exit_payload);
        case Op::send_sender:
            return (flags & f::send_sender) != 0;
        case Op::payload_exit:
        case Op::payload_exit2:
            return (flags & f::exit_payload) != 0;
        case Op::spawn_request:
        case Op::spawn_reply:
            return (flags & f::spawn) != 0;
        case Op::alias_send:
            return (flags & f::alias) != 0;
        case Op::altact_sig_send:
            return (flags & f::altact_sig) != 0;
        default:
            return false;  // _TT forms (we trace nothing), UNLINK, NODE_LINK, GROUP_LEADER
    }
}

// Reads frames until none comes for `quiet`; returns them.
std::vector<wire::Control> drain(ScriptedPeer& peer, std::chrono::milliseconds quiet = 500ms) {
    std::vector<wire::Control> got;
    while (auto control = peer.next_control(quiet))
        got.push_back(std::move(*control));
    return got;
}

template <typename Signal>
std::size_t count(const std::vector<wire::Control>& controls) {
    return static_cast<std::size_t>(std::count_if(controls.begin(), controls.end(), [](auto& c) {
        return std::holds_alternative<Signal>(c);
    }));
}

}  // namespace

TEST_CASE(
    "a peer gets only the control messages its flags allow, for every optional flag, and each "
    "one it offers is used") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_caps", &log));
    const std::string ours(node.name().name());
    for (const FlagCase& c : flag_cases) {
        CAPTURE(c.name);
        const std::uint64_t flags = mandatory | c.extra;
        ScriptedPeer peer(node.port(), unique_name("scripted_caps") + "@" + short_host(), ours,
                          "interop_cookie", 0x5c21, flags);
        REQUIRE(peer.handshake());
        const Atom peer_node = atom(std::string(peer.pid(1).node.name()));

        Mailbox m = node.open_mailbox();
        m.trap_exit(true);
        const Reference by_pid = m.monitor(peer.pid(1));
        const Reference by_name = m.monitor("someone"_a, peer_node);
        m.send(peer.pid(2), Term("hello"_a));
        m.exit(peer.pid(3), Term("boom"_a));
        // An alias of the peer's: only a peer with ALIAS can have made one.
        Reference alias = node.open_mailbox().make_ref();
        alias.node = peer_node;
        m.send_alias(alias, Term("to_alias"_a));
        m.send_priority(alias, Term("urgent"_a));
        // An exit signal to an alias has one form, ALTACT_SIG_SEND (OTP 28).
        m.exit(alias, Term("through_alias"_a), true);
        // erpc to a peer without SPAWN falls back to rex: a REG_SEND, never a SPAWN_REQUEST.
        auto rpc_result = rpc(node, peer_node, "erlang"_a, "node"_a, {}, 700ms);
        CHECK_FALSE(rpc_result.has_value());  // nobody answers
        CHECK(m.demonitor(by_pid));
        CHECK(m.demonitor(by_name));
        // A link, then our process ends: its exit signal goes to the peer.
        Mailbox linked = node.open_mailbox();
        linked.link(peer.pid(4));
        linked.close(Term("gone"_a));
        // The peer monitors one of our processes (whether or not it offered to), which ends.
        Mailbox watched = node.open_mailbox();
        peer.send(wire::MonitorP{peer.pid(5), watched.pid(), m.make_ref()});
        std::this_thread::sleep_for(100ms);
        watched.close(Term("bye"_a));
        const std::vector<wire::Control> controls = drain(peer);

        std::set<wire::Op> got(peer.ops_received().begin(), peer.ops_received().end());
        for (wire::Op op : got) {
            CAPTURE(wire::op_name(op));
            CHECK(allowed(op, flags));
        }
        // And what the flag allows is what went out instead of the fallback.
        using wire::Op;
        namespace f = wire::flag;
        const bool monitors = (flags & f::dist_monitor) && (flags & f::dist_monitor_name);
        CHECK(got.contains(Op::monitor_p) == monitors);
        CHECK(got.contains(Op::demonitor_p) == monitors);
        CHECK(got.contains(Op::send_sender) == ((flags & f::send_sender) != 0));
        CHECK(got.contains(Op::send) == ((flags & f::send_sender) == 0));
        CHECK(got.contains(Op::payload_exit2) == ((flags & f::exit_payload) != 0));
        CHECK(got.contains(Op::exit2) == ((flags & f::exit_payload) == 0));
        CHECK(got.contains(Op::payload_exit) == ((flags & f::exit_payload) != 0));
        CHECK(got.contains(Op::exit) == ((flags & f::exit_payload) == 0));
        // To an alias: ALTACT_SIG_SEND where offered (as the BEAM sends it), else ALIAS_SEND,
        // else nothing; an exit signal only through ALTACT_SIG_SEND; the priority flag only
        // there too.
        const bool altact = (flags & f::altact_sig) != 0;
        const bool alias_only = (flags & f::alias) != 0 && !altact;
        CHECK(got.contains(Op::alias_send) == alias_only);
        CHECK(got.contains(Op::altact_sig_send) == altact);
        CHECK(count<wire::AliasSend>(controls) == (altact || alias_only ? 2u : 0u));
        CHECK(count<wire::AliasExit>(controls) == (altact ? 1u : 0u));
        for (const wire::Control& c : controls)
            if (auto* to_alias = std::get_if<wire::AliasSend>(&c))
                CHECK(to_alias->priority == (altact && to_alias->message == Term("urgent"_a)));
        CHECK(got.contains(Op::spawn_request) == ((flags & f::spawn) != 0));
        CHECK(got.contains(Op::reg_send) == ((flags & f::spawn) == 0));
        CHECK(got.contains(Op::link));
        CHECK(node.stats().bad_frames == 0);
    }
}

TEST_CASE(
    "to a peer with only the mandatory flags a monitor stays local and fires noconnection, a "
    "gen_server call works, and rpc goes through rex") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_caps_emul", &log));
    ScriptedPeer peer(node.port(), unique_name("scripted_min") + "@" + short_host(),
                      std::string(node.name().name()), "interop_cookie", 0x5c21, mandatory);
    REQUIRE(peer.handshake());
    const Atom peer_node = atom(std::string(peer.pid(1).node.name()));

    // gen_server:call {kv, Peer}: the request alone goes out; the peer answers the caller.
    auto called = std::async(std::launch::async, [&] {
        return call(node, ServerRef("kv"_a, peer_node), tuple("get"_a, "k"_a), 10s);
    });
    auto request = peer.next_control();
    REQUIRE(request.has_value());
    auto* reg_send = std::get_if<wire::RegSend>(&*request);
    REQUIRE(reg_send != nullptr);
    CHECK(reg_send->to_name == "kv"_a);
    auto gen_call = parse_gen_call(reg_send->message);
    REQUIRE(gen_call.has_value());
    peer.send(wire::Send{gen_call->caller, tuple(gen_call->tag, "found"_a), std::nullopt});
    auto reply = called.get();
    REQUIRE(reply.has_value());
    CHECK(*reply == Term("found"_a));

    // rpc: {'$gen_call', {Caller, Tag}, {call, erlang, node, [], user}} to rex.
    auto rpc_done = std::async(std::launch::async,
                               [&] { return rpc(node, peer_node, "erlang"_a, "node"_a, {}, 10s); });
    auto rex_call = peer.next_control();
    REQUIRE(rex_call.has_value());
    auto* to_rex = std::get_if<wire::RegSend>(&*rex_call);
    REQUIRE(to_rex != nullptr);
    CHECK(to_rex->to_name == "rex"_a);
    auto rex_request = parse_gen_call(to_rex->message);
    REQUIRE(rex_request.has_value());
    CHECK(rex_request->request == tuple("call"_a, "erlang"_a, "node"_a, Term(), "user"_a));
    peer.send(wire::Send{rex_request->caller, tuple(rex_request->tag, peer_node), std::nullopt});
    auto answer = rpc_done.get();
    REQUIRE(answer.has_value());
    CHECK(*answer == Term(peer_node));

    // A monitor of its process stays here and fires when the connection goes.
    Mailbox m = node.open_mailbox();
    const Reference ref = m.monitor(peer.pid(9));
    drain(peer, 300ms);
    for (wire::Op op : peer.ops_received())
        CHECK(allowed(op, mandatory));
    CHECK(node.disconnect(peer_node));
    CHECK(next_message(m) ==
          tuple(atoms::DOWN, ref, atoms::process, peer.pid(9), atoms::noconnection));
}

TEST_CASE(
    "a peer without ALIAS, as OTP 30 will be: replies to its gen_server calls come as "
    "ALTACT_SIG_SEND") {
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(cluster.node_options("cpp_no_alias", &log));
    REQUIRE(cli::start_demo_kv(node).has_value());
    ScriptedPeer peer(node.port(), unique_name("otp30") + "@" + short_host(),
                      std::string(node.name().name()), "interop_cookie", 0x5c21,
                      wire::offered & ~wire::flag::alias);
    REQUIRE(peer.handshake());
    // gen_server:call as gen.erl makes it: a monitor by name, then {'$gen_call', {Pid, [alias |
    // Ref]}, Request} to the name; the reply goes to the alias.
    const Pid me = peer.pid(1);
    const Reference ref{me.node, 0x5c21, 3, {7, 8, 9}};
    peer.send(wire::MonitorP{me, "kv"_a, ref});
    const Term tag = list_from(std::vector<Term>{Term("alias"_a)}, Term(ref));
    peer.send(wire::RegSend{
        me, "kv"_a, tuple("$gen_call"_a, tuple(me, tag), tuple("put"_a, "k"_a, 1)), std::nullopt});
    auto reply = peer.next_control();
    REQUIRE(reply.has_value());
    REQUIRE_FALSE(peer.ops_received().empty());
    CHECK(peer.ops_received().back() == wire::Op::altact_sig_send);
    auto* alias_send = std::get_if<wire::AliasSend>(&*reply);
    REQUIRE(alias_send != nullptr);
    CHECK(alias_send->alias == ref);
    CHECK(alias_send->message == tuple(tag, "ok"_a));
    CHECK_FALSE(alias_send->priority);
}
