#include "net/secure_transport.hpp"

#include <algorithm>
#include <cstring>

namespace distribute::net {

namespace {

// Ciphertext read at once: two whole records and their headers fit.
constexpr std::size_t cipher_room = 2 * (crypto::max_record_bytes + crypto::record_header_bytes);
// A ciphertext buffer that grew past this for one huge write is given back afterwards.
constexpr std::size_t kept_sealed_capacity = 4 * 1024 * 1024;

class SecureTransport final : public Transport {
  public:
    SecureTransport(std::unique_ptr<Transport> inner, crypto::Channel channel)
        : inner_(std::move(inner)),
          sealer_(std::move(channel.sealer)),
          opener_(std::move(channel.opener)),
          security_("encrypted (" + crypto::protocol_name(channel.pattern, channel.cipher) + ")"),
          peer_key_(channel.peer_static),
          cipher_(cipher_room),
          plain_(crypto::max_record_data + 1) {}

    // Records already read are opened straight into `into` (a record whose data does not fit
    // goes through plain_); the socket is read only when none is complete.
    void async_read_some(std::span<std::uint8_t> into, Handler done) override {
        std::size_t n = take(into);
        if (n == 0) {
            const auto opened = open_buffered(into);
            if (opened.failed) {
                failure_ = opened.why;
                return asio::post(strand(), [done = std::move(done)] {
                    done(asio::error::connection_aborted, 0);
                });
            }
            n = opened.produced;
        }
        if (n > 0) return asio::post(strand(), [done = std::move(done), n] { done({}, n); });
        read_records(into, std::move(done));
    }

    void async_write(std::span<const std::uint8_t> bytes, Handler done) override {
        async_write_parts(std::span<const std::span<const std::uint8_t>>(&bytes, 1),
                          std::move(done));
    }
    // The parts sealed together into full records, after what write_now left unsent.
    void async_write_parts(std::span<const std::span<const std::uint8_t>> parts,
                           Handler done) override {
        std::size_t n = 0;
        for (auto part : parts)
            n += part.size();
        if (!seal(parts, n)) {
            return asio::post(strand(), [done = std::move(done)] {
                done(asio::error::message_size, 0);  // the nonce space is used up
            });
        }
        inner_->async_write(
            std::span<const std::uint8_t>(sealed_.data() + unsent_, sealed_end_ - unsent_),
            [this, done = std::move(done), n](const boost::system::error_code& e, std::size_t) {
                unsent_ = sealed_end_ = 0;
                if (sealed_.size() > kept_sealed_capacity)
                    std::vector<std::uint8_t>().swap(sealed_);
                done(e, n);
            });
    }
    // Seals every byte and writes what the socket takes; the rest waits in sealed_ for the next
    // async_write (flushed() says so). Records cannot be unsealed: their nonces are spent.
    std::size_t write_now(std::span<const std::uint8_t> bytes) override {
        if (!seal(std::span<const std::span<const std::uint8_t>>(&bytes, 1), bytes.size()))
            return 0;  // the async_write that follows fails the same way and reports it
        unsent_ += inner_->write_now(
            std::span<const std::uint8_t>(sealed_.data() + unsent_, sealed_end_ - unsent_));
        if (unsent_ == sealed_end_) unsent_ = sealed_end_ = 0;
        return bytes.size();
    }
    bool flushed() const override { return unsent_ == sealed_end_; }

    Strand strand() const override { return inner_->strand(); }

    // A whole record's data and its type byte (the type is written over by the next record).
    std::size_t read_unit() const override { return crypto::max_record_data + 1; }
    void close() override { inner_->close(); }
    std::string peer_address() const override { return inner_->peer_address(); }
    std::string integrity_failure() const override { return failure_; }
    std::string security() const override { return security_; }
    std::optional<std::array<std::uint8_t, 32>> peer_key() const override { return peer_key_; }

  private:
    // Appends the records of `parts` (`n` bytes) to sealed_, which grows only as far as the
    // largest write needs (its new bytes are overwritten, so growing once is all it costs).
    bool seal(std::span<const std::span<const std::uint8_t>> parts, std::size_t n) {
        const std::size_t needed = sealed_end_ + crypto::RecordSealer::max_sealed_size(n);
        if (sealed_.size() < needed) sealed_.resize(needed);
        auto written =
            sealer_.seal(parts, sealed_.data() + sealed_end_, std::chrono::steady_clock::now());
        if (!written) return false;
        sealed_end_ += *written;
        return true;
    }

    std::size_t take(std::span<std::uint8_t> into) {
        const std::size_t n = std::min(into.size(), plain_end_ - plain_begin_);
        std::memcpy(into.data(), plain_.data() + plain_begin_, n);
        plain_begin_ += n;
        if (plain_begin_ == plain_end_) plain_begin_ = plain_end_ = 0;
        return n;
    }

    // Opens the complete records buffered in cipher_ into `into`, or, when the first one's data
    // does not fit there, into plain_ and from there as much as fits.
    crypto::RecordOpener::Opened open_buffered(std::span<std::uint8_t> into) {
        auto ciphertext = std::span<const std::uint8_t>(cipher_.data() + cipher_begin_,
                                                        cipher_end_ - cipher_begin_);
        auto opened = opener_.open(ciphertext, into);
        if (opened.blocked && opened.produced == 0) {
            const std::size_t used = opened.used;  // rekey records before it
            opened = opener_.open(ciphertext.subspan(used), plain_);
            opened.used += used;
            plain_end_ = opened.produced;
            opened.produced = take(into);
        }
        cipher_begin_ += opened.used;
        if (cipher_begin_ == cipher_end_) cipher_begin_ = cipher_end_ = 0;
        return opened;
    }

    // Reads ciphertext until at least one record opens, then hands over what it carried.
    void read_records(std::span<std::uint8_t> into, Handler done) {
        if (cipher_begin_ > 0 && cipher_.size() - cipher_end_ < crypto::max_record_bytes) {
            // The partial record moves to the front when a whole one might not fit after it.
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
                const auto opened = open_buffered(into);
                if (opened.failed) {
                    failure_ = opened.why;
                    return done(asio::error::connection_aborted, 0);
                }
                if (opened.produced == 0) return read_records(into, std::move(done));
                done({}, opened.produced);
            });
    }

    std::unique_ptr<Transport> inner_;
    // Both used by the write in flight, or by write_now under the session's output lock while
    // none is.
    crypto::RecordSealer sealer_;
    std::vector<std::uint8_t> sealed_;  // [unsent_, sealed_end_) not yet on the wire
    std::size_t unsent_ = 0;
    std::size_t sealed_end_ = 0;
    crypto::RecordOpener opener_;  // by the one read in flight
    std::string security_;
    std::optional<crypto::Key> peer_key_;
    std::vector<std::uint8_t> cipher_;  // [cipher_begin_, cipher_end_) read, not yet opened
    std::size_t cipher_begin_ = 0;
    std::size_t cipher_end_ = 0;
    // One record's data (and type byte), for a record whose data does not fit where the session
    // reads into; [plain_begin_, plain_end_) not yet handed over.
    std::vector<std::uint8_t> plain_;
    std::size_t plain_begin_ = 0;
    std::size_t plain_end_ = 0;
    std::string failure_;
};

}  // namespace

std::unique_ptr<Transport> make_secure_transport(std::unique_ptr<Transport> inner,
                                                 crypto::Channel channel) {
    return std::make_unique<SecureTransport>(std::move(inner), std::move(channel));
}

}  // namespace distribute::net
