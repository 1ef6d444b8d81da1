// The encrypted transport between two of our nodes (docs/crypto.md): a Transport over another
// one (TCP) that seals what the session writes into records and opens what it reads, and the
// handshakes that set it up, the dialling side's and the accepting side's. The acceptor tells an
// encrypted connection from a BEAM's plaintext one by its first two bytes.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "crypto/hello.hpp"
#include "distribute/expected.hpp"
#include "net/transport.hpp"

namespace distribute::net {

// Runs on `inner`'s strand.
std::unique_ptr<Transport> make_secure_transport(std::unique_ptr<Transport> inner,
                                                 crypto::Channel channel);

using TransportReady = std::function<void(Expected<std::unique_ptr<Transport>, std::string>)>;

struct SecureDial {
    crypto::Key psk{};
    std::optional<crypto::KeyPair> local_static;
    std::optional<crypto::Key> remote_static;  // set: KKpsk0
    crypto::HelloOffer offer;                  // the cipher, as the peer's EPMD entry allows
    crypto::RekeyPolicy rekey;
    std::chrono::milliseconds timeout{7000};
};
// The initiator's handshake over `inner`; `done` once, on `io`, with the encrypted transport or
// why there is none (the peer closed: another cookie, a key it does not pin, encryption off).
void async_secure_dial(asio::io_context& io, std::unique_ptr<Transport> inner, SecureDial params,
                       TransportReady done);

struct AcceptPolicy {
    bool plaintext = true;  // a BEAM (or our node without encryption) may connect
    std::optional<crypto::ResponderPolicy> encrypted;  // unset: encrypted hellos are refused
    std::chrono::milliseconds timeout{7000};
};
// Reads the first two bytes of an accepted connection and goes on in plaintext (the bytes handed
// to the session) or as the responder of the encrypted handshake, as `policy` allows.
void async_secure_accept(asio::io_context& io, tcp::socket socket, AcceptPolicy policy,
                         TransportReady done);

}  // namespace distribute::net
