// The encrypted record layer under the distribution protocol: a byte stream cut into records of
// at most 65535 bytes (2-byte length, then ChaCha20-Poly1305 ciphertext with the length as
// associated data), one counter nonce per direction, rekeyed by count and by time with a record
// that tells the peer. No I/O: bytes in, bytes out.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

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
    // Appends the records carrying `data` to `out` (a rekey record first when one is due).
    // False once the nonce space is used up: the connection must end.
    [[nodiscard]] bool seal(std::span<const std::uint8_t> data, std::vector<std::uint8_t>& out,
                            std::chrono::steady_clock::time_point now);
    std::uint64_t rekeys() const { return rekeys_; }
    // Bytes `seal` adds to `data_bytes` of data (without a rekey record).
    static std::size_t sealed_size(std::size_t data_bytes);

  private:
    [[nodiscard]] bool record(std::uint8_t type, std::span<const std::uint8_t> data,
                              std::vector<std::uint8_t>& out);

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
        std::size_t used = 0;  // bytes of the input consumed (whole records only)
        bool failed = false;   // the stream is bad from here on: `why` says how
        std::string why;
    };
    // Opens every complete record at the front of `in`, appending their data to `out`.
    Opened open(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out);
    std::uint64_t records() const { return records_; }
    std::uint64_t rekeys() const { return rekeys_; }

  private:
    CipherState cipher_;
    std::uint64_t records_ = 0;
    std::uint64_t rekeys_ = 0;
};

}  // namespace distribute::crypto
