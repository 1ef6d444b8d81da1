// The EPMD client: lookups, name lists and their blocking forms.
#include <cstdlib>
#include <string_view>

#include "distribute/epmd.hpp"
#include "net/asio.hpp"
#include "net/epmd_exchange.hpp"
#include "wire/epmd_codec.hpp"

namespace distribute {

namespace asio = net::asio;
namespace codec = wire::epmd;
using net::ExchangeStep;

namespace {

std::string describe(const codec::CodecError& e) {
    return codec::make_error_code(e.code).message() + " at byte " + std::to_string(e.offset);
}

NodePort to_node_port(codec::NodeRecord&& r) {
    return {std::move(r.name), r.port,    static_cast<NodeType>(r.node_type),
            r.protocol,        r.highest, r.lowest,
            std::move(r.extra)};
}

// Runs `start` (which starts async work on the io_context and stores its result) to completion.
template <class T>
Expected<T, EpmdError> run_blocking(
    const std::function<void(asio::io_context&, std::function<void(Expected<T, EpmdError>)>)>&
        start) {
    asio::io_context io;
    std::optional<Expected<T, EpmdError>> out;
    start(io, [&out](Expected<T, EpmdError> r) { out.emplace(std::move(r)); });
    io.run();
    if (!out) return unexpected(EpmdError{EpmdErrc::cancelled, "the request never completed"});
    return std::move(*out);
}

}  // namespace

EpmdClient::EpmdClient(asio::io_context& io, EpmdClientOptions options)
    : io_(io), options_(std::move(options)) {}

void EpmdClient::async_port_please(const EpmdEndpoint& at, std::string name,
                                   std::function<void(Expected<NodePort, EpmdError>)> done) {
    if (!codec::valid_name(name) || name.find('@') != std::string::npos) {
        asio::post(io_, [done = std::move(done), name] {
            done(unexpected(EpmdError{EpmdErrc::bad_name, name}));
        });
        return;
    }
    auto result = std::make_shared<std::optional<NodePort>>();
    auto parser = [result, name](std::span<const std::uint8_t> bytes, bool) -> ExchangeStep {
        auto parsed = codec::parse_port2_reply(bytes);
        if (!parsed) return ExchangeStep::fail(EpmdErrc::malformed_reply, describe(parsed.error()));
        if (!*parsed) return ExchangeStep::need_more();
        auto& node = (*parsed)->value;
        if (!node) return ExchangeStep::fail(EpmdErrc::not_found, name);
        *result = to_node_port(std::move(*node));
        return ExchangeStep::complete();
    };
    net::start_exchange(
        io_, at, codec::encode_request(codec::PortPlease2Request{name}), options_.timeout,
        std::move(parser),
        [result, done = std::move(done)](std::optional<EpmdError> error, net::tcp::socket) {
            if (error) return done(unexpected(std::move(*error)));
            done(std::move(**result));
        });
}

void EpmdClient::async_names(
    const EpmdEndpoint& at,
    std::function<void(Expected<std::vector<RegisteredName>, EpmdError>)> done) {
    auto result = std::make_shared<std::vector<RegisteredName>>();
    // The reply ends when EPMD closes the connection. Closed before a single byte is a lost
    // connection, not a malformed reply: it is what a server at its connection limit does. The
    // reply states the EPMD's own port first; as erl_epmd does, one that is not the port asked is
    // refused, which tells something else listening there from an EPMD.
    auto parser = [result, asked = at.port](std::span<const std::uint8_t> bytes,
                                            bool closed) -> ExchangeStep {
        if (!closed) return ExchangeStep::need_more();
        if (bytes.empty())
            return ExchangeStep::fail(EpmdErrc::connection_lost, "EPMD closed before the reply");
        auto parsed = codec::parse_names_reply(bytes);
        if (!parsed) return ExchangeStep::fail(EpmdErrc::malformed_reply, describe(parsed.error()));
        if (parsed->epmd_port != asked)
            return ExchangeStep::fail(EpmdErrc::malformed_reply,
                                      "the reply names port " + std::to_string(parsed->epmd_port));
        for (auto& n : parsed->names)
            result->push_back({std::move(n.name), n.port});
        return ExchangeStep::complete();
    };
    net::start_exchange(
        io_, at, codec::encode_request(codec::NamesRequest{}), options_.timeout, std::move(parser),
        [result, done = std::move(done)](std::optional<EpmdError> error, net::tcp::socket) {
            if (error) return done(unexpected(std::move(*error)));
            done(std::move(*result));
        });
}

Expected<NodePort, EpmdError> epmd_port_please(const EpmdEndpoint& at, std::string name,
                                               std::chrono::milliseconds timeout) {
    return run_blocking<NodePort>([&](asio::io_context& io, auto done) {
        EpmdClientOptions options;
        options.timeout = timeout;
        EpmdClient(io, options).async_port_please(at, std::move(name), std::move(done));
    });
}

Expected<std::vector<RegisteredName>, EpmdError> epmd_names(const EpmdEndpoint& at,
                                                            std::chrono::milliseconds timeout) {
    return run_blocking<std::vector<RegisteredName>>([&](asio::io_context& io, auto done) {
        EpmdClientOptions options;
        options.timeout = timeout;
        EpmdClient(io, options).async_names(at, std::move(done));
    });
}

}  // namespace distribute
