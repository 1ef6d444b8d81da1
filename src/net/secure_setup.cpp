// The handshakes that open an encrypted transport (secure_transport.hpp), each bounded by the
// setup timeout, every step on one strand.
#include <memory>

#include "net/secure_transport.hpp"

namespace distribute::net {

namespace {

struct Setup : std::enable_shared_from_this<Setup> {
    Setup(asio::io_context& io, Strand on, std::chrono::milliseconds timeout, TransportReady done)
        : io(io), strand(std::move(on)), timer(strand), timeout(timeout), done(std::move(done)) {}

    void arm() {
        timer.expires_after(timeout);
        timer.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
            if (!e)
                self->fail("no handshake within " + std::to_string(self->timeout.count()) + " ms");
        });
    }
    void fail(std::string why) {
        if (!done) return;
        timer.cancel();
        if (transport) transport->close();
        boost::system::error_code ignored;
        socket.close(ignored);
        auto callback = std::move(done);
        done = nullptr;
        callback(unexpected(std::move(why)));
    }
    void succeed(std::unique_ptr<Transport> ready) {
        if (!done) return;
        timer.cancel();
        auto callback = std::move(done);
        done = nullptr;
        callback(std::move(ready));
    }
    // `bytes` more bytes into `buffer` from the transport, then `next` (on the strand, where the
    // transport completes).
    template <class Next>
    void read_exactly(std::size_t bytes, std::string closed_means, Next next) {
        buffer.resize(bytes);
        read_from(0, std::move(closed_means), std::move(next));
    }
    template <class Next>
    void read_from(std::size_t at, std::string closed_means, Next next) {
        if (at == buffer.size()) return next();
        transport->async_read_some(
            std::span(buffer.data() + at, buffer.size() - at),
            [self = shared_from_this(), at, closed_means = std::move(closed_means),
             next = std::move(next)](const boost::system::error_code& e, std::size_t n) mutable {
                if (!self->done) return;
                if (e) return self->fail(closed_means + " (" + e.message() + ")");
                self->read_from(at + n, std::move(closed_means), std::move(next));
            });
    }
    template <class Next>
    void write(std::vector<std::uint8_t> bytes, Next next) {
        out = std::move(bytes);
        transport->async_write(out, [self = shared_from_this(), next = std::move(next)](
                                        const boost::system::error_code& e, std::size_t) mutable {
            if (!self->done) return;
            if (e) return self->fail("cannot send the encrypted handshake: " + e.message());
            next();
        });
    }

    asio::io_context& io;
    Strand strand;  // the transport's, once there is one
    asio::steady_timer timer;
    std::chrono::milliseconds timeout;
    TransportReady done;
    tcp::socket socket{io};  // accept: until the first bytes tell which transport
    std::unique_ptr<Transport> transport;
    std::vector<std::uint8_t> buffer;
    std::vector<std::uint8_t> out;
    std::unique_ptr<crypto::InitiatorHello> initiator;
    std::unique_ptr<crypto::ResponderHello> responder;
};

void respond(const std::shared_ptr<Setup>& setup) {
    const std::string closed = "the peer closed the connection within its encrypted hello";
    setup->read_exactly(crypto::hello_prefix_bytes - 2, closed, [setup, closed] {
        std::vector<std::uint8_t> prefix(crypto::hello_magic.begin(),
                                         crypto::hello_magic.begin() + 2);
        prefix.insert(prefix.end(), setup->buffer.begin(), setup->buffer.end());
        auto rest = setup->responder->rest_bytes(prefix);
        if (!rest) return setup->fail(rest.error().detail);
        setup->read_exactly(*rest, closed, [setup] {
            auto answer = setup->responder->answer(setup->buffer);
            if (!answer) return setup->fail(answer.error().detail);
            auto channel = std::make_shared<crypto::Channel>(std::move(answer->second));
            setup->write(std::move(answer->first), [setup, channel] {
                setup->succeed(
                    make_secure_transport(std::move(setup->transport), std::move(*channel)));
            });
        });
    });
}

}  // namespace

void async_secure_dial(asio::io_context& io, std::unique_ptr<Transport> inner, SecureDial params,
                       TransportReady done) {
    auto setup = std::make_shared<Setup>(io, inner->strand(), params.timeout, std::move(done));
    setup->transport = std::move(inner);
    setup->initiator = std::make_unique<crypto::InitiatorHello>(
        params.psk, params.local_static, params.remote_static, params.rekey, params.offer);
    asio::dispatch(setup->strand, [setup] {
        setup->arm();
        setup->write(setup->initiator->hello(), [setup] {
            setup->read_exactly(
                crypto::reply_bytes,
                "the peer closed the connection on our encrypted hello: another cookie, a key it "
                "does not pin, a cipher it does not offer, or encryption off there",
                [setup] {
                    auto channel = setup->initiator->finish(setup->buffer);
                    if (!channel) return setup->fail(channel.error().detail);
                    setup->succeed(
                        make_secure_transport(std::move(setup->transport), std::move(*channel)));
                });
        });
    });
}

void async_secure_accept(asio::io_context& io, tcp::socket socket, AcceptPolicy policy,
                         TransportReady done) {
    auto setup =
        std::make_shared<Setup>(io, asio::make_strand(io), policy.timeout, std::move(done));
    setup->socket = std::move(socket);
    if (policy.encrypted)
        setup->responder = std::make_unique<crypto::ResponderHello>(std::move(*policy.encrypted));
    const bool plaintext = policy.plaintext;
    asio::dispatch(setup->strand, [setup, plaintext] {
        setup->arm();
        setup->buffer.resize(2);
        asio::async_read(
            setup->socket, asio::buffer(setup->buffer),
            asio::bind_executor(
                setup->strand, [setup, plaintext](const boost::system::error_code& e, std::size_t) {
                    if (!setup->done) return;
                    if (e)
                        return setup->fail("closed before its first bytes (" + e.message() + ")");
                    const bool encrypted =
                        crypto::starts_encrypted(setup->buffer[0], setup->buffer[1]);
                    if (!encrypted && !plaintext)
                        return setup->fail(
                            "a plaintext connection (a BEAM node, or ours without encryption), and "
                            "this node requires encryption (crypto require)");
                    if (!encrypted)
                        return setup->succeed(make_tcp_transport(
                            setup->strand, std::move(setup->socket), std::move(setup->buffer)));
                    if (!setup->responder)
                        return setup->fail(
                            "an encrypted connection, and encryption is off on this node");
                    setup->transport = make_tcp_transport(setup->strand, std::move(setup->socket));
                    respond(setup);
                }));
    });
}

}  // namespace distribute::net
