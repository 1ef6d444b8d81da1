// One request and its reply, with a deadline over the whole conversation.
#include "net/epmd_exchange.hpp"
#include "net/close_on_exec.hpp"

#include <array>

namespace distribute::net {
namespace {

// EPMD replies are small; a NAMES reply of many nodes is the largest and still far below this.
constexpr std::size_t max_reply_bytes = 1 << 20;

class Exchange : public std::enable_shared_from_this<Exchange> {
  public:
    Exchange(asio::io_context& io, std::vector<std::uint8_t> request, ExchangeParser parser,
             ExchangeFinish finish)
        : strand_(asio::make_strand(io)),
          resolver_(strand_),
          socket_(strand_),
          timer_(strand_),
          request_(std::move(request)),
          parser_(std::move(parser)),
          finish_(std::move(finish)) {}

    void start(const EpmdEndpoint& at, std::chrono::milliseconds timeout) {
        asio::dispatch(strand_, [self = shared_from_this(), at, timeout] {
            self->timer_.expires_after(timeout);
            self->timer_.async_wait([self](boost::system::error_code ec) {
                if (!ec) self->fail(EpmdErrc::timed_out, "no complete reply in time");
            });
            self->resolver_.async_resolve(
                at.host, std::to_string(at.port),
                [self, at](boost::system::error_code ec, tcp::resolver::results_type results) {
                    if (self->finished_) return;
                    if (ec) return self->fail(EpmdErrc::unreachable, at.host + ": " + ec.message());
                    self->connect(results, at);
                });
        });
    }

  private:
    void connect(const tcp::resolver::results_type& results, const EpmdEndpoint& at) {
        asio::async_connect(
            socket_, results,
            [self = shared_from_this(), at](boost::system::error_code ec, const tcp::endpoint&) {
                if (self->finished_) return;
                if (ec)
                    return self->fail(
                        EpmdErrc::unreachable,
                        at.host + ":" + std::to_string(at.port) + ": " + ec.message());
                close_on_exec(self->socket_.native_handle());
                self->send();
            });
    }

    void send() {
        asio::async_write(socket_, asio::buffer(request_),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                              if (self->finished_) return;
                              if (ec) return self->fail(EpmdErrc::connection_lost, ec.message());
                              self->read();
                          });
    }

    void read() {
        socket_.async_read_some(
            asio::buffer(chunk_),
            [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                if (self->finished_) return;
                const bool closed = ec == asio::error::eof;
                if (ec && !closed) return self->fail(EpmdErrc::connection_lost, ec.message());
                self->received_.insert(self->received_.end(), self->chunk_.begin(),
                                       self->chunk_.begin() + static_cast<std::ptrdiff_t>(n));
                if (self->received_.size() > max_reply_bytes)
                    return self->fail(EpmdErrc::malformed_reply, "reply too large");
                const auto step = self->parser_(self->received_, closed);
                if (step.kind == ExchangeStep::failed) return self->fail(step.error);
                if (step.kind == ExchangeStep::done) return self->succeed();
                if (closed)
                    return self->fail(EpmdErrc::connection_lost, "EPMD closed before the reply");
                self->read();
            });
    }

    void fail(EpmdErrc code, std::string detail) { fail(EpmdError{code, std::move(detail)}); }
    void fail(EpmdError error) {
        if (std::exchange(finished_, true)) return;
        boost::system::error_code ignored;
        timer_.cancel();
        resolver_.cancel();
        socket_.close(ignored);
        finish_(std::move(error), std::move(socket_));
    }
    void succeed() {
        if (std::exchange(finished_, true)) return;
        timer_.cancel();
        finish_(std::nullopt, std::move(socket_));
    }

    asio::strand<asio::io_context::executor_type> strand_;
    tcp::resolver resolver_;
    tcp::socket socket_;
    asio::steady_timer timer_;
    std::vector<std::uint8_t> request_;
    ExchangeParser parser_;
    ExchangeFinish finish_;
    std::array<std::uint8_t, 4096> chunk_{};
    std::vector<std::uint8_t> received_;
    bool finished_ = false;
};

}  // namespace

void start_exchange(asio::io_context& io, const EpmdEndpoint& at, std::vector<std::uint8_t> request,
                    std::chrono::milliseconds timeout, ExchangeParser parser,
                    ExchangeFinish finish) {
    auto exchange =
        std::make_shared<Exchange>(io, std::move(request), std::move(parser), std::move(finish));
    exchange->start(at, timeout);
}

}  // namespace distribute::net
