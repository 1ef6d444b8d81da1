// EPMD: the codec byte for byte (golden bytes from OTP 25's epmd), the server's name table, and
// our client against our server over loopback, including the bad inputs a server must survive.
#include <doctest/doctest.h>

#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "distribute/epmd.hpp"
#include "net/asio.hpp"
#include "net/epmd_registry.hpp"
#include "waits.hpp"
#include "wire/epmd_codec.hpp"

using namespace distribute;
using testing::eventually;
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

// An io_context served by background threads (one unless told) for the life of the fixture.
struct Loop {
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
    std::vector<std::thread> threads;
    explicit Loop(int n = 1) {
        for (int i = 0; i < n; ++i)
            threads.emplace_back([this] { io.run(); });
    }
    ~Loop() {
        work.reset();
        io.stop();
        for (auto& t : threads)
            t.join();
    }
};

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

// A raw connection to the server, for sending what no client would. Reads are bounded: a server
// that neither answers nor closes fails the test instead of hanging it.
struct Raw {
    asio::io_context io;
    tcp::socket socket{io};
    explicit Raw(std::uint16_t port, const char* host = "127.0.0.1") {
        socket.connect({asio::ip::make_address(host), port});
    }
    void send(const Bytes& b) { asio::write(socket, asio::buffer(b)); }
    // Everything until the server closes the connection.
    Bytes read_to_end() {
        Bytes out;
        bool closed = false;
        std::array<std::uint8_t, 512> chunk{};
        std::function<void()> next = [&] {
            socket.async_read_some(asio::buffer(chunk),
                                   [&](boost::system::error_code ec, std::size_t n) {
                                       out.insert(out.end(), chunk.begin(),
                                                  chunk.begin() + static_cast<std::ptrdiff_t>(n));
                                       if (ec)
                                           closed = ec != asio::error::operation_aborted;
                                       else
                                           next();
                                   });
        };
        run_bounded(next);
        REQUIRE_MESSAGE(closed, "the server kept the connection open");
        return out;
    }
    // Exactly `n` bytes, on a connection the server may keep open.
    Bytes read_exactly(std::size_t n) {
        Bytes out(n);
        bool done = false;
        run_bounded([&] {
            asio::async_read(socket, asio::buffer(out),
                             [&](boost::system::error_code ec, std::size_t) { done = !ec; });
        });
        REQUIRE_MESSAGE(done, "fewer bytes than expected");
        return out;
    }

  private:
    // Starts the reads and runs them; after a generous bound, cancels them and waits for their
    // handlers, so that nothing refers to this frame's locals afterwards.
    void run_bounded(const std::function<void()>& start) {
        io.restart();
        start();
        io.run_for(15s);
        if (!io.stopped()) {
            boost::system::error_code ignored;
            socket.cancel(ignored);
            io.run();
        }
    }
};

// A stand-in for an EPMD that answers every request with `reply` and then closes: for the replies
// a real EPMD never sends. Counts the connections it accepted.
struct FakeEpmd {
    Loop loop;
    tcp::acceptor acceptor{loop.io, {asio::ip::make_address("127.0.0.1"), 0}};
    std::shared_ptr<const Bytes> reply;
    std::atomic<int> accepted{0};
    const std::uint16_t port = acceptor.local_endpoint().port();

    explicit FakeEpmd(Bytes answer) : reply(std::make_shared<const Bytes>(std::move(answer))) {
        asio::post(loop.io, [this] { accept(); });
    }
    ~FakeEpmd() {
        std::promise<void> closed;
        asio::post(loop.io, [&] {
            acceptor.close();
            closed.set_value();
        });
        closed.get_future().wait();
    }

  private:
    // On the loop's thread. The conversations hold what they use, not `this`.
    void accept() {
        acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
            if (ec) return;
            ++accepted;
            auto s = std::make_shared<tcp::socket>(std::move(socket));
            auto request = std::make_shared<std::array<std::uint8_t, 4096>>();
            // A request arrives in one piece on loopback; the fake does not need more of it.
            s->async_read_some(asio::buffer(*request), [s, request, r = reply](auto, std::size_t) {
                asio::async_write(*s, asio::buffer(*r), [s, r](auto, std::size_t) {
                    boost::system::error_code ignored;
                    s->shutdown(tcp::socket::shutdown_both, ignored);
                });
            });
            accept();
        });
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

TEST_CASE("a NAMES line whose name holds a space is skipped, as erl_epmd skips it") {
    // epmd registers "a b" and lists it; erl_epmd reads the name up to the first space, finds
    // "b at port 4001" where "at port " must be, and drops the line (net_adm:names omits it).
    auto names = codec::parse_names_reply(
        with_text(bytes({0, 0, 0xb0, 0x43}),
                  "name v5 at port 4000\nname a b at port 4001\nname zt2 at port 36569\n"));
    REQUIRE(names.has_value());
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
    // DUMP as OTP 25's epmd wrote it for one registered name and one that had left.
    const std::vector<codec::DumpEntry> active{{"v5", 4000, 7}}, unused{{"cr65", 5000, 5}};
    CHECK(codec::encode_dump_reply(45123, active, unused) ==
          with_text(with_text(bytes({0, 0, 0xb0, 0x43}),
                              "active name     <v5> at port 4000, fd = 7\n", bytes({0})),
                    "old/unused name <cr65>, port = 5000, fd = 5 \n", bytes({0})));
}

TEST_CASE("a node speaks version 6 when its range includes 6") {
    auto port_of = [](std::uint16_t highest, std::uint16_t lowest) {
        NodePort p;
        p.highest = highest;
        p.lowest = lowest;
        return p;
    };
    CHECK(port_of(6, 5).speaks_v6());  // OTP 25
    CHECK(port_of(6, 6).speaks_v6());
    CHECK(port_of(7, 5).speaks_v6());
    CHECK_FALSE(port_of(5, 5).speaks_v6());  // OTP 22 and older
    CHECK_FALSE(port_of(7, 7).speaks_v6());
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
    CHECK(code_of(bytes({0x0b, 0xf2})) == codec::CodecErrc::bad_length);  // 3058 > 3057
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
    // 3057 bytes is the most epmd takes: the length alone only asks for the rest.
    auto longest = codec::parse_request(bytes({0x0b, 0xf1}));
    REQUIRE(longest.has_value());
    CHECK_FALSE(longest->has_value());
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
    // Registrations are checked before anything is sent: epmd itself would take "a@b".
    Loop loop;
    EpmdServer server(loop.io, test_server_options());
    REQUIRE(server.start().has_value());
    EpmdClient client(loop.io, client_for(server.port()));
    for (const char* name : {"a@b", ""}) {
        Registered refused(client, name, 1);
        const auto outcome = refused.wait();
        REQUIRE_FALSE(outcome.has_value());
        CHECK(outcome.error().code == EpmdErrc::bad_name);
    }
    CHECK(server.names().empty());
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
        bytes({0, 1, 99}),                                             // unknown request
        bytes({0xff, 0xff, 120}),                                      // oversized length
        bytes({0, 0}),                                                 // zero length
        bytes({0, 13, 120, 0, 1, 77, 0, 0, 6, 0, 5, 0, 9, 'a', 'b'}),  // name past the packet
        with_text(bytes({0, 1, 110}), "junk"),                         // bytes after the request
        bytes({0, 3, 122, 0xc3, 0x28}),                                // not UTF-8
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

TEST_CASE("DUMP lists the registered names, then the names that left, as epmd does") {
    Loop loop;
    EpmdServer server(loop.io, test_server_options());
    REQUIRE(server.start().has_value());
    EpmdClient client(loop.io, client_for(server.port()));
    Registered node(client, "dumped", 7003);
    REQUIRE(node.wait().has_value());
    {
        Registered gone(client, "gone", 7004);
        REQUIRE(gone.wait().has_value());
    }
    eventually([&] { return !has_name(server, "gone"); });
    Raw dump(server.port());
    dump.send(codec::encode_request(codec::DumpRequest{}));
    const auto reply = dump.read_to_end();
    REQUIRE(reply.size() > 4);
    CHECK(Bytes(reply.begin(), reply.begin() + 4) ==
          bytes({0, 0, server.port() >> 8, server.port() & 0xff}));
    const std::string text(reply.begin() + 4, reply.end());
    const auto second = text.find('\0') + 1;
    CHECK(text.find("active name     <dumped> at port 7003, fd = ") == 0);
    CHECK(text.find("old/unused name <gone>, port = 7004, fd = ") == second);
    CHECK(text.substr(text.size() - 3) == std::string(" \n\0", 3));
}

TEST_CASE("a version-5-only node gets the 16-bit reply, with a creation in 1..3") {
    Loop loop;
    EpmdServer server(loop.io, test_server_options());
    REQUIRE(server.start().has_value());
    auto old = zt2();
    old.highest = old.lowest = 5;
    Raw node(server.port());
    node.send(codec::encode_request(codec::Alive2Request{old}));
    const auto reply = node.read_exactly(4);
    CHECK(reply[0] == codec::tag::alive2_resp);
    CHECK(reply[1] == 0);
    CHECK(reply[2] == 0);
    CHECK(reply[3] >= 1);
    CHECK(reply[3] <= 3);
    CHECK(has_name(server, "zt2"));
}

TEST_CASE("a refused registration gets epmd's bytes: result 1 and creation 99") {
    Loop loop;
    EpmdServer server(loop.io, test_server_options());
    REQUIRE(server.start().has_value());
    Raw holder(server.port());
    holder.send(codec::encode_request(codec::Alive2Request{zt2()}));
    CHECK(holder.read_exactly(6)[1] == 0);
    {
        Raw twin(server.port());
        twin.send(codec::encode_request(codec::Alive2Request{zt2()}));
        CHECK(twin.read_to_end() == bytes({118, 1, 0, 0, 0, 99}));
    }
    auto old = zt2();
    old.highest = old.lowest = 5;
    Raw old_twin(server.port());
    old_twin.send(codec::encode_request(codec::Alive2Request{old}));
    CHECK(old_twin.read_to_end() == bytes({121, 1, 0, 99}));
    CHECK(server.names() == std::vector<RegisteredName>{{"zt2", 36569}});
}

TEST_CASE("a second ALIVE2 on a registration socket ends that registration, as in epmd") {
    Loop loop;
    EpmdServer server(loop.io, test_server_options());
    REQUIRE(server.start().has_value());
    Raw node(server.port());
    node.send(codec::encode_request(codec::Alive2Request{zt2()}));
    CHECK(node.read_exactly(6)[1] == 0);
    auto other = zt2();
    other.name = "other";
    node.send(codec::encode_request(codec::Alive2Request{other}));
    CHECK(node.read_to_end().empty());
    eventually([&] { return server.names().empty(); });
}

TEST_CASE("the largest registration epmd takes registers, and its extra data comes back") {
    Loop loop;
    EpmdServer server(loop.io, test_server_options());
    REQUIRE(server.start().has_value());
    EpmdClient client(loop.io, client_for(server.port()));
    std::string name;
    for (int i = 0; i < 255; ++i)
        name += "\xf0\x9f\x98\x80";  // U+1F600: 255 characters in 1020 bytes
    NodeRegistration big;
    big.name = name;
    big.port = 7100;
    big.extra.assign(codec::max_extra_bytes, 0xab);
    std::promise<std::uint32_t> registered;
    RegistrationEvents events;
    events.registered = [&](std::uint32_t creation, unsigned) { registered.set_value(creation); };
    auto registration = client.register_node(big, events);
    auto done = registered.get_future();
    REQUIRE(done.wait_for(15s) == std::future_status::ready);

    auto found = epmd_port_please({"127.0.0.1", server.port()}, name);
    REQUIRE(found.has_value());
    CHECK(found->name == name);
    CHECK(found->extra == big.extra);

    // One more byte of extra data is refused before anything is sent.
    big.name = "bigger";
    big.extra.push_back(0);
    std::promise<EpmdError> refused;
    RegistrationEvents refusal;
    refusal.failed = [&](const EpmdError& e) { refused.set_value(e); };
    auto bigger = client.register_node(big, refusal);
    auto error = refused.get_future();
    REQUIRE(error.wait_for(15s) == std::future_status::ready);
    CHECK(error.get().code == EpmdErrc::bad_extra);
}

TEST_CASE("oversized names close the connection without a reply") {
    Loop loop;
    EpmdServer server(loop.io, test_server_options());
    REQUIRE(server.start().has_value());
    auto long_name = zt2();
    long_name.name = std::string(256, 'a');
    {
        Raw raw(server.port());
        raw.send(codec::encode_request(codec::Alive2Request{long_name}));
        CHECK(raw.read_to_end().empty());
    }
    {
        Raw raw(server.port());
        raw.send(codec::encode_request(codec::PortPlease2Request{std::string(256, 'a')}));
        CHECK(raw.read_to_end().empty());
    }
    {
        // A length above what epmd takes is refused from the two length bytes alone.
        Raw raw(server.port());
        raw.send(bytes({0x0b, 0xf2}));
        CHECK(raw.read_to_end().empty());
    }
    CHECK(server.names().empty());
}

TEST_CASE("a server listens on every address it is given, on one port") {
    Loop loop;
    auto options = test_server_options();
    options.addresses = {"127.0.0.1", "127.0.0.2"};
    EpmdServer server(loop.io, options);
    REQUIRE(server.start().has_value());
    EpmdClient client(loop.io, client_for(server.port()));
    Registered node(client, "both", 7200);
    REQUIRE(node.wait().has_value());
    for (const char* host : {"127.0.0.1", "127.0.0.2"}) {
        auto names = epmd_names({host, server.port()});
        REQUIRE(names.has_value());
        CHECK(*names == std::vector<RegisteredName>{{"both", 7200}});
    }
}

TEST_CASE("a server without addresses listens on IPv4 and IPv6, as epmd") {
    Loop loop;
    auto options = test_server_options();
    options.addresses = {};
    EpmdServer server(loop.io, options);
    REQUIRE(server.start().has_value());
    CHECK(server.addresses() == std::vector<std::string>{"0.0.0.0", "::"});
    EpmdClient client(loop.io, client_for(server.port()));
    Registered node(client, "either", 7300);
    REQUIRE(node.wait().has_value());
    for (const char* host : {"127.0.0.1", "::1"}) {
        auto names = epmd_names({host, server.port()});
        REQUIRE_MESSAGE(names.has_value(), host);
        CHECK(*names == std::vector<RegisteredName>{{"either", 7300}});
    }
}

TEST_CASE("starting a server twice, or after stop(), is a programmer error") {
    Loop loop;
    EpmdServer server(loop.io, test_server_options());
    REQUIRE(server.start().has_value());
    CHECK_THROWS_AS((void)server.start(), std::logic_error);
    EpmdServer stopped(loop.io, test_server_options());
    stopped.stop();
    CHECK_THROWS_AS((void)stopped.start(), std::logic_error);
}

TEST_CASE("no log line and no on_stopped once the server is destroyed") {
    Loop loop;
    auto destroyed = std::make_shared<std::atomic<bool>>(false);
    auto late = std::make_shared<std::atomic<int>>(0);
    auto options = test_server_options();
    options.log = [destroyed, late](const std::string&) {
        if (*destroyed) ++*late;
    };
    options.on_stopped = [destroyed, late] {
        if (*destroyed) ++*late;
    };
    auto server = std::make_unique<EpmdServer>(loop.io, options);
    REQUIRE(server->start().has_value());
    // Open connections make stop() close them, and log it, on the io_context's thread.
    std::vector<std::unique_ptr<Raw>> open;
    for (int i = 0; i < 4; ++i)
        open.push_back(std::make_unique<Raw>(server->port()));
    eventually([&] { return server->connections() == 4; });
    server.reset();
    *destroyed = true;
    for (auto& raw : open)
        CHECK(raw->read_to_end().empty());
    // Whatever the server had queued has run by now: a no-op posted after it runs after it.
    std::promise<void> drained;
    asio::post(loop.io, [&] { drained.set_value(); });
    drained.get_future().wait();
    CHECK(*late == 0);
}

TEST_CASE("a registration can be destroyed from inside its own callback") {
    Loop loop;
    EpmdServer server(loop.io, test_server_options());
    REQUIRE(server.start().has_value());
    EpmdClient client(loop.io, client_for(server.port()));
    Registered holder(client, "taken", 7300);
    REQUIRE(holder.wait().has_value());

    std::mutex mutex;
    std::unique_ptr<EpmdRegistration> twin;
    std::promise<EpmdErrc> outcome;
    RegistrationEvents events;
    events.failed = [&](const EpmdError& e) {
        std::lock_guard lock(mutex);
        twin.reset();
        outcome.set_value(e.code);
    };
    NodeRegistration node;
    node.name = "taken";
    node.port = 7301;
    {
        std::lock_guard lock(mutex);
        twin = client.register_node(node, events);
    }
    auto f = outcome.get_future();
    REQUIRE(f.wait_for(15s) == std::future_status::ready);
    CHECK(f.get() == EpmdErrc::name_taken);
}

TEST_CASE(
    "an EPMD that answers garbage gives malformed_reply; one that closes early, a lost "
    "connection") {
    {
        FakeEpmd http(with_text({}, "HTTP/1.1 400 Bad Request\r\n\r\n"));
        auto port = epmd_port_please({"127.0.0.1", http.port}, "x");
        REQUIRE_FALSE(port.has_value());
        CHECK(port.error().code == EpmdErrc::malformed_reply);
        // "HTTP" read as the port number is not the port asked, as erl_epmd checks.
        auto names = epmd_names({"127.0.0.1", http.port});
        REQUIRE_FALSE(names.has_value());
        CHECK(names.error().code == EpmdErrc::malformed_reply);
    }
    {
        FakeEpmd other_port(with_text(bytes({0, 0, 0x11, 0x11}), "name a at port 1\n"));
        auto names = epmd_names({"127.0.0.1", other_port.port});
        REQUIRE_FALSE(names.has_value());
        CHECK(names.error().code == EpmdErrc::malformed_reply);
    }
    {
        FakeEpmd short_names(bytes({0, 0}));
        auto names = epmd_names({"127.0.0.1", short_names.port});
        REQUIRE_FALSE(names.has_value());
        CHECK(names.error().code == EpmdErrc::malformed_reply);
    }
    {
        FakeEpmd silent(Bytes{});
        auto names = epmd_names({"127.0.0.1", silent.port});
        REQUIRE_FALSE(names.has_value());
        CHECK(names.error().code == EpmdErrc::connection_lost);
        auto port = epmd_port_please({"127.0.0.1", silent.port}, "x");
        REQUIRE_FALSE(port.has_value());
        CHECK(port.error().code == EpmdErrc::connection_lost);
    }
    {
        FakeEpmd half(bytes({119, 0, 0x1f}));  // a PORT2_RESP cut short
        auto port = epmd_port_please({"127.0.0.1", half.port}, "x");
        REQUIRE_FALSE(port.has_value());
        CHECK(port.error().code == EpmdErrc::connection_lost);
    }
}

TEST_CASE("registration retries a lost connection but not a malformed reply") {
    Loop loop;
    auto register_at = [&](std::uint16_t port) {
        auto options = client_for(port);
        options.register_retry = {3, 1ms, 1ms, 1.0, Jitter::none};
        EpmdClient client(loop.io, options);
        Registered node(client, "retried", 7400);
        return node.wait();
    };
    FakeEpmd garbage(with_text({}, "garbage"));
    const auto malformed = register_at(garbage.port);
    REQUIRE_FALSE(malformed.has_value());
    CHECK(malformed.error().code == EpmdErrc::malformed_reply);
    CHECK(garbage.accepted == 1);

    FakeEpmd closing(Bytes{});
    const auto lost = register_at(closing.port);
    REQUIRE_FALSE(lost.has_value());
    CHECK(lost.error().code == EpmdErrc::connection_lost);
    CHECK(closing.accepted == 3);
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
    CHECK(server.addresses == std::vector<std::string>{"10.1.2.3", "10.1.2.4", "127.0.0.1", "::1"});
    ::setenv("ERL_EPMD_PORT", "junk", 1);
    CHECK(EpmdEndpoint::from_environment().port == default_epmd_port);
    ::setenv("ERL_EPMD_ADDRESS", "127.0.0.1,10.1.2.3", 1);
    CHECK(EpmdServerOptions::from_environment().addresses ==
          std::vector<std::string>{"127.0.0.1", "10.1.2.3", "::1"});
    ::unsetenv("ERL_EPMD_PORT");
    ::unsetenv("ERL_EPMD_ADDRESS");
    CHECK(EpmdServerOptions::from_environment().addresses.empty());
}

TEST_CASE("server defaults are epmd's: port 4369 on every address, strict commands") {
    const EpmdServerOptions defaults;
    CHECK(defaults.port == 4369);
    CHECK(defaults.addresses.empty());
    CHECK_FALSE(defaults.relaxed);
    CHECK(EpmdServerOptions::loopback().addresses == std::vector<std::string>{"127.0.0.1"});
    CHECK(EpmdServerOptions::loopback().port == 4369);
    EpmdServerOptions listed;
    listed.add_loopback();
    CHECK(listed.addresses.empty());  // every address includes loopback already
    listed.addresses = {"10.0.0.1"};
    listed.add_loopback();
    // As epmd -address: both loopbacks, so that inet_tcp and inet6_tcp nodes can register.
    CHECK(listed.addresses == std::vector<std::string>{"10.0.0.1", "127.0.0.1", "::1"});
    listed.add_loopback();
    CHECK(listed.addresses.size() == 3);
}

// For the sanitizer build: every path of the server and the client at once, on an io_context
// that four threads run, ending with the server stopped under live registrations.
TEST_CASE("registrations, lookups, floods and a stop on an io_context run by four threads") {
    Loop loop(4);
    auto options = test_server_options();
    options.max_connections = 64;
    std::atomic<int> lines{0};
    options.log = [&](const std::string&) { ++lines; };
    auto server = std::make_unique<EpmdServer>(loop.io, options);
    REQUIRE(server->start().has_value());
    const auto port = server->port();
    EpmdClient client(loop.io, client_for(port));

    std::vector<std::thread> workers;
    std::atomic<int> registered{0}, found{0};
    for (int w = 0; w < 4; ++w) {
        workers.emplace_back([&, w] {
            for (int i = 0; i < 10; ++i) {
                const std::string name = "w" + std::to_string(w) + "_" + std::to_string(i);
                Registered node(client, name, static_cast<std::uint16_t>(9000 + w * 100 + i));
                if (node.wait().has_value()) ++registered;
                if (epmd_port_please({"127.0.0.1", port}, name).has_value()) ++found;
                Raw junk(port);
                junk.send(bytes({0, 1, 99}));
                (void)junk.read_to_end();
            }
        });
    }
    for (auto& t : workers)
        t.join();
    CHECK(registered == 40);
    CHECK(found == 40);
    eventually([&] { return server->names().empty(); });

    // Stopped and destroyed while registrations are live and their clients are re-registering.
    std::vector<std::unique_ptr<Registered>> live;
    for (int i = 0; i < 8; ++i) {
        live.push_back(std::make_unique<Registered>(client, "live" + std::to_string(i), 9500));
        REQUIRE(live.back()->wait().has_value());
    }
    server.reset();
    for (auto& node : live)
        eventually([&] { return node->lost > 0; });
    live.clear();
    CHECK(lines > 0);
}
