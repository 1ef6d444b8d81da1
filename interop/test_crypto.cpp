// The encrypted transport between two of our nodes, over real sockets and a real EPMD: the
// distribution protocol on top unchanged (ping, ordered messages, gen_server, erpc, a monitor
// and a link, a large binary), pinned keys, wrong cookies and keys, no downgrade, BEAM nodes in
// prefer and require mode, a socket tap that must not see a known message, tampering on the
// wire, and the cipher two nodes agree on (AESGCM, ChaChaPoly when one is told so, a hello asking
// for AESGCM refused by a node that does not offer it).
#include <doctest/doctest.h>

#include <future>

#include "cli/demo_services.hpp"
#include "crypto/noise.hpp"
#include "crypto_support.hpp"
#include "distribute/rpc.hpp"
#include "epmd_support.hpp"
#include "net/asio.hpp"
#include "node_support.hpp"
#include "tap_proxy.hpp"

using namespace distribute;
using namespace distribute::testing;

namespace {

// Registers `alive` at the EPMD on `epmd_port` under `port`, advertising the encrypted transport
// (by default as nodes before the cipher byte did: ChaChaPoly in a version 1 hello, which ours
// still read): so that a node using that EPMD dials the tap instead of the node itself, or reads
// what `advertised` claims.
class FakeRegistration {
  public:
    FakeRegistration(std::uint16_t epmd_port, const std::string& alive, std::uint16_t port,
                     const std::string& advertised = "distribute-crypto/1")
        : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {
        EpmdClientOptions options;
        options.endpoint.port = epmd_port;
        client_ = std::make_unique<EpmdClient>(io_, options);
        auto done = std::make_shared<std::promise<bool>>();
        RegistrationEvents events;
        events.registered = [done](std::uint32_t, unsigned count) {
            if (count == 1) done->set_value(true);
        };
        events.failed = [done](const EpmdError&) { done->set_value(false); };
        registration_ = client_->register_node(
            NodeRegistration{alive, port, NodeType::hidden, 6, 6,
                             std::vector<std::uint8_t>(advertised.begin(), advertised.end())},
            std::move(events));
        REQUIRE(done->get_future().get());
    }
    ~FakeRegistration() {
        registration_.reset();
        client_.reset();
        guard_.reset();
        io_.stop();
        thread_.join();
    }

  private:
    net::asio::io_context io_;
    std::optional<net::asio::executor_work_guard<net::asio::io_context::executor_type>> guard_;
    std::thread thread_;
    std::unique_ptr<EpmdClient> client_;
    std::unique_ptr<EpmdRegistration> registration_;
};

// Sends {Self, Marker} to the echo on `peer` and waits for Marker back.
void echo_round_trip(Node& node, Atom peer, const Term& marker) {
    Mailbox me = node.open_mailbox();
    me.send(atom("echo"), peer, tuple(me.pid(), marker));
    CHECK(next_message(me) == marker);
}

}  // namespace

TEST_SUITE("crypto") {
    TEST_CASE(
        "two of our nodes in require mode speak the whole protocol over the encrypted "
        "transport") {
        RequireNodes n({"crypto_b", "crypto_a"});
        INFO(n.log_text());
        Node &b = n[0], &a = n[1];
        REQUIRE(cli::start_demo_services(b).has_value());
        const Atom peer = b.name();

        CHECK(a.ping(peer));
        REQUIRE(crypto::aesgcm_available());  // the machines the tests run on have AES-NI
        CHECK(n.log(1).contains("encrypted (Noise_NNpsk0_25519_AESGCM_SHA256)"));
        n.check_encrypted({0, 1});

        // 10,000 messages through the echo come back in order.
        Mailbox me = a.open_mailbox();
        for (int i = 1; i <= 10000; ++i)
            me.send(atom("echo"), peer, tuple(me.pid(), tuple(atom("seq"), Term(i))));
        for (int i = 1; i <= 10000; ++i)
            REQUIRE(next_message(me) == tuple(atom("seq"), Term(i)));

        // gen_server calls to kv, and erpc to demo.
        auto put = call(a, ServerRef(atom("kv"), peer), tuple(atom("put"), atom("k"), Term(42)));
        REQUIRE(put.has_value());
        CHECK(*put == Term(atom("ok")));
        auto got = call(a, ServerRef(atom("kv"), peer), tuple(atom("get"), atom("k")));
        REQUIRE(got.has_value());
        CHECK(*got == tuple(atom("ok"), Term(42)));
        auto sum = rpc(a, peer, atom("demo"), atom("add"), {Term(1), Term(2)});
        REQUIRE(sum.has_value());
        CHECK(*sum == Term(3));

        // A monitor and a link across the encrypted connection: DOWN and EXIT carry the reason.
        Mailbox watched = b.open_mailbox();
        Mailbox watcher = a.open_mailbox();
        watcher.trap_exit(true);
        const Reference ref = watcher.monitor(watched.pid());
        watcher.link(watched.pid());
        // Through the same connection after them: b has set both up when this comes back.
        echo_round_trip(a, peer, Term(atom("signals_sent")));
        const Pid gone = watched.pid();
        watched.close(Term(atom("gone")));
        CHECK(down_reason(watcher, ref) == Term(atom("gone")));
        CHECK(next_message(watcher) == tuple(atom("EXIT"), gone, atom("gone")));

        // A binary of 1 MB spans many records and comes back whole.
        std::vector<std::uint8_t> big(1 << 20);
        for (std::size_t i = 0; i < big.size(); ++i)
            big[i] = static_cast<std::uint8_t>(i * 31 + 7);
        echo_round_trip(a, peer, binary(std::span<const std::uint8_t>(big)));
        CHECK(a.stats().bad_frames == 0);
        CHECK(b.stats().bad_frames == 0);
    }

    TEST_CASE("pinned keys: KKpsk0 connects; an unpinned key or another node's key is refused") {
        Cluster cluster;
        LogCapture log_a, log_b, log_c;
        INFO((log_a.text() + log_b.text() + log_c.text()));
        const NodeKey key_a = NodeKey::generate(), key_b = NodeKey::generate(),
                      key_c = NodeKey::generate();
        auto options_a = with_crypto(cluster.node_options("pin_a", &log_a), CryptoMode::require);
        auto options_b = with_crypto(cluster.node_options("pin_b", &log_b), CryptoMode::require);
        auto options_c = with_crypto(cluster.node_options("pin_c", &log_c), CryptoMode::require);
        const std::string host = "@" + short_host();
        options_a.crypto.node_key = key_a;
        options_b.crypto.node_key = key_b;
        options_c.crypto.node_key = key_c;
        options_a.crypto.peer_keys = {{options_b.name + host, key_b.public_key}};
        // b pins a, and pins c's name with a's key: c cannot prove it.
        options_b.crypto.peer_keys = {{options_a.name + host, key_a.public_key},
                                      {options_c.name + host, key_a.public_key}};
        options_c.crypto.peer_keys = {{options_b.name + host, key_b.public_key}};
        Node b = start_node(options_b);
        Node a = start_node(options_a);
        Node c = start_node(options_c);

        CHECK(a.ping(b.name()));
        CHECK(log_a.contains("encrypted (Noise_KKpsk0_25519_AESGCM_SHA256)"));

        auto refused = c.connect(b.name(), 7s);
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().code == NodeErrc::crypto_failed);
        eventually([&] { return log_b.contains("not pinned here"); });

        // a pins b under b's name only: dialling c, which a did not pin, is not tried.
        auto unpinned = a.connect(c.name(), 7s);
        REQUIRE_FALSE(unpinned.has_value());
        CHECK(unpinned.error().code == NodeErrc::crypto_failed);
        CHECK(unpinned.error().detail.find("no key is pinned for") != std::string::npos);
    }

    TEST_CASE("a pinned key proven under another node's name is refused after the handshake") {
        Cluster cluster;
        LogCapture log_a, log_b;
        INFO((log_a.text() + log_b.text()));
        const NodeKey key_a = NodeKey::generate(), key_b = NodeKey::generate();
        auto options_a = with_crypto(cluster.node_options("name_a", &log_a), CryptoMode::require);
        auto options_b = with_crypto(cluster.node_options("name_b", &log_b), CryptoMode::require);
        const std::string host = "@" + short_host();
        options_a.crypto.node_key = key_a;
        options_b.crypto.node_key = key_b;
        options_a.crypto.peer_keys = {{options_b.name + host, key_b.public_key}};
        // b pins a's key, but for another name than a's.
        options_b.crypto.peer_keys = {{"somebody_else" + host, key_a.public_key}};
        Node b = start_node(options_b);
        Node a = start_node(options_a);
        CHECK_FALSE(a.connect(b.name(), 7s).has_value());
        eventually([&] { return log_b.contains("not the one pinned for that name"); });
    }

    TEST_CASE(
        "a wrong cookie fails the encrypted handshake, and prefer does not fall back to "
        "plaintext") {
        Cluster cluster;
        LogCapture log_a, log_b;
        INFO((log_a.text() + log_b.text()));
        // b would take plaintext (prefer), but a saw b advertise encryption: no downgrade.
        auto options_b = with_crypto(cluster.node_options("cookie_b", &log_b), CryptoMode::prefer);
        options_b.cookie = "another_cookie";
        Node b = start_node(options_b);
        Node a =
            start_node(with_crypto(cluster.node_options("cookie_a", &log_a), CryptoMode::prefer));
        auto failed = a.connect(b.name(), 7s);
        REQUIRE_FALSE(failed.has_value());
        CHECK(failed.error().code == NodeErrc::crypto_failed);
        eventually([&] { return log_b.contains("does not authenticate"); });
        CHECK_FALSE(log_a.contains("plaintext"));
        CHECK_FALSE(log_b.contains("security=plaintext"));
    }

    TEST_CASE(
        "a BEAM node connects to a prefer node in plaintext and is refused by a require "
        "node") {
        Cluster cluster;
        LogCapture log_p, log_r;
        INFO((log_p.text() + log_r.text()));
        Node prefer =
            start_node(with_crypto(cluster.node_options("beam_p", &log_p), CryptoMode::prefer));
        Node require =
            start_node(with_crypto(cluster.node_options("beam_r", &log_r), CryptoMode::require));
        ErlNode erl(cluster.erl_options("erl_crypto"));
        CHECK(erl.eval("net_adm:ping(" + quoted(prefer.name()) + ")") == "pong");
        CHECK(log_p.contains("security=plaintext"));
        CHECK(erl.eval("net_adm:ping(" + quoted(require.name()) + ")") == "pang");
        eventually([&] { return log_r.contains("this node requires encryption"); });

        // Our side dials the BEAM: plaintext from prefer, refused from require.
        const Atom beam = atom(erl.node_name());
        CHECK(prefer.ping(beam));
        auto refused = require.connect(beam, 7s);
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().code == NodeErrc::crypto_failed);
        CHECK(refused.error().detail.find("does not offer the encrypted transport") !=
              std::string::npos);
    }

    TEST_CASE("a socket tap sees a known message in plaintext mode and not in require mode") {
        for (const CryptoMode mode : {CryptoMode::off, CryptoMode::require}) {
            CAPTURE(to_string(mode));
            Cluster cluster, dial_side;
            LogCapture log_a, log_b;
            INFO((log_a.text() + log_b.text()));
            Node b = start_node(with_crypto(cluster.node_options("tap_b", &log_b), mode));
            REQUIRE(cli::start_demo_services(b).has_value());
            TapProxy tap(b.port());
            FakeRegistration fake(dial_side.epmd_port(), alive_of(b.name().name()), tap.port());
            auto options_a = with_crypto(cluster.node_options("tap_a", &log_a), mode);
            options_a.epmd.endpoint.port = dial_side.epmd_port();
            Node a = start_node(options_a);

            const std::string marker = "a-known-message-7f3a9c";
            echo_round_trip(a, b.name(), binary(marker));
            const bool seen = tap.captured().find(marker) != std::string::npos;
            // The tap works (plaintext shows the marker), and encryption hides it.
            CHECK(seen == (mode == CryptoMode::off));
            CHECK(tap.captured().size() > 100);
        }
    }

    TEST_CASE(
        "tampering on the wire closes that connection with a log line; the node's other "
        "connection stays up") {
        using Tamper = TapProxy::Tamper;
        for (const Tamper how : {Tamper::flip_bit, Tamper::replay, Tamper::truncate}) {
            CAPTURE(static_cast<int>(how));
            Cluster cluster, dial_side;
            LogCapture log_a, log_b, log_c;
            INFO((log_a.text() + log_b.text() + log_c.text()));
            Node b = start_node(
                with_crypto(cluster.node_options("wire_b", &log_b), CryptoMode::require));
            REQUIRE(cli::start_demo_services(b).has_value());
            Node c = start_node(
                with_crypto(cluster.node_options("wire_c", &log_c), CryptoMode::require));
            CHECK(c.ping(b.name()));
            TapProxy tap(b.port());
            FakeRegistration fake(dial_side.epmd_port(), alive_of(b.name().name()), tap.port());
            auto options_a =
                with_crypto(cluster.node_options("wire_a", &log_a), CryptoMode::require);
            options_a.epmd.endpoint.port = dial_side.epmd_port();
            Node a = start_node(options_a);
            CHECK(a.ping(b.name()));

            tap.arm(how);
            Mailbox me = a.open_mailbox();
            me.send(atom("echo"), b.name(), tuple(me.pid(), atom("tampered")));
            eventually([&] { return tap.tampered(); });
            const std::string expected =
                how == Tamper::truncate ? "cut short" : "failed authentication";
            eventually([&] { return log_b.contains(expected); });
            eventually([&] { return b.stats().bad_frames == 1; });
            // The node's other connection is untouched.
            CHECK(c.ping(b.name()));
            echo_round_trip(c, b.name(), Term(atom("still_up")));
        }
    }

    TEST_CASE(
        "the cipher: AESGCM between two nodes with AES hardware, ChaChaPoly when either is told "
        "chachapoly, and a hello asking for AESGCM refused by a node that does not offer it") {
        REQUIRE(crypto::aesgcm_available());
        Cluster cluster, dial_side;
        LogCapture log_a, log_b, log_c, log_d;
        INFO((log_a.text() + log_b.text() + log_c.text() + log_d.text()));
        const std::string aes = "Noise_NNpsk0_25519_AESGCM_SHA256";
        const std::string chacha = "Noise_NNpsk0_25519_ChaChaPoly_SHA256";
        Node a =
            start_node(with_crypto(cluster.node_options("cipher_a", &log_a), CryptoMode::require));
        Node b =
            start_node(with_crypto(cluster.node_options("cipher_b", &log_b), CryptoMode::require));
        auto options_c = with_crypto(cluster.node_options("cipher_c", &log_c), CryptoMode::require);
        options_c.crypto.cipher = CryptoCipher::chachapoly;
        Node c = start_node(options_c);

        CHECK(a.ping(b.name()));
        eventually([&] { return came_up_encrypted(log_a, b.name(), aes); });
        eventually([&] { return came_up_encrypted(log_b, a.name(), aes); });
        // c does not offer AESGCM (a dials it), nor ask for it (c dials b).
        CHECK(a.ping(c.name()));
        CHECK(c.ping(b.name()));
        eventually([&] { return came_up_encrypted(log_a, c.name(), chacha); });
        eventually([&] { return came_up_encrypted(log_c, a.name(), chacha); });
        eventually([&] { return came_up_encrypted(log_c, b.name(), chacha); });
        eventually([&] { return came_up_encrypted(log_b, c.name(), chacha); });

        // An EPMD entry that claims AESGCM for c: d asks c for it, and c refuses the hello.
        FakeRegistration fake(dial_side.epmd_port(), alive_of(c.name().name()), c.port(),
                              "distribute-crypto/1 distribute-crypto/2 aesgcm");
        auto options_d = with_crypto(cluster.node_options("cipher_d", &log_d), CryptoMode::require);
        options_d.epmd.endpoint.port = dial_side.epmd_port();
        Node d = start_node(options_d);
        auto refused = d.connect(c.name(), 7s);
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().code == NodeErrc::crypto_failed);
        eventually([&] {
            return log_c.contains("the peer asks for AESGCM, and this node does not offer it");
        });
    }
}
