// Control messages. Golden bytes are term_to_binary(T, [{minor_version, 2}]) of the control
// tuple (and of the term that follows it) on a real OTP 25 node started as g@vm, creation
// 1796153739, with P1 = <0.85.3>, P2 = <0.90.0>, Ref = #Ref<0.1.2.3>, Token = {0, lbl, 1, P1, 0}
// and Msg = {hello, <<"world">>, [1, 2, 3]}; those of ALTACT_SIG_SEND (op 37) the same on OTP
// 29.1, from the same P1, P2 and Ref.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "distribute/etf.hpp"
#include "wire/capabilities.hpp"
#include "wire/control.hpp"
#include "wire/flags.hpp"

using namespace distribute;
using namespace distribute::wire;
using Bytes = std::vector<std::uint8_t>;

namespace {

template <class... F>
struct Overloaded : F... {
    using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

// Golden bytes are written as pieces of hex: the BEAM's bytes for P1, P2, Ref, Token and Msg
// below, and the rest of each tuple around them.
Bytes hex(std::initializer_list<std::string_view> pieces) {
    Bytes out;
    for (std::string_view text : pieces)
        for (std::size_t i = 0; i + 1 < text.size(); i += 2)
            out.push_back(
                static_cast<std::uint8_t>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
    return out;
}

constexpr std::string_view p1_hex = "5877046740766d00000055000000036b0f218b";
constexpr std::string_view p2_hex = "5877046740766d0000005a000000006b0f218b";
constexpr std::string_view ref_hex = "5a000377046740766d6b0f218b000000030000000200000001";
constexpr std::string_view token_hex =
    "6805610077036c626c61015877046740766d00000055000000036b0f218b6100";
constexpr std::string_view msg_hex = "836803770568656c6c6f6d00000005776f726c646b0003010203";
constexpr std::string_view server_hex = "77096d795f736572766572";

constexpr std::uint32_t creation = 1796153739;
const Pid p1{"g@vm"_a, 85, 3, creation};
const Pid p2{"g@vm"_a, 90, 0, creation};
const Reference ref{"g@vm"_a, creation, 3, {3, 2, 1}};
const Term token = tuple(0, "lbl"_a, 1, p1, 0);
const Term msg = tuple("hello"_a, binary("world"), list(1, 2, 3));
const Atom server = "my_server"_a;
const std::optional<Term> none;

struct Golden {
    const char* name;
    Bytes bytes;
    Control control;
    std::optional<std::uint64_t> encode_flags;  // nullopt: decoded, never sent
};

std::vector<Golden> goldens() {
    const std::uint64_t plain = 0, sender = flag::send_sender, payload = flag::exit_payload,
                        altact = flag::altact_sig;
    const Term shutdown_x = tuple(atoms::shutdown, "x"_a);
    return {
        {"link", hex({"8368036101", p1_hex, p2_hex}), Link{p1, p2}, plain},
        {"send", hex({"83680361027700", p2_hex, msg_hex}), Send{p2, msg, none}, plain},
        {"exit", hex({"8368046103", p1_hex, p2_hex, "77066e6f726d616c"}),
         Exit{p1, p2, atoms::normal, none}, plain},
        {"unlink", hex({"8368036104", p1_hex, p2_hex}), Unlink{p1, p2}, std::nullopt},
        {"node_link", hex({"8368016105"}), NodeLink{}, std::nullopt},
        {"reg_send", hex({"8368046106", p1_hex, "7700", server_hex, msg_hex}),
         RegSend{p1, server, msg, none}, plain},
        {"group_leader", hex({"8368036107", p1_hex, p2_hex}), GroupLeader{p1, p2}, plain},
        {"exit2", hex({"8368046108", p1_hex, p2_hex, "77046b696c6c"}),
         Exit2{p1, p2, atoms::kill, none}, plain},
        {"send_tt", hex({"836804610c7700", p2_hex, token_hex, msg_hex}), Send{p2, msg, token},
         plain},
        {"exit_tt", hex({"836805610d", p1_hex, p2_hex, token_hex, "77066e6f726d616c"}),
         Exit{p1, p2, atoms::normal, token}, plain},
        {"reg_send_tt", hex({"8368056110", p1_hex, "7700", server_hex, token_hex, msg_hex}),
         RegSend{p1, server, msg, token}, plain},
        {"exit2_tt", hex({"8368056112", p1_hex, p2_hex, token_hex, "77046b696c6c"}),
         Exit2{p1, p2, atoms::kill, token}, plain},
        {"monitor_p", hex({"8368046113", p1_hex, p2_hex, ref_hex}), MonitorP{p1, p2, ref}, plain},
        {"monitor_p by name", hex({"8368046113", p1_hex, server_hex, ref_hex}),
         MonitorP{p1, server, ref}, plain},
        {"demonitor_p by name", hex({"8368046114", p1_hex, server_hex, ref_hex}),
         DemonitorP{p1, server, ref}, plain},
        {"monitor_p_exit", hex({"8368056115", p2_hex, p1_hex, ref_hex, "77066e6f70726f63"}),
         MonitorPExit{p2, p1, ref, atoms::noproc}, plain},
        {"monitor_p_exit by name",
         hex({"8368056115", server_hex, p1_hex, ref_hex, "770c6e6f636f6e6e656374696f6e"}),
         MonitorPExit{server, p1, ref, atoms::noconnection}, plain},
        {"send_sender", hex({"8368036116", p1_hex, p2_hex, msg_hex}), SendSender{p1, p2, msg, none},
         sender},
        {"send_sender_tt", hex({"8368046117", p1_hex, p2_hex, token_hex, msg_hex}),
         SendSender{p1, p2, msg, token}, sender},
        {"payload_exit", hex({"8368036118", p1_hex, p2_hex, "836802770873687574646f776e770178"}),
         Exit{p1, p2, shutdown_x, none}, payload},
        {"payload_exit_tt",
         hex({"8368046119", p1_hex, p2_hex, token_hex, "836802770873687574646f776e770178"}),
         Exit{p1, p2, shutdown_x, token}, payload},
        {"payload_exit2", hex({"836803611a", p1_hex, p2_hex, "8377046b696c6c"}),
         Exit2{p1, p2, atoms::kill, none}, payload},
        {"payload_exit2_tt", hex({"836804611b", p1_hex, p2_hex, token_hex, "8377046b696c6c"}),
         Exit2{p1, p2, atoms::kill, token}, payload},
        {"payload_monitor_p_exit",
         hex({"836804611c", p1_hex, p2_hex, ref_hex, "8377066e6f70726f63"}),
         MonitorPExit{p1, p2, ref, atoms::noproc}, payload},
        {"spawn_request",
         hex({"836806611d", ref_hex, p1_hex, p2_hex,
              "680377056c69737473770373657161026c0000000277076d6f6e69746f7277046c696e6b6a836b000201"
              "0a"}),
         SpawnRequest{ref, p1, p2, "lists"_a, "seq"_a, 2, list("monitor"_a, "link"_a), list(1, 10),
                      none},
         plain},
        {"spawn_request_tt",
         hex({"836807611e", ref_hex, p1_hex, p2_hex, "680377056c69737473770373657161026a",
              token_hex, "836b0002010a"}),
         SpawnRequest{ref, p1, p2, "lists"_a, "seq"_a, 2, Term(), list(1, 10), token}, plain},
        {"spawn_reply", hex({"836805611f", ref_hex, p1_hex, "6103", p2_hex}),
         SpawnReply{ref, p1, 3, p2, none}, plain},
        {"spawn_reply with an error", hex({"836805611f", ref_hex, p1_hex, "61007706626164617267"}),
         SpawnReply{ref, p1, 0, atoms::badarg, none}, plain},
        {"spawn_reply_tt", hex({"8368066120", ref_hex, p1_hex, "6100", p2_hex, token_hex}),
         SpawnReply{ref, p1, 0, p2, token}, plain},
        {"alias_send", hex({"8368036121", p1_hex, ref_hex, msg_hex}), AliasSend{p1, ref, msg, none},
         plain},
        {"alias_send_tt", hex({"8368046122", p1_hex, ref_hex, token_hex, msg_hex}),
         AliasSend{p1, ref, msg, token}, plain},
        {"unlink_id", hex({"83680461236104", p1_hex, p2_hex}), UnlinkId{4, p1, p2}, plain},
        {"unlink_id 2^31", hex({"83680461236e040000000080", p1_hex, p2_hex}),
         UnlinkId{std::uint64_t{1} << 31, p1, p2}, plain},
        {"unlink_id 2^64-1", hex({"83680461236e0800ffffffffffffffff", p1_hex, p2_hex}),
         UnlinkId{~std::uint64_t{0}, p1, p2}, plain},
        {"unlink_id_ack 2^40", hex({"83680461246e0600000000000001", p2_hex, p1_hex}),
         UnlinkIdAck{std::uint64_t{1} << 40, p2, p1}, plain},
        {"altact_sig_send to an alias", hex({"83680461256104", p1_hex, ref_hex, msg_hex}),
         AliasSend{p1, ref, msg, none}, altact},
        {"altact_sig_send priority to an alias", hex({"83680461256105", p1_hex, ref_hex, msg_hex}),
         AliasSend{p1, ref, msg, none, true}, altact},
        {"altact_sig_send priority with a token",
         hex({"83680561256107", p1_hex, ref_hex, token_hex, msg_hex}),
         AliasSend{p1, ref, msg, token, true}, altact},
        {"altact_sig_send priority exit to an alias",
         hex({"83680461256115", p1_hex, ref_hex, "8377046b696c6c"}),
         AliasExit{p1, ref, atoms::kill, none, true}, altact},
        {"altact_sig_send priority to a pid", hex({"83680461256101", p1_hex, p2_hex, msg_hex}),
         SendSender{p1, p2, msg, none}, std::nullopt},
        {"altact_sig_send to a name", hex({"83680461256108", p1_hex, server_hex, msg_hex}),
         RegSend{p1, server, msg, none}, std::nullopt},
        {"altact_sig_send exit to a pid", hex({"83680461256110", p1_hex, p2_hex, "8377046b696c6c"}),
         Exit2{p1, p2, atoms::kill, none}, std::nullopt},
        {"altact_sig_send with flags beyond 64 bits",
         hex({"83680461256e0900040000000000000040", p1_hex, ref_hex, msg_hex}),
         AliasSend{p1, ref, msg, none}, std::nullopt},
        {"altact_sig_send with an element a later release added",
         hex({"83680561256104", p1_hex, ref_hex, "77056578747261", msg_hex}),
         AliasSend{p1, ref, msg, none}, std::nullopt},
    };
}

// The control term and the term after it, as they lie in a pass-through frame.
struct Terms {
    Term control;
    std::optional<Term> payload;
};

Terms split(const Bytes& bytes, bool with_version = true) {
    auto next = [&](std::span<const std::uint8_t> rest) {
        auto d = with_version ? etf::decode_prefix(rest) : etf::decode_body(rest);
        REQUIRE(d);
        return *d;
    };
    auto control = next(bytes);
    Terms out{control.term, std::nullopt};
    if (control.used < bytes.size()) {
        auto payload = next(std::span(bytes).subspan(control.used));
        CHECK(control.used + payload.used == bytes.size());
        out.payload = payload.term;
    }
    return out;
}

Expected<Control, ControlError> decode(const Terms& t) {
    return decode_control(t.control, t.payload ? &*t.payload : nullptr);
}

Bytes encoded(const Control& c, std::uint64_t flags, bool with_version = true) {
    Bytes out;
    encode_control(out, c, flags, with_version);
    return out;
}

// The tuple the spec gives for `op`, built as a Term: the oracle for the direct encoder.
Terms tuple_of(const Control& c, Op op) {
    const Term code(static_cast<int>(op));
    const bool reason_follows = op >= Op::payload_exit && op <= Op::payload_monitor_p_exit;
    auto make = [](std::vector<Term> e, const std::optional<Term>& tok, std::optional<Term> p) {
        if (tok) e.push_back(*tok);
        return Terms{tuple_from(e), std::move(p)};
    };
    auto process = [](const ProcessId& p) { return std::visit([](auto v) { return Term(v); }, p); };
    auto exit_signal = [&](const Pid& from, const Pid& to, const Term& reason,
                           const std::optional<Term>& tok) {
        std::vector<Term> e{code, from, to};
        if (tok) e.push_back(*tok);
        if (reason_follows) return Terms{tuple_from(e), reason};
        e.push_back(reason);
        return Terms{tuple_from(e), std::nullopt};
    };
    return std::visit(
        Overloaded{
            [&](const Link& m) {
                return make({code, m.from, m.to}, none, none);
            },
            [&](const Send& m) {
                return make({code, atoms::empty, m.to}, m.token, m.message);
            },
            [&](const SendSender& m) {
                bool with_from = op == Op::send_sender || op == Op::send_sender_tt;
                Term from = with_from ? Term(m.from) : Term(atoms::empty);
                return make({code, from, m.to}, m.token, m.message);
            },
            [&](const RegSend& m) {
                return make({code, m.from, atoms::empty, m.to_name}, m.token, m.message);
            },
            [&](const Exit& m) { return exit_signal(m.from, m.to, m.reason, m.token); },
            [&](const Exit2& m) { return exit_signal(m.from, m.to, m.reason, m.token); },
            [&](const Unlink& m) {
                return make({code, m.from, m.to}, none, none);
            },
            [&](const NodeLink&) { return make({code}, none, none); },
            [&](const GroupLeader& m) {
                return make({code, m.from, m.to}, none, none);
            },
            [&](const MonitorP& m) {
                return make({code, m.from, process(m.to), m.ref}, none, none);
            },
            [&](const DemonitorP& m) {
                return make({code, m.from, process(m.to), m.ref}, none, none);
            },
            [&](const MonitorPExit& m) {
                std::vector<Term> e{code, process(m.from), m.to, m.ref};
                if (reason_follows) return make(e, none, m.reason);
                e.push_back(m.reason);
                return make(e, none, none);
            },
            [&](const SpawnRequest& m) {
                Term mfa = tuple(m.module, m.function, m.arity);
                return make({code, m.req_id, m.from, m.group_leader, mfa, m.options}, m.token,
                            m.args);
            },
            [&](const SpawnReply& m) {
                return make({code, m.req_id, m.to, m.flags, m.result}, m.token, none);
            },
            [&](const AliasSend& m) {
                if (op != Op::altact_sig_send)
                    return make({code, m.from, m.alias}, m.token, m.message);
                int flags = altact::alias | (m.priority ? altact::priority : 0) |
                            (m.token ? altact::token : 0);
                return make({code, flags, m.from, m.alias}, m.token, m.message);
            },
            [&](const AliasExit& m) {
                int flags = altact::alias | altact::exit | (m.priority ? altact::priority : 0) |
                            (m.token ? altact::token : 0);
                return make({code, flags, m.from, m.alias}, m.token, m.reason);
            },
            [&](const UnlinkId& m) {
                return make({code, m.id, m.from, m.to}, none, none);
            },
            [&](const UnlinkIdAck& m) {
                return make({code, m.id, m.from, m.to}, none, none);
            },
        },
        c);
}

Bytes bytes_of(const Terms& t, bool with_version) {
    Bytes out;
    auto put = [&](const Term& term) {
        if (with_version)
            etf::encode_to(out, term);
        else
            etf::encode_body(out, term);
    };
    put(t.control);
    if (t.payload) put(*t.payload);
    return out;
}

// Beyond the goldens: the largest atoms, references of 1 and 5 words, 32-bit pid fields.
std::vector<Control> extra_samples() {
    std::string long_name;
    for (int i = 0; i < 255; ++i)
        long_name += "ü";
    const Atom long_node = *Atom::make(long_name);
    const Pid big{long_node, 0xFFFFFFFF, 0x80000000, 0xFFFFFFFF};
    const Reference ref5{long_node, 7, 5, {1, 2, 3, 4, 0xFFFFFFFF}};
    const Reference ref1{"n@h"_a, 0, 1, {42}};
    const Term big_msg =
        tuple(binary(std::string(300, 'x')), *BigInt::parse("1" + std::string(40, '0')));
    return {
        Send{big, big_msg, none},
        SendSender{big, p1, big_msg, none},
        SendSender{p1, big, msg, token},
        RegSend{big, long_node, msg, none},
        MonitorP{big, long_node, ref5},
        DemonitorP{p1, p2, ref1},
        MonitorPExit{long_node, big, ref5, big_msg},
        SpawnRequest{ref5, big, p1, long_node, "f"_a, 0xFFFFFFFF,
                     list(tuple("priority"_a, "high"_a)), Term(), token},
        SpawnReply{ref1, big, 0xFFFFFFFF, long_node, token},
        AliasSend{big, ref5, msg, token},
        AliasSend{big, ref5, msg, token, true},
        AliasExit{p1, ref1, big_msg, token, false},
        UnlinkId{std::uint64_t{1} << 63, p1, big},
        UnlinkIdAck{255, big, p2},
        UnlinkIdAck{256, big, p2},
        UnlinkId{0x7FFFFFFF, p1, p2},
    };
}

std::vector<Control> sendable_samples() {
    std::vector<Control> out;
    for (const Golden& g : goldens())
        if (g.encode_flags) out.push_back(g.control);
    for (Control& c : extra_samples())
        out.push_back(std::move(c));
    return out;
}

const std::uint64_t flag_sets[] = {0,
                                   flag::send_sender,
                                   flag::exit_payload,
                                   flag::send_sender | flag::exit_payload,
                                   offered & ~flag::altact_sig,
                                   offered};

ControlError failure(const Term& control, const Term* payload = nullptr) {
    auto r = decode_control(control, payload);
    if (r) FAIL("decoded: " << to_string(control));
    return r.error();
}

bool mentions(const ControlError& e, std::string_view text) {
    return e.detail.find(text) != std::string::npos;
}

}  // namespace

TEST_SUITE("control messages") {
    TEST_CASE("every control message a BEAM encodes decodes to its struct") {
        for (const Golden& g : goldens()) {
            CAPTURE(g.name);
            auto c = decode(split(g.bytes));
            REQUIRE_MESSAGE(c, c.error().detail);
            CHECK(*c == g.control);
        }
    }

    TEST_CASE("encode_control writes the bytes a BEAM writes for the same message") {
        for (const Golden& g : goldens()) {
            if (!g.encode_flags) continue;
            CAPTURE(g.name);
            CHECK(encoded(g.control, *g.encode_flags) == g.bytes);
        }
    }

    TEST_CASE("encode_control bytes equal encode_body of the equivalent tuple, for every op") {
        std::vector<bool> seen(38);
        for (const Control& c : sendable_samples()) {
            for (std::uint64_t flags : flag_sets) {
                Op op = op_for(c, flags);
                seen[static_cast<std::size_t>(op)] = true;
                CAPTURE(op_name(op));
                CHECK(encoded(c, flags, false) == bytes_of(tuple_of(c, op), false));
                CHECK(encoded(c, flags, true) == bytes_of(tuple_of(c, op), true));
            }
        }
        for (std::size_t op = 1; op < seen.size(); ++op) {
            CAPTURE(op);
            bool sendable = !op_name(static_cast<Op>(op)).empty() && op != 4 && op != 5;
            CHECK(seen[op] == sendable);
        }
    }

    TEST_CASE("every struct survives an encode and decode round trip under every flag set") {
        for (const Control& c : sendable_samples()) {
            for (std::uint64_t flags : flag_sets) {
                for (bool with_version : {true, false}) {
                    CAPTURE(op_name(op_for(c, flags)));
                    auto back = decode(split(encoded(c, flags, with_version), with_version));
                    REQUIRE_MESSAGE(back, back.error().detail);
                    const auto* s = std::get_if<SendSender>(&c);
                    const auto* a = std::get_if<AliasSend>(&c);
                    if (s && !(flags & flag::send_sender))
                        CHECK(*back == Control(Send{s->to, s->message, s->token}));
                    else if (a && !(flags & flag::altact_sig))  // ALIAS_SEND has no priority
                        CHECK(*back == Control(AliasSend{a->from, a->alias, a->message, a->token}));
                    else
                        CHECK(*back == c);
                }
            }
        }
    }

    TEST_CASE("with_version puts 131 before the control term and before the payload") {
        Control c = Send{p2, Term(7), none};
        Bytes body = encoded(c, 0, false);
        CHECK(body == Bytes{104, 3, 97, 2, 119, 0, 88, 119,  4,    'g',  '@',  'v', 'm', 0,
                            0,   0, 90, 0, 0,   0, 0,  0x6b, 0x0f, 0x21, 0x8b, 97,  7});
        Bytes framed = encoded(c, 0, true);
        CHECK(framed.front() == 131);
        CHECK(framed[framed.size() - 3] == 131);
        CHECK(framed.size() == body.size() + 2);
    }

    TEST_CASE("encode_control appends to what the buffer already holds") {
        Bytes out{1, 2, 3};
        encode_control(out, Link{p1, p2}, 0, true);
        Bytes expected{1, 2, 3};
        Bytes link = encoded(Link{p1, p2}, 0);
        expected.insert(expected.end(), link.begin(), link.end());
        CHECK(out == expected);
    }

    TEST_CASE("PAYLOAD_EXIT is chosen when EXIT_PAYLOAD is negotiated") {
        CHECK(op_for(Exit{p1, p2, atoms::normal, none}, flag::exit_payload) == Op::payload_exit);
        CHECK(op_for(Exit{p1, p2, atoms::normal, none}, 0) == Op::exit);
        CHECK(op_for(Exit{p1, p2, atoms::normal, token}, flag::exit_payload) ==
              Op::payload_exit_tt);
        CHECK(op_for(Exit{p1, p2, atoms::normal, token}, 0) == Op::exit_tt);
        CHECK(op_for(Exit2{p1, p2, atoms::kill, none}, flag::exit_payload) == Op::payload_exit2);
        CHECK(op_for(Exit2{p1, p2, atoms::kill, none}, 0) == Op::exit2);
        CHECK(op_for(Exit2{p1, p2, atoms::kill, token}, flag::exit_payload) ==
              Op::payload_exit2_tt);
        CHECK(op_for(Exit2{p1, p2, atoms::kill, token}, 0) == Op::exit2_tt);
        CHECK(op_for(MonitorPExit{p1, p2, ref, atoms::noproc}, flag::exit_payload) ==
              Op::payload_monitor_p_exit);
        CHECK(op_for(MonitorPExit{p1, p2, ref, atoms::noproc}, 0) == Op::monitor_p_exit);
    }

    TEST_CASE("SEND_SENDER is chosen when SEND_SENDER is negotiated, SEND {2, '', To} otherwise") {
        SendSender m{p1, p2, msg, none};
        CHECK(op_for(m, flag::send_sender) == Op::send_sender);
        CHECK(op_for(m, 0) == Op::send);
        CHECK(encoded(m, 0) == encoded(Send{p2, msg, none}, 0));
        m.token = token;
        CHECK(op_for(m, flag::send_sender) == Op::send_sender_tt);
        CHECK(op_for(m, 0) == Op::send_tt);
        CHECK(encoded(m, 0) == encoded(Send{p2, msg, token}, 0));
    }

    TEST_CASE("a Send struct always goes as SEND, whatever the flags") {
        CHECK(op_for(Send{p2, msg, none}, offered) == Op::send);
        CHECK(op_for(Send{p2, msg, token}, offered) == Op::send_tt);
    }

    TEST_CASE("a token selects the _TT form of every message that has one") {
        CHECK(op_for(RegSend{p1, server, msg, token}, 0) == Op::reg_send_tt);
        CHECK(op_for(SpawnRequest{ref, p1, p2, "m"_a, "f"_a, 0, Term(), Term(), token}, 0) ==
              Op::spawn_request_tt);
        CHECK(op_for(SpawnReply{ref, p1, 0, p2, token}, 0) == Op::spawn_reply_tt);
        CHECK(op_for(AliasSend{p1, ref, msg, token}, 0) == Op::alias_send_tt);
        CHECK(op_for(AliasSend{p1, ref, msg, none}, 0) == Op::alias_send);
    }

    TEST_CASE("alias sends go as ALTACT_SIG_SEND where ALTACT_SIG is negotiated, ALIAS_SEND else") {
        CHECK(op_for(AliasSend{p1, ref, msg, none}, offered) == Op::altact_sig_send);
        CHECK(op_for(AliasSend{p1, ref, msg, token, true}, offered) == Op::altact_sig_send);
        CHECK(op_for(AliasSend{p1, ref, msg, none}, offered & ~flag::altact_sig) == Op::alias_send);
        // An OTP 30 node that dropped ALIAS still gets our replies to its gen calls.
        CHECK(op_for(AliasSend{p1, ref, msg, none}, offered & ~flag::alias) == Op::altact_sig_send);
        CHECK(op_for(AliasExit{p1, ref, msg, none}, 0) == Op::altact_sig_send);
    }

    TEST_CASE("a malformed ALTACT_SIG_SEND is refused with the field that is wrong") {
        auto refused = [](const Term& control, std::string_view field) {
            CAPTURE(to_string(control));
            auto e = failure(control, &msg);
            CHECK(e.code == ControlErrc::bad_shape);
            CHECK(mentions(e, "ALTACT_SIG_SEND: " + std::string(field) + " is not"));
        };
        refused(tuple(37, -1, p1, ref), "flags");
        refused(tuple(37, "x"_a, p1, ref), "flags");
        refused(tuple(37, 4, p1, p2), "to");          // the alias flag with a pid
        refused(tuple(37, 8, p1, ref), "to");         // the name flag with a reference
        refused(tuple(37, 0, p1, server), "to");      // no flag: To must be a pid
        refused(tuple(37, 12, p1, ref), "flags");     // alias and name at once
        refused(tuple(37, 24, p1, server), "flags");  // an exit to a name
        refused(tuple(37, 6, p1, ref), "token");      // the token flag, no token
        refused(tuple(37, 4, server, ref), "from");
        CHECK(failure(tuple(37, 4, p1)).code == ControlErrc::bad_shape);  // too short
        CHECK(failure(tuple(37, 4, p1, ref)).code == ControlErrc::missing_payload);
    }

    TEST_CASE("UNLINK and NODE_LINK are never sent: encoding them is a programmer error") {
        Bytes out{9};
        CHECK_THROWS_AS(encode_control(out, Unlink{p1, p2}, offered, true), std::logic_error);
        CHECK_THROWS_AS(encode_control(out, NodeLink{}, 0, false), std::logic_error);
        CHECK(out == Bytes{9});
    }

    TEST_CASE("SEND and REG_SEND accept any term as Unused and ignore it") {
        for (const Term& unused : {Term("cookie"_a), tuple(1, 2), Term(p1), Term(1.5), Term()}) {
            CAPTURE(to_string(unused));
            auto send = decode_control(tuple(2, unused, p2), &msg);
            REQUIRE(send);
            CHECK(*send == Control(Send{p2, msg, none}));
            auto reg = decode_control(tuple(16, p1, unused, server, token), &msg);
            REQUIRE(reg);
            CHECK(*reg == Control(RegSend{p1, server, msg, token}));
        }
    }

    TEST_CASE("UNLINK_ID ids above 2^63 arrive as bignums and decode") {
        Term id(*BigInt::parse("9223372036854775808"));
        auto c = decode_control(tuple(35, id, p1, p2), nullptr);
        REQUIRE(c);
        CHECK(std::get<UnlinkId>(*c).id == std::uint64_t{1} << 63);
    }

    TEST_CASE("non-tuples, empty tuples and unknown ops are not control messages") {
        const Term cases[] = {
            Term("link"_a),
            list(1, p1, p2),
            Term(2),
            binary("x"),
            tuple(),
            tuple("link"_a, p1, p2),
            tuple(0, p1, p2),
            tuple(9, p1, p2),
            tuple(38, p1, p2, p1),
            tuple(-1),
            tuple(256),
            tuple(1.0, p1, p2),
            tuple(*BigInt::parse("1" + std::string(30, '0')), p1),
            tuple(tuple(1), p1, p2),
        };
        for (const Term& t : cases) {
            CAPTURE(to_string(t));
            CHECK(failure(t).code == ControlErrc::not_a_control);
        }
        CHECK(mentions(failure(tuple(9, p1, p2)), "op 9"));
    }

    TEST_CASE("every op with one element too many or too few is bad_shape naming the op") {
        for (const Golden& g : goldens()) {
            CAPTURE(g.name);
            Terms t = split(g.bytes);
            const Term* payload = t.payload ? &*t.payload : nullptr;
            std::vector<Term> e(t.control.elements().begin(), t.control.elements().end());
            const Op op = static_cast<Op>(*e[0].to<int>());
            std::string_view name = op_name(op);
            std::vector<Term> longer = e;
            longer.push_back(Term(1));
            // ALTACT_SIG_SEND may grow in later releases: what it does not know is ignored.
            const bool extensible = op == Op::altact_sig_send;
            if (extensible) {
                auto same = decode_control(tuple_from(longer), payload);
                REQUIRE(same.has_value());
                CHECK(*same == g.control);
            } else {
                ControlError too_many = failure(tuple_from(longer), payload);
                CHECK(too_many.code == ControlErrc::bad_shape);
                CHECK(mentions(too_many, name));
            }
            // A golden that is itself longer than its flags need stays valid one element shorter.
            const bool has_spare =
                extensible && e.size() == 5 && (*e[1].to<int>() & altact::token) == 0;
            if (e.size() > 1 && !has_spare) {
                std::vector<Term> shorter(e.begin(), e.end() - 1);
                CHECK(failure(tuple_from(shorter), payload).code == ControlErrc::bad_shape);
            }
        }
    }

    TEST_CASE("ops that need a following term refuse to come without one, others refuse one") {
        for (const Golden& g : goldens()) {
            CAPTURE(g.name);
            Terms t = split(g.bytes);
            if (t.payload) {
                ControlError e = failure(t.control, nullptr);
                CHECK(e.code == ControlErrc::missing_payload);
            } else {
                Term extra = atoms::ok;
                CHECK(failure(t.control, &extra).code == ControlErrc::unexpected_payload);
            }
        }
    }

    TEST_CASE("a field of the wrong type is bad_shape, except the fields that take any term") {
        // Element positions that hold any term: Unused, the token, an in-tuple reason.
        auto any_term = [](Op op, std::size_t i, std::size_t arity) {
            bool tt = op == Op::send_tt || op == Op::reg_send_tt || op == Op::exit_tt ||
                      op == Op::exit2_tt || op == Op::send_sender_tt || op == Op::payload_exit_tt ||
                      op == Op::payload_exit2_tt || op == Op::spawn_request_tt ||
                      op == Op::spawn_reply_tt || op == Op::alias_send_tt;
            if (tt && i == arity - 1) return true;
            // ALTACT_SIG_SEND: the token, or an element a later release added.
            if (op == Op::altact_sig_send && i == 4) return true;
            switch (op) {
                case Op::send:
                case Op::send_tt:
                    return i == 1;
                case Op::reg_send:
                case Op::reg_send_tt:
                    return i == 2;
                case Op::exit:
                case Op::exit2:
                case Op::exit_tt:
                case Op::exit2_tt:
                    return i == 3 || i == 4;
                case Op::monitor_p_exit:
                    return i == 4;
                default:
                    return false;
            }
        };
        for (const Golden& g : goldens()) {
            Terms t = split(g.bytes);
            const Term* payload = t.payload ? &*t.payload : nullptr;
            std::vector<Term> e(t.control.elements().begin(), t.control.elements().end());
            Op op = static_cast<Op>(*e[0].to<int>());
            for (std::size_t i = 1; i < e.size(); ++i) {
                CAPTURE(g.name);
                CAPTURE(i);
                std::vector<Term> bad = e;
                bad[i] = Term(1.5);
                auto r = decode_control(tuple_from(bad), payload);
                CHECK(r.has_value() == any_term(op, i, e.size()));
                if (!r) {
                    CHECK(r.error().code == ControlErrc::bad_shape);
                    CHECK(mentions(r.error(), op_name(op)));
                }
            }
        }
    }

    TEST_CASE("malformed fields are refused with the op and the field named") {
        const Term two_64(*BigInt::parse("18446744073709551616"));
        const Term mfa = tuple("lists"_a, "seq"_a, 2);
        const Term args = list(1, 10);
        const Term improper = list_from(std::vector<Term>{Term(1)}, Term(2));
        const Term reason = atoms::normal;
        struct Case {
            Term control;
            const Term* payload;
            const char* detail;
        };
        const Case cases[] = {
            {tuple(35, 0, p1, p2), nullptr, "UNLINK_ID: id"},
            {tuple(35, -1, p1, p2), nullptr, "UNLINK_ID: id"},
            {tuple(35, two_64, p1, p2), nullptr, "UNLINK_ID: id"},
            {tuple(35, -two_64.to<BigInt>().value(), p1, p2), nullptr, "UNLINK_ID: id"},
            {tuple(36, 0, p1, p2), nullptr, "UNLINK_ID_ACK: id"},
            {tuple(36, 1, p1, "x"_a), nullptr, "UNLINK_ID_ACK: to"},
            {tuple(31, ref, p1, -1, p2), nullptr, "SPAWN_REPLY: flags"},
            {tuple(31, ref, p1, std::uint64_t{1} << 32, p2), nullptr, "SPAWN_REPLY: flags"},
            {tuple(31, ref, p1, 0, tuple(1)), nullptr, "SPAWN_REPLY: result"},
            {tuple(29, ref, p1, p2, "mfa"_a, Term()), &args, "SPAWN_REQUEST: mfa"},
            {tuple(29, ref, p1, p2, tuple("m"_a, "f"_a), Term()), &args, "SPAWN_REQUEST: mfa"},
            {tuple(29, ref, p1, p2, tuple(1, "f"_a, 0), Term()), &args, "SPAWN_REQUEST: module"},
            {tuple(29, ref, p1, p2, tuple("m"_a, p1, 0), Term()), &args, "SPAWN_REQUEST: function"},
            {tuple(29, ref, p1, p2, tuple("m"_a, "f"_a, -1), Term()), &args,
             "SPAWN_REQUEST: arity"},
            {tuple(29, ref, p1, p2, tuple("m"_a, "f"_a, two_64), Term()), &args,
             "SPAWN_REQUEST: arity"},
            {tuple(29, ref, p1, p2, mfa, improper), &args, "SPAWN_REQUEST: options"},
            {tuple(29, ref, p1, p2, mfa, "link"_a), &args, "SPAWN_REQUEST: options"},
            {tuple(29, ref, p1, p2, mfa, Term()), &improper, "SPAWN_REQUEST: args"},
            {tuple(29, ref, p1, p2, mfa, Term()), &reason, "SPAWN_REQUEST: args"},
            {tuple(29, p1, p1, p2, mfa, Term()), &args, "SPAWN_REQUEST: req_id"},
            {tuple(19, p1, tuple(server, "n@h"_a), ref), nullptr, "MONITOR_P: to"},
            {tuple(20, p1, p2, p1), nullptr, "DEMONITOR_P: ref"},
            {tuple(21, ref, p1, ref, reason), nullptr, "MONITOR_P_EXIT: from"},
            {tuple(6, p1, atoms::empty, p2), &msg, "REG_SEND: to_name"},
            {tuple(33, p1, p2), &msg, "ALIAS_SEND: alias"},
            {tuple(2, atoms::empty, server), &msg, "SEND: to"},
            {tuple(1, "a"_a, "b"_a), nullptr, "LINK: from"},  // the first wrong field is named
        };
        for (const Case& c : cases) {
            CAPTURE(to_string(c.control));
            ControlError e = failure(c.control, c.payload);
            CHECK(e.code == ControlErrc::bad_shape);
            CHECK_MESSAGE(mentions(e, c.detail), e.detail);
        }
    }

    TEST_CASE("hostile terms in any field give an error or a message, never a crash") {
        const Term hostile[] = {
            Term(*BigInt::parse("-" + std::string(200, '9'))),
            Term(std::numeric_limits<std::int64_t>::min()),
            tuple_from(std::vector<Term>(300, Term(1))),
            list_from(std::vector<Term>(3, Term(p1)), Term(p2)),
            binary(std::string(100, 'z')),
            Term(),
            tuple(),
            Term(Port{"n@h"_a, 1, 1}),
        };
        for (const Golden& g : goldens()) {
            Terms t = split(g.bytes);
            std::vector<Term> e(t.control.elements().begin(), t.control.elements().end());
            for (std::size_t i = 0; i < e.size(); ++i) {
                for (const Term& h : hostile) {
                    std::vector<Term> bad = e;
                    bad[i] = h;
                    CHECK_NOTHROW(
                        (void)decode_control(tuple_from(bad), t.payload ? &*t.payload : nullptr));
                    CHECK_NOTHROW((void)decode_control(tuple_from(bad), &h));
                }
            }
        }
    }

    TEST_CASE("every ControlErrc has its own message in the control category") {
        std::error_code ec = ControlErrc::bad_shape;
        CHECK(ec.category() == control_category());
        CHECK(std::string(control_category().name()) == "distribute.control");
        std::vector<std::string> messages;
        for (ControlErrc e : {ControlErrc::not_a_control, ControlErrc::bad_shape,
                              ControlErrc::missing_payload, ControlErrc::unexpected_payload}) {
            std::string m = make_error_code(e).message();
            CHECK_FALSE(m.empty());
            for (const std::string& other : messages)
                CHECK(m != other);
            messages.push_back(m);
        }
    }

    TEST_CASE("op names are the spec's names") {
        CHECK(op_name(Op::payload_monitor_p_exit) == "PAYLOAD_MONITOR_P_EXIT");
        CHECK(op_name(Op::unlink_id_ack) == "UNLINK_ID_ACK");
        CHECK(op_name(static_cast<Op>(9)).empty());
        CHECK(op_name(static_cast<Op>(200)).empty());
    }
}

TEST_SUITE("capabilities") {
    // OTP 25's mandatory flags and nothing else (the digest bit stands for them).
    const std::uint64_t mandatory_only = expand(flag::mandatory_25_digest);

    bool needs_an_optional_flag(const Control& c) {
        return std::holds_alternative<MonitorP>(c) || std::holds_alternative<DemonitorP>(c) ||
               std::holds_alternative<MonitorPExit>(c) || std::holds_alternative<SpawnRequest>(c) ||
               std::holds_alternative<SpawnReply>(c) || std::holds_alternative<AliasSend>(c) ||
               std::holds_alternative<AliasExit>(c) || std::holds_alternative<UnlinkId>(c) ||
               std::holds_alternative<UnlinkIdAck>(c);
    }

    TEST_CASE(
        "a peer with only the mandatory flags takes every control but monitors, spawns, aliases "
        "and unlink ids") {
        for (const Golden& g : goldens()) {
            CAPTURE(g.name);
            CHECK(peer_takes(g.control, mandatory_only) == !needs_an_optional_flag(g.control));
        }
    }

    TEST_CASE("every control goes to a peer that offers what we offer") {
        for (const Golden& g : goldens()) {
            CAPTURE(g.name);
            CHECK(peer_takes(g.control, offered));
        }
    }

    TEST_CASE(
        "monitors need DIST_MONITOR and DIST_MONITOR_NAME both, by pid or by name, as erts sends "
        "them: erl_interface's DIST_MONITOR alone is not enough") {
        const std::uint64_t ei = mandatory_only | flag::dist_monitor | flag::unlink_id |
                                 flag::v4_nc | flag::small_atom_tags;
        for (const Control& c : {Control(MonitorP{p1, p2, ref}), Control(MonitorP{p1, "kv"_a, ref}),
                                 Control(DemonitorP{p1, p2, ref}),
                                 Control(MonitorPExit{p2, p1, ref, Term("normal"_a)})}) {
            CHECK_FALSE(peer_takes(c, ei & offered));
            CHECK(peer_takes(c, ei | flag::dist_monitor_name));
            CHECK(flags_needed(c) == FlagsNeeded{flag::dist_monitor | flag::dist_monitor_name, 0});
        }
    }

    TEST_CASE("the flag each optional control needs is the spec's") {
        CHECK(flags_needed(SpawnRequest{ref, p1, p1, "erpc"_a, "execute_call"_a, 4, Term(), Term(),
                                        std::nullopt}) == FlagsNeeded{flag::spawn, 0});
        CHECK(flags_needed(SpawnReply{ref, p1, 0, Term(p2), std::nullopt}) ==
              FlagsNeeded{flag::spawn, 0});
        CHECK(flags_needed(AliasSend{p1, ref, Term(1), std::nullopt}) ==
              FlagsNeeded{0, flag::alias | flag::altact_sig});
        CHECK(flags_needed(AliasExit{p1, ref, Term(1), std::nullopt}) ==
              FlagsNeeded{flag::altact_sig, 0});
        CHECK(flags_needed(UnlinkId{7, p1, p2}) == FlagsNeeded{flag::unlink_id, 0});
        CHECK(flags_needed(UnlinkIdAck{7, p1, p2}) == FlagsNeeded{flag::unlink_id, 0});
        CHECK(flags_needed(Link{p1, p2}) == FlagsNeeded{});
    }

    TEST_CASE(
        "a message to an alias goes to a peer with ALTACT_SIG or ALIAS, an exit signal to an "
        "alias only with ALTACT_SIG, and a priority message needs nothing more") {
        const Term msg("m"_a);
        const Control alias_send = AliasSend{p1, ref, msg, std::nullopt};
        const Control priority_send = AliasSend{p1, ref, msg, std::nullopt, true};
        const Control alias_exit = AliasExit{p1, ref, Term("kill"_a), std::nullopt, true};
        for (const Control& send : {alias_send, priority_send}) {
            CHECK(peer_takes(send, mandatory_only | flag::alias));
            CHECK(peer_takes(send, mandatory_only | flag::altact_sig));
            // An OTP 30 node that dropped ALIAS still gets our replies to its gen calls.
            CHECK(peer_takes(send, offered & ~flag::alias));
            CHECK_FALSE(peer_takes(send, mandatory_only | flag::send_sender));
        }
        CHECK(peer_takes(alias_exit, mandatory_only | flag::altact_sig));
        CHECK_FALSE(peer_takes(alias_exit, offered & ~flag::altact_sig));
        CHECK(peer_takes(SendSender{p1, p2, msg, std::nullopt}, 0));
    }

    TEST_CASE("to a peer with only the mandatory flags, sends and exits go in their older forms") {
        CHECK(op_for(SendSender{p1, p2, Term(1), std::nullopt}, mandatory_only) == Op::send);
        CHECK(op_for(Exit{p1, p2, Term("boom"_a), std::nullopt}, mandatory_only) == Op::exit);
        CHECK(op_for(Exit2{p1, p2, Term("boom"_a), std::nullopt}, mandatory_only) == Op::exit2);
    }
}
