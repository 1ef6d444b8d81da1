#include "net/secure_transport.hpp"

#include <algorithm>
#include <cstring>

namespace distribute::net {

namespace {

// Ciphertext read at once: two whole records and their headers fit.
constexpr std::size_t cipher_room = 2 * (crypto::max_record_bytes + crypto::record_header_bytes);

class SecureTransport final : public Transport {
  public:
    SecureTransport(asio::io_context& io, std::unique_ptr<Transport> inner, crypto::Channel channel)
        : io_(io),
          inner_(std::move(inner)),
          sealer_(std::move(channel.sealer)),
          opener_(std::move(channel.opener)),
          security_("encrypted (" + crypto::protocol_name(channel.pattern) + ")"),
          peer_key_(channel.peer_static),
          cipher_(cipher_room) {}

    void async_read_some(std::span<std::uint8_t> into, Handler done) override {
        if (plain_begin_ < plain_.size()) {
            const std::size_t n = take(into);
            asio::post(io_, [done = std::move(done), n] { done({}, n); });
            return;
        }
        read_records(into, std::move(done));
    }

    void async_write(std::span<const std::uint8_t> bytes, Handler done) override {
        async_write_parts(std::span<const std::span<const std::uint8_t>>(&bytes, 1),
                          std::move(done));
    }
    // Each part sealed in turn into the one ciphertext buffer: the plaintext is not gathered
    // first.
    void async_write_parts(std::span<const std::span<const std::uint8_t>> parts,
                           Handler done) override {
        sealed_.clear();
        std::size_t n = 0;
        for (auto part : parts) {
            n += part.size();
            if (!sealer_.seal(part, sealed_, std::chrono::steady_clock::now())) {
                asio::post(io_, [done = std::move(done)] {
                    done(asio::error::message_size, 0);  // the nonce space is used up
                });
                return;
            }
        }
        inner_->async_write(sealed_, [done = std::move(done), n](const boost::system::error_code& e,
                                                                 std::size_t) { done(e, n); });
    }

    void close() override { inner_->close(); }
    std::string peer_address() const override { return inner_->peer_address(); }
    std::string integrity_failure() const override { return failure_; }
    std::string security() const override { return security_; }
    std::optional<std::array<std::uint8_t, 32>> peer_key() const override { return peer_key_; }

  private:
    std::size_t take(std::span<std::uint8_t> into) {
        const std::size_t n = std::min(into.size(), plain_.size() - plain_begin_);
        std::memcpy(into.data(), plain_.data() + plain_begin_, n);
        plain_begin_ += n;
        if (plain_begin_ == plain_.size()) {
            plain_.clear();
            plain_begin_ = 0;
        }
        return n;
    }

    // Reads ciphertext until at least one record opens, then hands over what it carried.
    void read_records(std::span<std::uint8_t> into, Handler done) {
        if (cipher_begin_ > 0) {  // keep the partial record at the front
            std::memmove(cipher_.data(), cipher_.data() + cipher_begin_,
                         cipher_end_ - cipher_begin_);
            cipher_end_ -= cipher_begin_;
            cipher_begin_ = 0;
        }
        inner_->async_read_some(
            std::span(cipher_.data() + cipher_end_, cipher_.size() - cipher_end_),
            [this, into, done = std::move(done)](const boost::system::error_code& e,
                                                 std::size_t n) mutable {
                if (e) {
                    if (cipher_end_ > cipher_begin_)
                        failure_ =
                            "the connection closed in the middle of an encrypted record "
                            "(cut short)";
                    return done(e, 0);
                }
                cipher_end_ += n;
                auto opened = opener_.open(
                    std::span(cipher_.data() + cipher_begin_, cipher_end_ - cipher_begin_), plain_);
                cipher_begin_ += opened.used;
                if (cipher_begin_ == cipher_end_) cipher_begin_ = cipher_end_ = 0;
                if (opened.failed) {
                    failure_ = opened.why;
                    return done(asio::error::connection_aborted, 0);
                }
                if (plain_begin_ == plain_.size()) return read_records(into, std::move(done));
                done({}, take(into));
            });
    }

    asio::io_context& io_;
    std::unique_ptr<Transport> inner_;
    crypto::RecordSealer sealer_;  // under the session's output lock
    crypto::RecordOpener opener_;  // by the one read in flight
    std::string security_;
    std::optional<crypto::Key> peer_key_;
    std::vector<std::uint8_t> sealed_;  // owned by the write in flight
    std::vector<std::uint8_t> cipher_;
    std::size_t cipher_begin_ = 0;
    std::size_t cipher_end_ = 0;
    std::vector<std::uint8_t> plain_;
    std::size_t plain_begin_ = 0;
    std::string failure_;
};

}  // namespace

std::unique_ptr<Transport> make_secure_transport(asio::io_context& io,
                                                 std::unique_ptr<Transport> inner,
                                                 crypto::Channel channel) {
    return std::make_unique<SecureTransport>(io, std::move(inner), std::move(channel));
}

}  // namespace distribute::net
