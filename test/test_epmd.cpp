// EPMD: the codec byte for byte (golden bytes from OTP 25's epmd), the server's name table, and
// our client against our server over loopback, including the bad inputs a server must survive.
#include <doctest/doctest.h>

#include <future>
#include <thread>

#include "distribute/epmd.hpp"
#include "net/asio.hpp"
#include "net/epmd_registry.hpp"
#include "wire/epmd_codec.hpp"

using namespace distribute;
namespace codec = distribute::wire::epmd;
namespace asio = distribute::net::asio;
using distribute::net::tcp;
using namespace std::chrono_literals;

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes(std::initializer_list<int> list) {
    Bytes out;
    for (int b : list)
        out.push_back(static_cast<std::uint8_t>(b));
    return out;
}

Bytes with_text(Bytes head, std::string_view text, Bytes tail = {}) {
    head.insert(head.end(), text.begin(), text.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
}

codec::NodeRecord zt2() {
    return {36569, codec::node_type_normal, 0, 6, 5, "zt2", {}};
}

// An io_context served by a background thread for the life of the fixture.
struct Loop {
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
    std::thread thread{[this] { io.run(); }};
    ~Loop() {
        work.reset();
        io.stop();
        thread.join();
    }
};

// Waits for an eventual condition; fails the test (rather than hanging) after a generous bound.
template <class F>
void eventually(F condition) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!condition()) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(5ms);
    }
}

template <class T>
T await(std::future<T>& f) {
    REQUIRE(f.wait_for(15s) == std::future_status::ready);
    return f.get();
}

EpmdServerOptions test_server_options() {
    auto o = EpmdServerOptions::loopback(0);
    o.idle_timeout = 10s;
    return o;
}

EpmdClientOptions client_for(std::uint16_t port) {
    EpmdClientOptions o;
    o.endpoint = {"127.0.0.1", port};
    o.timeout = 5s;
    o.register_retry = RetryPolicy::no_retry();
    o.reregister_retry = {RetryPolicy::unlimited, 10ms, 50ms, 2.0, Jitter::full};
    return o;
}

// Registers and waits for the outcome: the creation, or the error.
struct Registered {
    std::unique_ptr<EpmdRegistration> registration;
    std::promise<Expected<std::uint32_t, EpmdError>> first;
    std::atomic<int> lost{0};
    std::atomic<std::uint32_t> latest{0};
    std::atomic<unsigned> count{0};

    Registered(EpmdClient& client, std::string name, std::uint16_t port) {
        RegistrationEvents events;
        events.registered = [this](std::uint32_t creation, unsigned n) {
            latest = creation;
            count = n;
            if (n == 1) first.set_value(creation);
        };
        events.lost = [this](const EpmdError&) { ++lost; };
        events.failed = [this](const EpmdError& e) {
            if (count == 0) first.set_value(unexpected(e));
        };
        NodeRegistration node;
        node.name = std::move(name);
        node.port = port;
        registration = client.register_node(std::move(node), events);
    }
    Expected<std::uint32_t, EpmdError> wait() {
        auto f = first.get_future();
        return await(f);
    }
};

// A raw connection to the server, for sending what no client would.
struct Raw {
    asio::io_context io;
    tcp::socket socket{io};
    explicit Raw(std::uint16_t port) {
        socket.connect({asio::ip::make_address("127.0.0.1"), port});
    }
    void send(const Bytes& b) { asio::write(socket, asio::buffer(b)); }
    // Everything until the server closes the connection.
    Bytes read_to_end() {
        Bytes out;
        boost::system::error_code ec;
        std::array<std::uint8_t, 512> chunk{};
        for (;;) {
            const auto n = socket.read_some(asio::buffer(chunk), ec);
            out.insert(out.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
            if (ec) return out;
        }
    }
};

bool has_name(const EpmdServer& server, const std::string& name) {
    for (const auto& n : server.names())
        if (n.name == name) return true;
    return false;
}

}  // namespace

TEST_CASE("an ALIVE2 request encodes as erl_epmd sends it") {
    const auto out = codec::encode_request(codec::Alive2Request{zt2()});
    CHECK(out ==
          with_text(bytes({0, 16, 120, 142, 217, 77, 0, 0, 6, 0, 5, 0, 3}), "zt2", bytes({0, 0})));
    auto back = codec::parse_request(out);
    REQUIRE(back.has_value());
    REQUIRE(back->has_value());
    CHECK((*back)->used == out.size());
    CHECK(std::get<codec::Alive2Request>((*back)->value).node == zt2());
}

TEST_CASE("the other requests encode with their tags and lengths") {
    CHECK(codec::encode_request(codec::PortPlease2Request{"zt2"}) ==
          with_text(bytes({0, 4, 122}), "zt2"));
    CHECK(codec::encode_request(codec::NamesRequest{}) == bytes({0, 1, 110}));
    CHECK(codec::encode_request(codec::DumpRequest{}) == bytes({0, 1, 100}));
    CHECK(codec::encode_request(codec::KillRequest{}) == bytes({0, 1, 107}));
    CHECK(codec::encode_request(codec::StopRequest{"a"}) == bytes({0, 2, 115, 'a'}));
}

TEST_CASE("replies recorded from OTP 25's epmd parse to what they say") {
    // A registration: 118, result 0, 32-bit creation.
    auto ok = codec::parse_alive2_reply(bytes({118, 0, 107, 8, 162, 123}));
    REQUIRE(ok.has_value());
    REQUIRE(ok->has_value());
    CHECK((*ok)->value.result == 0);
    CHECK((*ok)->value.creation == 0x6b08a27bu);
    CHECK((*ok)->value.extended);
    // A duplicate: result 1 and the junk creation 99.
    auto dup = codec::parse_alive2_reply(bytes({118, 1, 0, 0, 0, 99}));
    REQUIRE(dup.has_value());
    CHECK((*dup)->value.result == 1);
    // A version-5-only node gets the 16-bit form.
    auto old = codec::parse_alive2_reply(bytes({121, 0, 0, 3}));
    REQUIRE(old.has_value());
    CHECK_FALSE((*old)->value.extended);
    CHECK((*old)->value.creation == 3);

    auto port = codec::parse_port2_reply(
        with_text(bytes({119, 0, 142, 217, 77, 0, 0, 6, 0, 5, 0, 3}), "zt2", bytes({0, 0})));
    REQUIRE(port.has_value());
    REQUIRE(port->has_value());
    REQUIRE((*port)->value.has_value());
    CHECK(*(*port)->value == zt2());
    auto extra = codec::parse_port2_reply(with_text(
        bytes({119, 0, 15, 160, 72, 0, 0, 5, 0, 5, 0, 2}), "v5", bytes({0, 2, 'x', 'y'})));
    REQUIRE(extra.has_value());
    REQUIRE((*extra)->value.has_value());
    CHECK((*extra)->value->extra == bytes({'x', 'y'}));
    CHECK((*extra)->value->node_type == codec::node_type_hidden);
    auto none = codec::parse_port2_reply(bytes({119, 1}));
    REQUIRE(none.has_value());
    REQUIRE(none->has_value());
    CHECK_FALSE((*none)->value.has_value());

    auto names = codec::parse_names_reply(
        with_text(bytes({0, 0, 0xb0, 0x43}), "name v5 at port 4000\nname zt2 at port 36569\n"));
    REQUIRE(names.has_value());
    CHECK(names->epmd_port == 45123);
    CHECK(names->names == std::vector<codec::NameEntry>{{"v5", 4000}, {"zt2", 36569}});
}

TEST_CASE("our replies are the bytes epmd sends") {
    CHECK(codec::encode_alive2_reply({0, 0x6b08a27b, true}) == bytes({118, 0, 107, 8, 162, 123}));
    CHECK(codec::encode_alive2_reply({1, 99, true}) == bytes({118, 1, 0, 0, 0, 99}));
    CHECK(codec::encode_alive2_reply({0, 3, false}) == bytes({121, 0, 0, 3}));
    CHECK(codec::encode_port2_reply(zt2()) ==
          with_text(bytes({119, 0, 142, 217, 77, 0, 0, 6, 0, 5, 0, 3}), "zt2", bytes({0, 0})));
    CHECK(codec::encode_port2_reply(std::nullopt) == bytes({119, 1}));
    const std::vector<codec::NameEntry> names{{"v5", 4000}, {"zt2", 36569}};
    CHECK(codec::encode_names_reply(45123, names) ==
          with_text(bytes({0, 0, 0xb0, 0x43}), "name v5 at port 4000\nname zt2 at port 36569\n"));
    const std::vector<codec::DumpEntry> dump{{"v5", 4000, 7}};
    CHECK(codec::encode_dump_reply(45123, dump) ==
          with_text(bytes({0, 0, 0xb0, 0x43}), "active name     <v5> at port 4000, fd = 7\n",
                    bytes({0})));
}

TEST_CASE("a request that has not fully arrived asks for more, byte by byte") {
    const auto whole = codec::encode_request(codec::Alive2Request{zt2()});
    for (std::size_t n = 0; n < whole.size(); ++n) {
        auto r = codec::parse_request(std::span(whole).first(n));
        REQUIRE(r.has_value());
        CHECK_FALSE(r->has_value());
    }
    auto replies = bytes({118, 0, 107, 8, 162, 123});
    for (std::size_t n = 0; n < replies.size(); ++n) {
        auto r = codec::parse_alive2_reply(std::span(replies).first(n));
        REQUIRE(r.has_value());
        CHECK_FALSE(r->has_value());
    }
}

TEST_CASE("malformed requests are errors with a reason and an offset") {
    auto code_of = [](const Bytes& b) {
        auto r = codec::parse_request(b);
        REQUIRE_FALSE(r.has_value());
        return r.error().code;
    };
    CHECK(code_of(bytes({0, 0})) == codec::CodecErrc::bad_length);
    CHECK(code_of(bytes({0x04, 0x00})) == codec::CodecErrc::bad_length);  // 1024 > 1023
    CHECK(code_of(bytes({0xff, 0xff})) == codec::CodecErrc::bad_length);
    CHECK(code_of(bytes({0, 1, 99})) == codec::CodecErrc::unknown_request);
    // ALIVE2 whose name length runs past the packet.
    CHECK(code_of(bytes({0, 13, 120, 0, 1, 77, 0, 0, 6, 0, 5, 0, 9, 'a', 'b'})) ==
          codec::CodecErrc::truncated);
    // ALIVE2 with no room for the extra length.
    CHECK(code_of(bytes({0, 12, 120, 0, 1, 77, 0, 0, 6, 0, 5, 0, 1, 'a'})) ==
          codec::CodecErrc::truncated);
    CHECK(code_of(bytes({0, 15, 120, 0, 1, 77, 0, 0, 6, 0, 5, 0, 2, 'a', 0, 0, 0})) ==
          codec::CodecErrc::bad_name);
    CHECK(code_of(bytes({0, 13, 120, 0, 1, 77, 0, 0, 6, 0, 5, 0, 0, 0, 0})) ==
          codec::CodecErrc::bad_name);                                             // empty
    CHECK(code_of(bytes({0, 3, 122, 0xc3, 0x28})) == codec::CodecErrc::bad_name);  // not UTF-8
    CHECK(code_of(bytes({0, 1, 122})) == codec::CodecErrc::bad_name);
    auto truncated =
        codec::parse_request(bytes({0, 13, 120, 0, 1, 77, 0, 0, 6, 0, 5, 0, 9, 'a', 'b'}));
    CHECK(truncated.error().offset == 13);
}

TEST_CASE("names are 1 to 255 UTF-8 characters, and PORT_PLEASE2 drops one trailing NUL") {
    CHECK(codec::valid_name(std::string(255, 'a')));
    CHECK_FALSE(codec::valid_name(std::string(256, 'a')));
    std::string wide;
    for (int i = 0; i < 255; ++i)
        wide += "\xc3\xa9";  // é: 255 characters in 510 bytes
    CHECK(codec::valid_name(wide));
    CHECK_FALSE(codec::valid_name("\xed\xa0\x80"));  // a surrogate
    CHECK_FALSE(codec::valid_name("\xc0\xaf"));      // overlong
    auto r = codec::parse_request(bytes({0, 3, 122, 'a', 0}));
    REQUIRE(r.has_value());
    CHECK(std::get<codec::PortPlease2Request>((*r)->value).name == "a");
    // Extra data is bounded: 1021 bytes of it make a reply malformed.
    Bytes big = with_text(bytes({119, 0, 0, 1, 77, 0, 0, 6, 0, 5, 0, 1}), "a", bytes({0x03, 0xfd}));
    big.resize(big.size() + 1021, 0);
    auto e = codec::parse_port2_reply(big);
    REQUIRE_FALSE(e.has_value());
    CHECK(e.error().code == codec::CodecErrc::bad_reply);
}

TEST_CASE("the name table refuses a taken name and frees it when the connection goes") {
    net::EpmdRegistry table(1000);
    const auto first = table.add(1, zt2());
    REQUIRE(first.has_value());
    CHECK_FALSE(table.add(2, zt2()).has_value());
    CHECK(table.find("zt2")->port == 36569);
    CHECK_FALSE(table.remove_connection(2));
    CHECK(table.remove_connection(1));
    CHECK(table.find("zt2") == nullptr);
    const auto second = table.add(2, zt2());
    REQUIRE(second.has_value());
    CHECK(*second != *first);
    CHECK(*second == *first + 1);
}

TEST_CASE("creations are never 0 and stay clear of the old 1..3, even when the counter wraps") {
    net::EpmdRegistry table(0xffffffffu);
    auto node = zt2();
    const auto c = table.add(1, node);
    REQUIRE(c.has_value());
    CHECK(*c == 4);
    std::uint32_t previous = *c;
    for (int i = 0; i < 5; ++i) {
        table.remove_connection(1);
        const auto next = table.add(1, node);
        REQUIRE(next.has_value());
        CHECK(*next != previous);
        CHECK(*next >= 4);
        previous = *next;
    }
}

TEST_CASE("a version-5-only node gets a creation in 1..3 that changes per registration") {
    net::EpmdRegistry table(1000);
    auto node = zt2();
    node.highest = 5;
    std::uint32_t previous = 0;
    for (int i = 0; i < 4; ++i) {
        const auto c = table.add(1, node);
        REQUIRE(c.has_value());
        CHECK(*c >= 1);
        CHECK(*c <= 3);
        CHECK(*c != previous);
        previous = *c;
        table.remove_connection(1);
    }
}

TEST_CASE("STOP removes a name and says which connection held it") {
    net::EpmdRegistry table(1000);
    REQUIRE(table.add(7, zt2()).has_value());
    CHECK(table.remove_name("zt2") == std::optional<std::uint64_t>(7));
    CHECK_FALSE(table.remove_name("zt2").has_value());
    CHECK(table.empty());
}

TEST_CASE("a registration lives exactly as long as its socket") {
    Loop loop;
    EpmdServer server(loop.io, test_server_options());
    REQUIRE(server.start().has_value());
    EpmdClient client(loop.io, client_for(server.port()));
    auto a = std::make_unique<Registered>(client, "alpha", 4001);
    const auto creation = a->wait();
    REQUIRE(creation.has_value());
    CHECK(*creation >= 4);
    CHECK(a->registration->creation() == std::optional<std::uint32_t>(*creation));
    CHECK(server.names() == std::vector<RegisteredName>{{"alpha", 4001}});

    auto found = epmd_port_please({"127.0.0.1", server.port()}, "alpha");
    REQUIRE(found.has_value());
    CHECK(found->port == 4001);
    CHECK(found->speaks_v6());
    auto listed = epmd_names({"127.0.0.1", server.port()});
    REQUIRE(listed.has_value());
    CHECK(*listed == std::vector<RegisteredName>{{"alpha", 4001}});

    a->registration->close();
    eventually([&] { return server.names().empty(); });
    auto gone = epmd_port_please({"127.0.0.1", server.port()}, "alpha");
    REQUIRE_FALSE(gone.has_value());
    CHECK(gone.error().code == EpmdErrc::not_found);

    // The same name registers again, with another creation.
    Registered again(client, "alpha", 4002);
    const auto next = again.wait();
    REQUIRE(next.has_value());
    CHECK(*next != *creation);
}

TEST_CASE("a taken name is refused and the first registration keeps it") {
    Loop loop;
    EpmdServer server(loop.io, test_server_options());
    REQUIRE(server.start().has_value());
    EpmdClient client(loop.io, client_for(server.port()));
    Registered first(client, "beta", 5001);
    REQUIRE(first.wait().has_value());
    Registered second(client, "beta", 5002);
    const auto refused = second.wait();
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == EpmdErrc::name_taken);
    auto found = epmd_port_please({"127.0.0.1", server.port()}, "beta");
    REQUIRE(found.has_value());
    CHECK(found->port == 5001);
}

TEST_CASE("client errors name what went wrong") {
    const auto nobody = [] {
        asio::io_context io;
        tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
        return a.local_endpoint().port();  // closed again when `a` goes
    }();
    auto unreachable = epmd_names({"127.0.0.1", nobody}, 2s);
    REQUIRE_FALSE(unreachable.has_value());
    CHECK(unreachable.error().code == EpmdErrc::unreachable);

    // Something that accepts and never answers.
    asio::io_context io;
    tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
    auto timed_out = epmd_port_please({"127.0.0.1", silent.local_endpoint().port()}, "x", 200ms);
    REQUIRE_FALSE(timed_out.has_value());
    CHECK(timed_out.error().code == EpmdErrc::timed_out);

    auto bad = epmd_port_please({"127.0.0.1", nobody}, "a@b");
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().code == EpmdErrc::bad_name);
    CHECK(make_error_code(EpmdErrc::name_taken).message().find("name taken") != std::string::npos);
}

TEST_CASE("malformed, oversized and trailing requests close only their own connection") {
    Loop loop;
    EpmdServer server(loop.io, test_server_options());
    REQUIRE(server.start().has_value());
    EpmdClient client(loop.io, client_for(server.port()));
    Registered keeper(client, "keeper", 6001);
    REQUIRE(keeper.wait().has_value());

    const std::vector<Bytes> bad{
        bytes({0, 1, 99}),                                   // unknown request
        bytes({0xff, 0xff, 120}),                            // oversized length
        bytes({0, 0}),                                       // zero length
        bytes({0, 13, 120, 0, 1, 77, 0, 0, 6, 0, 5, 0, 9}),  // name runs past the packet
        with_text(bytes({0, 1, 110}), "junk"),               // bytes after the request
        bytes({0, 3, 122, 0xc3, 0x28}),                      // not UTF-8
    };
    for (const auto& request : bad) {
        Raw raw(server.port());
        raw.send(request);
        CHECK(raw.read_to_end().empty());
    }
    {
        Raw truncated(server.port());
        truncated.send(bytes({0, 20, 120, 0, 1}));
        truncated.socket.shutdown(tcp::socket::shutdown_send);
        CHECK(truncated.read_to_end().empty());
    }
    CHECK(has_name(server, "keeper"));
    CHECK(keeper.lost == 0);
}

TEST_CASE("an idle connection is closed after the idle timeout; a registration is not") {
    Loop loop;
    auto options = test_server_options();
    options.idle_timeout = 100ms;
    EpmdServer server(loop.io, options);
    REQUIRE(server.start().has_value());
    EpmdClient client(loop.io, client_for(server.port()));
    Registered keeper(client, "patient", 6002);
    REQUIRE(keeper.wait().has_value());
    Raw idle(server.port());
    CHECK(idle.read_to_end().empty());  // returns only because the server closed it
    CHECK(has_name(server, "patient"));
}

TEST_CASE("connections beyond the limit are closed as they arrive") {
    Loop loop;
    auto options = test_server_options();
    options.max_connections = 3;
    EpmdServer server(loop.io, options);
    REQUIRE(server.start().has_value());
    EpmdClient client(loop.io, client_for(server.port()));
    Registered keeper(client, "crowded", 6003);
    REQUIRE(keeper.wait().has_value());
    std::vector<std::unique_ptr<Raw>> flood;
    for (int i = 0; i < 2; ++i)
        flood.push_back(std::make_unique<Raw>(server.port()));
    eventually([&] { return server.connections() == 3; });
    Raw rejected(server.port());
    CHECK(rejected.read_to_end().empty());
    CHECK(server.connections() == 3);
    flood.clear();
    eventually([&] { return server.connections() == 1; });
    auto names = epmd_names({"127.0.0.1", server.port()});
    REQUIRE(names.has_value());
    CHECK(*names == std::vector<RegisteredName>{{"crowded", 6003}});
}

TEST_CASE("KILL and STOP are refused unless the server is relaxed") {
    Loop loop;
    EpmdServer strict(loop.io, test_server_options());
    REQUIRE(strict.start().has_value());
    EpmdClient client(loop.io, client_for(strict.port()));
    Registered node(client, "guarded", 7001);
    REQUIRE(node.wait().has_value());
    {
        Raw kill(strict.port());
        kill.send(codec::encode_request(codec::KillRequest{}));
        CHECK(kill.read_to_end() == bytes({'N', 'O'}));
    }
    {
        Raw stop(strict.port());
        stop.send(codec::encode_request(codec::StopRequest{"guarded"}));
        CHECK(stop.read_to_end().empty());
    }
    CHECK(has_name(strict, "guarded"));

    auto options = test_server_options();
    options.relaxed = true;
    EpmdServer relaxed(loop.io, options);
    REQUIRE(relaxed.start().has_value());
    EpmdClient relaxed_client(loop.io, client_for(relaxed.port()));
    Registered victim(relaxed_client, "victim", 7002);
    REQUIRE(victim.wait().has_value());
    {
        Raw stop(relaxed.port());
        stop.send(codec::encode_request(codec::StopRequest{"victim"}));
        CHECK(stop.read_to_end() == with_text({}, "STOPPED"));
    }
    eventually([&] { return victim.lost > 0; });
    {
        Raw stop(relaxed.port());
        stop.send(codec::encode_request(codec::StopRequest{"nobody"}));
        CHECK(stop.read_to_end() == with_text({}, "NOEXIST"));
    }
    victim.registration->close();
    Raw kill(relaxed.port());
    kill.send(codec::encode_request(codec::KillRequest{}));
    CHECK(kill.read_to_end() == bytes({'O', 'K'}));
    eventually([&] { return !epmd_names({"127.0.0.1", relaxed.port()}, 1s).has_value(); });
}

TEST_CASE("DUMP lists the registered names") {
    Loop loop;
    EpmdServer server(loop.io, test_server_options());
    REQUIRE(server.start().has_value());
    EpmdClient client(loop.io, client_for(server.port()));
    Registered node(client, "dumped", 7003);
    REQUIRE(node.wait().has_value());
    Raw dump(server.port());
    dump.send(codec::encode_request(codec::DumpRequest{}));
    const auto reply = dump.read_to_end();
    const std::string text(reply.begin() + 4, reply.end());
    CHECK(text.find("active name     <dumped> at port 7003, fd = ") == 0);
}

TEST_CASE("a dropped registration registers again, with a new creation, when EPMD comes back") {
    Loop loop;
    auto server = std::make_unique<EpmdServer>(loop.io, test_server_options());
    REQUIRE(server->start().has_value());
    const auto port = server->port();
    EpmdClient client(loop.io, client_for(port));
    Registered node(client, "phoenix", 8001);
    const auto first = node.wait();
    REQUIRE(first.has_value());

    server->stop();
    eventually([&] { return node.lost > 0; });
    CHECK_FALSE(node.registration->creation().has_value());
    server.reset();

    auto options = test_server_options();
    options.port = port;
    EpmdServer again(loop.io, options);
    // The old listener closes on the io_context's thread; bind once it has.
    eventually([&] { return again.start().has_value(); });
    eventually([&] { return node.count >= 2; });
    CHECK(has_name(again, "phoenix"));
    REQUIRE(node.registration->creation().has_value());
    CHECK(*node.registration->creation() == node.latest);
}

TEST_CASE(
    "automatic mode starts the embedded server when no EPMD answers, and uses one that "
    "does") {
    Loop loop;
    const auto port = [] {
        asio::io_context io;
        tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
        return a.local_endpoint().port();
    }();
    auto none = EpmdServer::ensure_running(loop.io, EpmdMode::use_running,
                                           EpmdServerOptions::loopback(port), 500ms);
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error().code == EpmdErrc::unreachable);

    auto started = EpmdServer::ensure_running(loop.io, EpmdMode::automatic,
                                              EpmdServerOptions::loopback(port), 500ms);
    REQUIRE(started.has_value());
    REQUIRE(*started != nullptr);
    CHECK((*started)->port() == port);

    auto reused = EpmdServer::ensure_running(loop.io, EpmdMode::automatic,
                                             EpmdServerOptions::loopback(port), 500ms);
    REQUIRE(reused.has_value());
    CHECK(*reused == nullptr);
    auto forced = EpmdServer::ensure_running(loop.io, EpmdMode::embedded,
                                             EpmdServerOptions::loopback(port), 500ms);
    REQUIRE_FALSE(forced.has_value());
    CHECK(forced.error().code == EpmdErrc::address_in_use);
}

TEST_CASE("the environment sets the EPMD port and listen addresses as the BEAM reads them") {
    ::setenv("ERL_EPMD_PORT", "4370", 1);
    ::setenv("ERL_EPMD_ADDRESS", "10.1.2.3, 10.1.2.4", 1);
    CHECK(EpmdEndpoint::from_environment().port == 4370);
    CHECK(EpmdEndpoint::from_environment().host == "127.0.0.1");
    const auto server = EpmdServerOptions::from_environment();
    CHECK(server.port == 4370);
    CHECK(server.addresses == std::vector<std::string>{"10.1.2.3", "10.1.2.4", "127.0.0.1"});
    ::setenv("ERL_EPMD_PORT", "junk", 1);
    CHECK(EpmdEndpoint::from_environment().port == default_epmd_port);
    ::unsetenv("ERL_EPMD_PORT");
    ::unsetenv("ERL_EPMD_ADDRESS");
    CHECK(EpmdServerOptions::from_environment().addresses.empty());
}
