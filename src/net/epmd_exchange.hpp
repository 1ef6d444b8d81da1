// One EPMD conversation: resolve, connect, send a request, read until the reply is complete, all
// under one deadline. The caller's parser says when the reply is complete; the socket is handed
// back at the end, so a registration can keep it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "distribute/epmd.hpp"
#include "net/asio.hpp"

namespace distribute::net {

struct ExchangeStep {
    enum Kind { more, done, failed };
    Kind kind = more;
    EpmdError error;  // when failed

    static ExchangeStep need_more() { return {}; }
    static ExchangeStep complete() { return {done, {}}; }
    static ExchangeStep fail(EpmdErrc code, std::string detail) {
        return {failed, {code, std::move(detail)}};
    }
};

// Called with everything received so far; `closed` is true once EPMD closed the connection.
using ExchangeParser =
    std::function<ExchangeStep(std::span<const std::uint8_t> received, bool closed)>;
// Called once, on the exchange's strand: the error (if any) and the socket, still open on success.
using ExchangeFinish = std::function<void(std::optional<EpmdError> error, tcp::socket socket)>;

// Starts the exchange on `io`; it keeps itself alive until it finishes.
void start_exchange(asio::io_context& io, const EpmdEndpoint& at, std::vector<std::uint8_t> request,
                    std::chrono::milliseconds timeout, ExchangeParser parser,
                    ExchangeFinish finish);

}  // namespace distribute::net
