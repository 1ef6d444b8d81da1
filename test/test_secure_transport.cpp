// The encrypted transport over real loopback sockets, both ends ours: a program thread's direct
// write (write_now) seals everything it is given and leaves what the socket did not take for the
// next write, records reach a reader whatever the size of the buffer it reads into, and two nodes
// in require mode take sends from several program threads at once (sealed by whichever thread
// writes; run under ThreadSanitizer too).
#include <doctest/doctest.h>

#include <memory>
#include <thread>
#include <vector>

#include "crypto/hello.hpp"
#include "net/secure_transport.hpp"
#include "node_support.hpp"

using namespace distribute;
using namespace distribute::net;
using namespace distribute::testing;

namespace {

// Both ends of one NNpsk0 handshake, done in memory.
std::pair<crypto::Channel, crypto::Channel> channels() {
    crypto::Key psk{};
    psk[0] = 7;
    crypto::InitiatorHello initiator(psk, std::nullopt, std::nullopt, {}, {});
    crypto::ResponderHello responder(
        crypto::ResponderPolicy{psk, std::nullopt, nullptr, {}, false});
    const auto hello = initiator.hello();
    REQUIRE(responder.rest_bytes(std::span(hello).first(crypto::hello_prefix_bytes)));
    auto answer = responder.answer(std::span(hello).subspan(crypto::hello_prefix_bytes));
    REQUIRE(answer.has_value());
    auto channel = initiator.finish(answer->first);
    REQUIRE(channel.has_value());
    return {std::move(*channel), std::move(answer->second)};
}

// A connected pair of loopback sockets with small kernel buffers, so that a few hundred KB fill
// them.
std::pair<tcp::socket, tcp::socket> socket_pair(asio::io_context& io) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    tcp::socket dialled(io), accepted(io);
    dialled.open(tcp::v4());
    dialled.set_option(asio::socket_base::send_buffer_size(16 * 1024));
    dialled.connect(acceptor.local_endpoint());
    acceptor.accept(accepted);
    accepted.set_option(asio::socket_base::receive_buffer_size(16 * 1024));
    return {std::move(dialled), std::move(accepted)};
}

// Both ends of one encrypted connection over such a pair: the dialled end seals with the
// initiator's keys, the accepted end opens with the responder's.
std::pair<std::unique_ptr<Transport>, std::unique_ptr<Transport>> secure_pair(
    asio::io_context& io) {
    auto [dialled, accepted] = socket_pair(io);
    auto [mine, theirs] = channels();
    return {make_secure_transport(make_tcp_transport(asio::make_strand(io), std::move(dialled)),
                                  std::move(mine)),
            make_secure_transport(make_tcp_transport(asio::make_strand(io), std::move(accepted)),
                                  std::move(theirs))};
}

// Reads from `transport` until `want` bytes have arrived, alternating a buffer too small for a
// whole record with one that takes several.
void read_all(Transport& transport, std::vector<std::uint8_t>& got, std::size_t want) {
    static std::vector<std::uint8_t> room(200'000);
    static unsigned reads = 0;
    const std::size_t size = ++reads % 2 == 0 ? 1000 : room.size();
    transport.async_read_some(
        std::span(room).first(size),
        [&transport, &got, want](const boost::system::error_code& e, std::size_t n) {
            REQUIRE_FALSE(e);
            got.insert(got.end(), room.begin(), room.begin() + static_cast<std::ptrdiff_t>(n));
            if (got.size() < want) read_all(transport, got, want);
        });
}

}  // namespace

TEST_SUITE("crypto_transport") {
    TEST_CASE(
        "write_now seals all it is given; what the socket did not take goes out first with the "
        "next write") {
        asio::io_context io;
        auto [sender, receiver] = secure_pair(io);
        std::vector<std::uint8_t> first(3'000'000), second(100'000);
        for (std::size_t i = 0; i < first.size(); ++i)
            first[i] = static_cast<std::uint8_t>(i * 29 + i / 7000);
        for (std::size_t i = 0; i < second.size(); ++i)
            second[i] = static_cast<std::uint8_t>(i * 3);

        // More than the socket buffers take: all taken, the rest held.
        CHECK(sender->write_now(first) == first.size());
        CHECK_FALSE(sender->flushed());
        bool wrote = false;
        // The held ciphertext goes out before the next write's, with no plaintext lost between.
        sender->async_write(second, [&](const boost::system::error_code& e, std::size_t n) {
            CHECK_FALSE(e);
            CHECK(n == second.size());
            wrote = true;
        });
        std::vector<std::uint8_t> got;
        read_all(*receiver, got, first.size() + second.size());
        io.run();
        CHECK(wrote);
        CHECK(sender->flushed());
        REQUIRE(got.size() == first.size() + second.size());
        CHECK(std::equal(first.begin(), first.end(), got.begin()));
        CHECK(std::equal(second.begin(), second.end(), got.begin() + first.size()));
    }

    TEST_CASE("write_now with nothing held is flushed once the socket took it all") {
        asio::io_context io;
        auto [sender, receiver] = secure_pair(io);
        const std::vector<std::uint8_t> small = {'p', 'i', 'n', 'g'};
        CHECK(sender->write_now(small) == small.size());
        CHECK(sender->flushed());
        std::vector<std::uint8_t> got;
        read_all(*receiver, got, small.size());
        io.run();
        CHECK(got == small);
    }

    TEST_CASE(
        "two nodes in require mode: program threads send at once, small and fragmented "
        "messages, and each sender's arrive in order") {
        const auto epmd_port = free_port();
        auto options_a = hidden_node_options(epmd_port, "enc_a", EpmdMode::embedded);
        auto options_b = hidden_node_options(epmd_port, "enc_b");
        options_a.crypto.mode = options_b.crypto.mode = CryptoMode::require;
        Node a = start_node(std::move(options_a));
        Node b = start_node(std::move(options_b));
        Mailbox sink = b.open_mailbox();
        constexpr int senders = 4, each = 200;
        std::vector<std::thread> threads;
        for (int s = 0; s < senders; ++s)
            threads.emplace_back([&a, &sink, s] {
                Mailbox me = a.open_mailbox();
                // Over 64 KiB: it goes out in fragments, in its sender's lane.
                const std::vector<std::uint8_t> big(100'000, static_cast<std::uint8_t>(s));
                for (int i = 0; i < each; ++i)
                    me.send(sink.pid(),
                            tuple(Term(s), Term(i), i % 10 == 0 ? binary(big) : Term(i)));
            });
        for (auto& thread : threads)
            thread.join();
        std::vector<std::int64_t> next(senders, 0);
        for (int n = 0; n < senders * each; ++n) {
            const Term m = next_message(sink);
            REQUIRE(m.is_tuple(3));
            const auto s = m[0].to<std::int64_t>().value();
            REQUIRE((s >= 0 && s < senders));
            CHECK(m[1].to<std::int64_t>() == next[s]);
            if (next[s] % 10 == 0) CHECK(m[2].bytes().size() == 100'000);
            ++next[s];
        }
        CHECK(a.stats().bad_frames == 0);
        CHECK(b.stats().bad_frames == 0);
    }
}
