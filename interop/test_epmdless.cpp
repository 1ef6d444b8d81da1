// EPMD-less nodes (NodeOptions::epmdless_port; erl -start_epmd false -erl_epmd_port PORT): every
// node of such a cluster listens on the one port and dials its peers there. On one machine the
// nodes take one loopback address each (Linux routes all of 127/8 to lo). A real erl and our node
// reach each other, each dialling first, while nothing is asked at the port where an EPMD would
// be; two of our nodes that require encryption encrypt, with no EPMD entry to advertise it; the
// client commands' --epmdless-port dials the port.
#include <doctest/doctest.h>

#include "cli_support.hpp"
#include "net/asio.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// A listening socket nothing accepts from, where the node's EPMD would be. A connection made to
// it waits in the backlog (even once its client has closed it), so asked() tells whether anything
// connected; and the port is taken, so an EPMD started there would fail to bind.
class UnansweredPort {
  public:
    UnansweredPort()
        : acceptor_(io_, net::tcp::endpoint(net::asio::ip::make_address("127.0.0.1"), 0)) {}
    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    bool asked() {
        acceptor_.non_blocking(true);
        net::tcp::socket socket(io_);
        boost::system::error_code e;
        acceptor_.accept(socket, e);
        return !e;
    }

  private:
    net::asio::io_context io_;
    net::tcp::acceptor acceptor_;
};

// Our node alive@address, EPMD-less on `port`, listening on `address` only. Were EPMD used, the
// embedded mode would start one at `epmd`, which is taken: the start would fail.
NodeOptions epmdless_node(std::string_view prefix, const std::string& address, std::uint16_t port,
                          std::uint16_t epmd, LogCapture& log) {
    NodeOptions o;
    o.name = unique_name(prefix) + "@" + address;
    o.long_names = true;
    o.cookie = "interop_cookie";
    o.listen_address = address;
    o.epmdless_port = port;
    o.epmd_mode = EpmdMode::embedded;
    o.epmd.endpoint = {"127.0.0.1", epmd};
    // Hidden: only what the test sends crosses (no global or pg to dial peers again).
    o.hidden = true;
    o.threads = 2;
    log.label(o.name);
    o.log = log.sink();
    return o;
}

// erl -name <unique>@127.0.0.2 -start_epmd false -erl_epmd_port `port`, listening on 127.0.0.2.
ErlNodeOptions epmdless_erl(std::uint16_t port) {
    ErlNodeOptions o;
    o.name_prefix = "erl_less";
    o.long_host = "127.0.0.2";
    o.interface = "{127,0,0,2}";
    // Nothing listens there: -start_epmd false, and erl's attempt to register is refused (OTP
    // tries, and takes a random creation when it fails).
    o.epmd_port = free_port();
    o.extra_args = {"-erl_epmd_port", std::to_string(port)};
    return o;
}

}  // namespace

TEST_CASE(
    "epmd_resilience: EPMD-less, erl and our node on one port reach each other, each dialling "
    "first, and no EPMD is asked or started") {
    const std::uint16_t port = free_port();
    UnansweredPort epmd;
    LogCapture log;
    INFO(log.text());
    Node node = start_node(epmdless_node("cpp_less", "127.0.0.1", port, epmd.port(), log));
    CHECK(node.port() == port);
    CHECK(log.contains("EPMD-less"));
    Mailbox inbox = named_mailbox(node, "inbox");

    ErlNode erl(epmdless_erl(port));
    register_tester(erl);
    const Atom peer = atom(erl.node_name());

    // erl dials first: it finds us at the one port, on our host.
    CHECK(erl.eval("net_adm:ping(" + quoted(node.name()) + ")") == "pong");
    CHECK(erl.eval("{inbox, " + quoted(node.name()) + "} ! {from_erl, node()}, ok") == "ok");
    CHECK(next_message(inbox) == tuple(atom("from_erl"), peer));

    CHECK(node.disconnect(peer));
    eventually([&] { return erl.eval("nodes(connected)") == "[]"; });

    // We dial first: erl listens at the same port, on its own address.
    CHECK(node.ping(peer));
    inbox.send(atom("tester"), peer, tuple(atom("from_cpp"), inbox.pid()));
    CHECK(erl.eval("receive {from_cpp, P} -> P ! {back, node()}, ok after 15000 -> timeout end") ==
          "ok");
    CHECK(next_message(inbox) == tuple(atom("back"), peer));

    // A name nobody has: refused at the port, not an EPMD that does not know it.
    auto missing = node.connect(atom("nobody@127.0.0.3"), 5s);
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().code == NodeErrc::unreachable);
    CHECK(missing.error().detail.find("127.0.0.3 port " + std::to_string(port)) !=
          std::string::npos);

    CHECK_FALSE(epmd.asked());
}

TEST_CASE(
    "EPMD-less: two of our nodes that require encryption encrypt with nothing advertising it, and "
    "a port range that is not the EPMD-less port is refused") {
    const std::uint16_t port = free_port();
    UnansweredPort epmd;
    LogCapture log_a, log_b;
    INFO((log_a.text() + log_b.text()));
    auto options_a = epmdless_node("less_a", "127.0.0.1", port, epmd.port(), log_a);
    auto options_b = epmdless_node("less_b", "127.0.0.2", port, epmd.port(), log_b);
    options_a.crypto.mode = options_b.crypto.mode = CryptoMode::require;
    Node a = start_node(options_a);
    Node b = start_node(options_b);
    Mailbox inbox = named_mailbox(b, "inbox");

    CHECK(a.ping(b.name()));
    // No EPMD entry tells whether the peer offers AESGCM: ChaChaPoly, which every node reads.
    CHECK(log_a.contains("encrypted (Noise_NNpsk0_25519_ChaChaPoly_SHA256)"));
    eventually([&] { return log_b.contains("encrypted (Noise_NNpsk0_25519_ChaChaPoly_SHA256)"); });
    Mailbox me = a.open_mailbox();
    me.send(atom("inbox"), b.name(), tuple(atom("hello"), me.pid()));
    CHECK(next_message(inbox) == tuple(atom("hello"), me.pid()));
    CHECK_FALSE(epmd.asked());

    LogCapture log_c;
    auto options_c = epmdless_node("less_c", "127.0.0.3", port, epmd.port(), log_c);
    options_c.port_min = options_c.port_max =
        static_cast<std::uint16_t>(port == 65535 ? 1 : port + 1);
    auto refused = Node::start(options_c);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == NodeErrc::listen_failed);
    CHECK(refused.error().detail.find("disagree") != std::string::npos);
}

TEST_CASE(
    "EPMD-less: distribute ping --epmdless-port reaches an EPMD-less erl at the port with no EPMD "
    "asked, and a node that is not there is unreachable (exit status 6)") {
    require_cli();
    const std::uint16_t port = free_port();
    UnansweredPort epmd;
    ErlNode erl(epmdless_erl(port));
    const std::vector<std::string> env = {"ERL_EPMD_PORT=" + std::to_string(epmd.port())};
    const std::string at = std::to_string(port);

    const auto pong = run_cli(
        {"ping", erl.node_name(), "--epmdless-port", at, "--cookie", "interop_cookie"}, env);
    CHECK(pong.exit_status == 0);
    CHECK(pong.out == "pong\n");
    const auto missing = run_cli(
        {"ping", "nobody@127.0.0.3", "--epmdless-port", at, "--cookie", "interop_cookie"}, env);
    CHECK(missing.exit_status == 6);
    CHECK(missing.err.find("127.0.0.3 port " + at) != std::string::npos);
    CHECK_FALSE(epmd.asked());
}
