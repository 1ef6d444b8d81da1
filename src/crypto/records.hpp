// The encrypted record layer under the distribution protocol: a byte stream cut into records of
// at most 65535 bytes (2-byte length, then ChaCha20-Poly1305 ciphertext with the length as
// associated data), one counter nonce per direction, rekeyed by count and by time with a record
// that tells the peer. No I/O: bytes in, bytes out.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "crypto/noise.hpp"

namespace distribute::crypto {

inline constexpr std::size_t record_header_bytes = 2;
inline constexpr std::size_t max_record_bytes = 65535;  // ciphertext, the Noise message limit
// Plaintext of one record: data, then a type byte.
inline constexpr std::size_t max_record_data = max_record_bytes - tag_bytes - 1;

struct RekeyPolicy {
    // A record key is replaced after this many records or this long, whichever comes first.
    std::uint64_t after_records = std::uint64_t{1} << 20;
    std::chrono::seconds after_time{600};
};

class RecordSealer {
  public:
    RecordSealer(CipherState cipher, RekeyPolicy policy);
    // Seals `parts`, one stream of bytes, into records as full as they can be (a rekey record
    // first when one is due), written at `out`, which has room for max_sealed_size of their
    // total: a small piece after a large one shares its record. The bytes written; nullopt once
    // the nonce space is used up: the connection must end.
    [[nodiscard]] std::optional<std::size_t> seal(
        std::span<const std::span<const std::uint8_t>> parts, std::uint8_t* out,
        std::chrono::steady_clock::time_point now);
    std::uint64_t rekeys() const { return rekeys_; }
    // Bytes `seal` writes for `data_bytes` of data without a rekey record, and at most.
    static std::size_t sealed_size(std::size_t data_bytes);
    static std::size_t max_sealed_size(std::size_t data_bytes);

  private:
    [[nodiscard]] bool record(std::uint8_t type, std::size_t data_bytes, std::uint8_t* at);

    CipherState cipher_;
    RekeyPolicy policy_;
    std::uint64_t since_rekey_ = 0;
    std::chrono::steady_clock::time_point keyed_at_;
    bool keyed_at_set_ = false;
    std::uint64_t rekeys_ = 0;
};

class RecordOpener {
  public:
    explicit RecordOpener(CipherState cipher) : cipher_(std::move(cipher)) {}
    struct Opened {
        std::size_t used = 0;      // bytes of the input consumed (whole records only)
        std::size_t produced = 0;  // bytes of data written to the output
        // The next record is complete but its data (with the type byte it decrypts with) does
        // not fit in what is left of the output.
        bool blocked = false;
        bool failed = false;  // the stream is bad from here on: `why` says how
        std::string why;
    };
    // Opens every complete record at the front of `in` whose data fits in `out`, decrypting
    // straight into it, one record's data after the other's.
    Opened open(std::span<const std::uint8_t> in, std::span<std::uint8_t> out);
    std::uint64_t records() const { return records_; }
    std::uint64_t rekeys() const { return rekeys_; }

  private:
    CipherState cipher_;
    std::uint64_t records_ = 0;
    std::uint64_t rekeys_ = 0;
};

}  // namespace distribute::crypto
