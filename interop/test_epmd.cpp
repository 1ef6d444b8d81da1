// EPMD against real OTP: erl nodes using our embedded server, and our client using OTP's epmd.
#include <doctest/doctest.h>

#include <atomic>
#include <functional>
#include <future>
#include <regex>
#include <thread>

#include "distribute/epmd.hpp"
#include "epmd_support.hpp"
#include "erl_fixture.hpp"
#include "net/asio.hpp"
#include "subprocess.hpp"
#include "waits.hpp"
#include "wire/epmd_codec.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

ErlNodeOptions node_on(std::uint16_t epmd_port, std::string prefix) {
    ErlNodeOptions o;
    o.name_prefix = std::move(prefix);
    o.epmd_port = epmd_port;
    return o;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

NodeRegistration cpp_node(std::string name, std::uint16_t port) {
    NodeRegistration n;
    n.name = std::move(name);
    n.port = port;
    return n;
}

using Bytes = std::vector<std::uint8_t>;
namespace codec = wire::epmd;

// One raw connection to an EPMD. Reads are bounded (OTP's epmd keeps some connections open) and
// say what they saw, so that the same conversation can be held with two servers and compared.
class Peer {
  public:
    explicit Peer(std::uint16_t port) {
        socket_.connect({net::asio::ip::make_address("127.0.0.1"), port});
    }
    // A server may close while we still write (an oversized request): that is its answer.
    void send(const Bytes& b) {
        boost::system::error_code ignored;
        net::asio::write(socket_, net::asio::buffer(b), ignored);
    }
    void shutdown_send() {
        boost::system::error_code ignored;
        socket_.shutdown(net::tcp::socket::shutdown_send, ignored);
    }
    // What arrived until the server closed, and "closed"; or "still open".
    std::string read_to_end() {
        Bytes out;
        bool closed = false;
        std::array<std::uint8_t, 4096> chunk{};
        std::function<void()> next = [&] {
            socket_.async_read_some(net::asio::buffer(chunk),
                                    [&](boost::system::error_code ec, std::size_t n) {
                                        out.insert(out.end(), chunk.begin(),
                                                   chunk.begin() + static_cast<std::ptrdiff_t>(n));
                                        if (!ec) return next();
                                        // A reset is a close with our request left unread.
                                        closed = ec != net::asio::error::operation_aborted;
                                    });
        };
        run_bounded(next);
        return hex(out) + (closed ? " closed" : " still open");
    }
    Bytes read_exactly(std::size_t n) {
        Bytes out(n);
        bool done = false;
        run_bounded([&] {
            net::asio::async_read(socket_, net::asio::buffer(out),
                                  [&](boost::system::error_code ec, std::size_t) { done = !ec; });
        });
        if (!done) return {};
        return out;
    }

    static std::string hex(const Bytes& b) {
        static const char* digits = "0123456789abcdef";
        std::string s;
        for (const auto c : b)
            s += {digits[c >> 4], digits[c & 15]};
        return s.empty() ? "-" : s;
    }

  private:
    void run_bounded(const std::function<void()>& start) {
        io_.restart();
        start();
        io_.run_for(10s);
        if (!io_.stopped()) {
            boost::system::error_code ignored;
            socket_.cancel(ignored);
            io_.run();
        }
    }

    net::asio::io_context io_;
    net::tcp::socket socket_{io_};
};

Bytes alive2(std::string name, std::uint16_t port, std::uint16_t highest, std::uint16_t lowest,
             Bytes extra = {}) {
    return codec::encode_request(codec::Alive2Request{
        {port, codec::node_type_normal, 0, highest, lowest, std::move(name), std::move(extra)}});
}

Bytes request(std::initializer_list<int> list) {
    Bytes out;
    for (int b : list)
        out.push_back(static_cast<std::uint8_t>(b));
    return out;
}

// A NAMES or DUMP reply: whether it starts with the server's own port, then its text.
std::string text_reply(const std::string& seen, std::uint16_t port) {
    const std::string port_hex = Peer::hex(
        {0, 0, static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port & 0xff)});
    if (seen.rfind(port_hex, 0) != 0) return "no port: " + seen;
    std::string text;
    const auto end = seen.find(' ');
    for (std::size_t i = port_hex.size(); i + 1 < end; i += 2)
        text += static_cast<char>(std::stoi(seen.substr(i, 2), nullptr, 16));
    // epmd prints its file descriptors where we print connection numbers.
    return std::regex_replace(text, std::regex("fd = [0-9]+"), "fd = #") + seen.substr(end);
}

// The same conversation with any EPMD: the lines it produces are what the server answered.
std::vector<std::string> converse(std::uint16_t port) {
    std::vector<std::string> lines;
    auto names = [&] {
        Peer p(port);
        p.send(codec::encode_request(codec::NamesRequest{}));
        return text_reply(p.read_to_end(), port);
    };
    auto without = [&](const std::string& name) {
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (names().find("name " + name + " ") != std::string::npos) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            std::this_thread::sleep_for(20ms);
        }
        return true;
    };
    auto registered = [](const Bytes& reply, std::size_t size) {
        if (reply.size() != size) return std::string("no reply");
        const std::uint32_t creation =
            size == 6 ? (std::uint32_t{reply[2]} << 24 | std::uint32_t{reply[3]} << 16 |
                         std::uint32_t{reply[4]} << 8 | reply[5])
                      : (std::uint32_t{reply[2]} << 8 | reply[3]);
        return "tag " + std::to_string(reply[0]) + " result " + std::to_string(reply[1]) +
               (creation == 0   ? " creation 0"
                : creation <= 3 ? " creation 1..3"
                                : " creation 4+");
    };
    auto ask = [&](const Bytes& bytes) {
        Peer p(port);
        p.send(bytes);
        return p.read_to_end();
    };

    Peer a(port);
    a.send(alive2("dx_a", 5001, 6, 5));
    lines.push_back("ALIVE2 5..6: " + registered(a.read_exactly(6), 6));
    Peer b(port);
    b.send(alive2("dx_b", 5002, 5, 5));
    lines.push_back("ALIVE2 5..5: " + registered(b.read_exactly(4), 4));
    {
        Peer twin(port);
        twin.send(alive2("dx_a", 5003, 6, 5));
        lines.push_back("ALIVE2 of a taken name: " + Peer::hex(twin.read_exactly(6)));
    }
    {
        Peer c(port);
        c.send(alive2("dx_c", 5004, 6, 6));
        lines.push_back("ALIVE2 6..6: " + registered(c.read_exactly(6), 6));
    }
    lines.push_back(std::string("dx_c gone with its socket: ") + (without("dx_c") ? "yes" : "no"));
    std::string widest;
    for (int i = 0; i < 255; ++i)
        widest += "\xf0\x9f\x98\x80";
    Peer big(port);
    big.send(alive2(widest, 5005, 6, 5, Bytes(1020, 0xab)));
    lines.push_back("largest ALIVE2: " + registered(big.read_exactly(6), 6));

    lines.push_back("PORT_PLEASE2: " +
                    ask(codec::encode_request(codec::PortPlease2Request{"dx_a"})));
    lines.push_back("PORT_PLEASE2 with a NUL: " + ask(request({0, 6, 122, 'd', 'x', '_', 'a', 0})));
    lines.push_back("PORT_PLEASE2 v5: " +
                    ask(codec::encode_request(codec::PortPlease2Request{"dx_b"})));
    // Not compared: OTP 25's epmd registers a 255-character name but refuses to look it up (it
    // counts the NUL it appends as a character); ours answers, as the unit tests check.
    lines.push_back("PORT_PLEASE2 unknown: " +
                    ask(codec::encode_request(codec::PortPlease2Request{"nobody"})));
    lines.push_back("NAMES: " + names());
    lines.push_back("DUMP: " + text_reply(ask(codec::encode_request(codec::DumpRequest{})), port));
    lines.push_back("KILL: " + ask(codec::encode_request(codec::KillRequest{})));
    lines.push_back("STOP: " + ask(codec::encode_request(codec::StopRequest{"dx_b"})));
    Bytes longest = request({0x0b, 0xf1, 'n'});
    longest.resize(2 + 3057, 'x');
    lines.push_back("NAMES padded to 3057 bytes: " + text_reply(ask(longest), port));

    const std::vector<std::pair<std::string, Bytes>> bad{
        {"zero length", request({0, 0})},
        {"unknown request", request({0, 1, 99})},
        {"bytes after the request", request({0, 1, 'n', 'x', 'x'})},
        {"name not UTF-8", request({0, 3, 122, 0xc3, 0x28})},
        {"256-character name",
         codec::encode_request(codec::PortPlease2Request{std::string(256, 'a')})},
        {"NUL in an ALIVE2 name",
         request({0, 15, 120, 0, 1, 77, 0, 0, 6, 0, 5, 0, 2, 'a', 0, 0, 0})},
        {"ALIVE2 name past the packet",
         request({0, 13, 120, 0, 1, 77, 0, 0, 6, 0, 5, 0, 9, 'a', 'b'})},
    };
    for (const auto& [what, bytes] : bad)
        lines.push_back(what + ": " + ask(bytes));
    {
        // Closed with most of it unread: we may see a reset, which Peer counts as a close.
        Bytes oversized = request({0x0b, 0xf2, 'n'});
        oversized.resize(2 + 3058, 'x');
        lines.push_back("3058 bytes: " + ask(oversized));
    }
    {
        Peer cut(port);
        cut.send(request({0, 20, 120, 0, 1}));
        cut.shutdown_send();
        lines.push_back("truncated, then EOF: " + cut.read_to_end());
    }

    a.send(alive2("dx_d", 5006, 6, 5));
    lines.push_back("second ALIVE2 on a registration socket: " + a.read_to_end());
    lines.push_back(std::string("dx_a gone with it: ") + (without("dx_a") ? "yes" : "no"));
    lines.push_back("NAMES at the end: " + names());
    return lines;
}

}  // namespace

TEST_CASE("our server answers what OTP's epmd answers, request for request") {
    EpmdProcess real(free_port());
    const auto expected = converse(real.port());

    Loop loop;
    EpmdServer ours(loop.io, EpmdServerOptions::loopback(free_port()));
    REQUIRE(ours.start().has_value());
    const auto seen = converse(ours.port());

    REQUIRE(seen.size() == expected.size());
    for (std::size_t i = 0; i < seen.size(); ++i) {
        INFO("OTP's epmd: ", expected[i]);
        CHECK(seen[i] == expected[i]);
    }
    // Not vacuous: the real epmd did register, refuse and answer.
    CHECK(expected[0] == "ALIVE2 5..6: tag 118 result 0 creation 4+");
    CHECK(expected[1] == "ALIVE2 5..5: tag 121 result 0 creation 1..3");
    CHECK(expected[2] == "ALIVE2 of a taken name: 760100000063");
}

TEST_CASE("erl nodes register with the embedded server, find each other through it and ping") {
    Loop loop;
    EpmdServer server(loop.io, EpmdServerOptions::loopback(free_port()));
    REQUIRE(server.start().has_value());
    ErlNode a(node_on(server.port(), "emb_a"));
    ErlNode b(node_on(server.port(), "emb_b"));
    CHECK(a.eval("net_adm:ping('" + b.node_name() + "')") == "pong");
    CHECK(b.eval("lists:member('" + a.node_name() + "', nodes())") == "true");

    // net_adm:names() checks that the port in the reply is the one it asked.
    const std::string names = a.eval("net_adm:names()");
    CHECK(contains(names, "{\"" + alive_of(a.node_name()) + "\","));
    CHECK(contains(names, "{\"" + alive_of(b.node_name()) + "\","));

    // OTP's own epmd tool reads our NAMES reply.
    const auto listed = run({"epmd", "-port", std::to_string(server.port()), "-names"}, 10s);
    CHECK(listed.exit_status == 0);
    CHECK(contains(listed.out, "up and running on port " + std::to_string(server.port())));
    CHECK(contains(listed.out, "name " + alive_of(a.node_name()) + " at port "));
    CHECK(contains(listed.out, "name " + alive_of(b.node_name()) + " at port "));

    // What a lookup through our server returns: the ping above went to this port.
    const auto found = epmd_port_please({"127.0.0.1", server.port()}, alive_of(a.node_name()));
    REQUIRE(found.has_value());
    CHECK(found->speaks_v6());
}

TEST_CASE(
    "a stopped erl node leaves the embedded server's list; epmd -kill is refused while "
    "nodes are registered") {
    Loop loop;
    EpmdServer server(loop.io, EpmdServerOptions::loopback(free_port()));
    REQUIRE(server.start().has_value());
    auto a = std::make_unique<ErlNode>(node_on(server.port(), "emb_gone"));
    ErlNode b(node_on(server.port(), "emb_stays"));
    const std::string gone = alive_of(a->node_name());
    eventually([&] { return server.names().size() == 2; });
    a.reset();
    eventually([&] { return server.names().size() == 1; });
    CHECK(server.names().front().name == alive_of(b.node_name()));
    const auto kill = run({"epmd", "-port", std::to_string(server.port()), "-kill"}, 10s);
    CHECK(contains(kill.out + kill.err, "not allowed"));
    CHECK(b.eval("net_adm:names()").find(gone) == std::string::npos);
}

TEST_CASE("our client registers with OTP's epmd, and a real node looks us up") {
    Loop loop;
    EpmdProcess epmd(free_port());
    ErlNode node(node_on(epmd.port(), "real"));
    EpmdClient client(loop.io, client_for(epmd.port()));
    const std::string name = unique_name("cpp");
    Registration reg(client, cpp_node(name, 45678));
    const auto creation = reg.wait();
    REQUIRE(creation.has_value());
    CHECK(*creation != 0);

    // The real node sees us through its epmd.
    CHECK(node.eval("{port, P, V} = erl_epmd:port_please(\"" + name +
                    "\", \"127.0.0.1\"), {P, V}") == "{45678,6}");
    CHECK(contains(node.eval("net_adm:names()"), "{\"" + name + "\",45678}"));

    // We see the real node: the port it listens on, and a version range that includes 6.
    const auto found = epmd_port_please({"127.0.0.1", epmd.port()}, alive_of(node.node_name()));
    REQUIRE(found.has_value());
    CHECK(found->speaks_v6());
    CHECK(found->type == NodeType::normal);
    CHECK(node.eval("{ok, Names} = net_adm:names(), proplists:get_value(\"" +
                    alive_of(node.node_name()) + "\", Names)") == std::to_string(found->port));

    const auto names = epmd_names({"127.0.0.1", epmd.port()});
    REQUIRE(names.has_value());
    CHECK(std::find(names->begin(), names->end(), RegisteredName{name, 45678}) != names->end());

    // The name is ours while we hold it.
    Registration twin(client, cpp_node(name, 45679));
    const auto refused = twin.wait();
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == EpmdErrc::name_taken);

    const auto unknown = epmd_port_please({"127.0.0.1", epmd.port()}, "nobody_here");
    REQUIRE_FALSE(unknown.has_value());
    CHECK(unknown.error().code == EpmdErrc::not_found);

    // Closing the registration unregisters the name.
    reg.handle->close();
    eventually([&] { return !epmd_port_please({"127.0.0.1", epmd.port()}, name).has_value(); });
}

TEST_CASE("a hidden registration is reported as hidden by OTP's epmd") {
    Loop loop;
    EpmdProcess epmd(free_port());
    EpmdClient client(loop.io, client_for(epmd.port()));
    auto node = cpp_node(unique_name("hidden"), 45680);
    node.type = NodeType::hidden;
    const std::string name = node.name;
    Registration reg(client, std::move(node));
    REQUIRE(reg.wait().has_value());
    const auto found = epmd_port_please({"127.0.0.1", epmd.port()}, name);
    REQUIRE(found.has_value());
    CHECK(found->type == NodeType::hidden);
    CHECK(found->port == 45680);
}

TEST_CASE("epmd_resilience: when OTP's epmd is killed and restarted, our client registers again") {
    Loop loop;
    const auto port = free_port();
    auto epmd = std::make_unique<EpmdProcess>(port);
    EpmdClient client(loop.io, client_for(port));
    const std::string name = unique_name("phoenix");
    Registration reg(client, cpp_node(name, 45681));
    const auto first = reg.wait();
    REQUIRE(first.has_value());

    epmd.reset();  // killed
    eventually([&] { return reg.lost > 0; });
    // The killed epmd's side of our connection sits in TIME_WAIT on the port, which the fixture's
    // free-port check (a bind without SO_REUSEADDR) takes for "taken"; epmd itself binds with
    // SO_REUSEADDR, so start it directly, as a daemon we kill at the end.
    const std::string port_text = std::to_string(port);
    struct KillAtEnd {
        std::string port;
        ~KillAtEnd() { run({"epmd", "-port", port, "-kill"}, 10s); }
    } kill_at_end{port_text};
    REQUIRE(run({"epmd", "-daemon", "-relaxed_command_check", "-address", "127.0.0.1", "-port",
                 port_text},
                10s)
                .exit_status == 0);
    eventually([&] { return reg.count >= 2; });
    const auto listed = run({"epmd", "-port", std::to_string(port), "-names"}, 10s);
    CHECK(contains(listed.out, "name " + name + " at port 45681"));
    REQUIRE(reg.handle->creation().has_value());
}

TEST_CASE("with no EPMD running, automatic mode starts the embedded server and erl finds it") {
    Loop loop;
    const auto port = free_port();
    auto server = EpmdServer::ensure_running(loop.io, EpmdMode::automatic,
                                             EpmdServerOptions::loopback(port), 1s);
    REQUIRE(server.has_value());
    REQUIRE(*server != nullptr);  // nothing answered, so it started ours

    EpmdClient client(loop.io, client_for(port));
    const std::string name = unique_name("auto");
    Registration reg(client, cpp_node(name, 45682));
    REQUIRE(reg.wait().has_value());

    ErlNode node(node_on(port, "finds"));
    CHECK(node.eval("{port, P, _} = erl_epmd:port_please(\"" + name + "\", \"127.0.0.1\"), P") ==
          "45682");
    eventually([&] { return (*server)->names().size() == 2; });

    // A second node process in automatic mode uses the server that now answers.
    auto again = EpmdServer::ensure_running(loop.io, EpmdMode::automatic,
                                            EpmdServerOptions::loopback(port), 1s);
    REQUIRE(again.has_value());
    CHECK(*again == nullptr);
}

TEST_CASE("with OTP's epmd running, automatic mode uses it") {
    Loop loop;
    EpmdProcess epmd(free_port());
    auto server = EpmdServer::ensure_running(loop.io, EpmdMode::automatic,
                                             EpmdServerOptions::loopback(epmd.port()), 1s);
    REQUIRE(server.has_value());
    CHECK(*server == nullptr);
}

TEST_CASE(
    "`distribute epmd` serves erl nodes, `distribute names` lists them, `epmd -kill` stops "
    "it") {
    const std::string cli = DISTRIBUTE_BUILD_ROOT "/src/cli/distribute";
    const auto port = free_port();
    const std::string port_text = std::to_string(port);
    Child server = spawn_child({cli, "epmd", "--port", port_text, "--address", "127.0.0.1"}, {});
    struct Reap {
        Child& child;
        ~Reap() { kill_child(child); }
    } reap{server};
    eventually([&] { return epmd_names({"127.0.0.1", port}, 1s).has_value(); });

    std::optional<ErlNode> node(node_on(port, "cli"));
    const std::string alive = alive_of(node->node_name());
    const auto listed = run({cli, "names"}, 10s, {"ERL_EPMD_PORT=" + port_text});
    CHECK(listed.exit_status == 0);
    CHECK(contains(listed.out, "epmd: up and running on port " + port_text + " with data:"));
    CHECK(contains(listed.out, "name " + alive + " at port "));
    const auto otp = run({"epmd", "-port", port_text, "-names"}, 10s);
    CHECK(contains(otp.out, "name " + alive + " at port "));

    // Refused while a node is registered; accepted once it has gone, and the server exits 0.
    CHECK(contains(run({"epmd", "-port", port_text, "-kill"}, 10s).out, "not allowed"));
    node.reset();
    eventually([&] {
        auto names = epmd_names({"127.0.0.1", port}, 1s);
        return names.has_value() && names->empty();
    });
    CHECK(contains(run({"epmd", "-port", port_text, "-kill"}, 10s).out, "Killed"));
    std::optional<int> status;
    eventually([&] { return (status = try_reap(server)).has_value(); });
    CHECK(*status == 0);

    const auto nobody = run({cli, "names", "--port", port_text}, 10s);
    CHECK(nobody.exit_status == 3);
    CHECK(contains(nobody.err, "no EPMD on 127.0.0.1:" + port_text + ": EPMD unreachable"));
}
