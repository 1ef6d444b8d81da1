#include "crypto/records.hpp"

#include <algorithm>
#include <cstring>

namespace distribute::crypto {

namespace {

enum RecordType : std::uint8_t { data_record = 0, rekey_record = 1 };

}  // namespace

RecordSealer::RecordSealer(CipherState cipher, RekeyPolicy policy)
    : cipher_(std::move(cipher)), policy_(policy) {}

std::size_t RecordSealer::sealed_size(std::size_t data_bytes) {
    const std::size_t records = (data_bytes + max_record_data - 1) / max_record_data;
    return data_bytes + records * (record_header_bytes + 1 + tag_bytes);
}

std::size_t RecordSealer::max_sealed_size(std::size_t data_bytes) {
    return sealed_size(data_bytes) + record_header_bytes + 1 + tag_bytes;
}

// The record's data is already at `at` + the header: libsodium encrypts it in place. The type
// goes after the data so that the receiver drops it without moving data.
bool RecordSealer::record(std::uint8_t type, std::size_t data_bytes, std::uint8_t* at) {
    const std::size_t length = 1 + data_bytes + tag_bytes;
    at[0] = static_cast<std::uint8_t>(length >> 8);
    at[1] = static_cast<std::uint8_t>(length);
    std::uint8_t* body = at + record_header_bytes;
    body[data_bytes] = type;
    const bool ok = cipher_.encrypt(std::span<const std::uint8_t>(at, record_header_bytes),
                                    std::span<const std::uint8_t>(body, 1 + data_bytes), body);
    ++since_rekey_;
    return ok;
}

std::optional<std::size_t> RecordSealer::seal(std::span<const std::span<const std::uint8_t>> parts,
                                              std::uint8_t* out,
                                              std::chrono::steady_clock::time_point now) {
    if (!keyed_at_set_) {
        keyed_at_ = now;
        keyed_at_set_ = true;
    }
    std::size_t written = 0;
    if (since_rekey_ >= policy_.after_records || now - keyed_at_ >= policy_.after_time) {
        // The rekey record goes under the old key; everything after it under the new one.
        if (!record(rekey_record, 0, out)) return std::nullopt;
        written += record_header_bytes + 1 + tag_bytes;
        cipher_.rekey();
        since_rekey_ = 0;
        keyed_at_ = now;
        ++rekeys_;
    }
    std::size_t left = 0;
    for (auto part : parts)
        left += part.size();
    auto part = parts.begin();
    std::size_t part_at = 0;  // bytes of *part already sealed
    while (left > 0) {
        const std::size_t data_bytes = std::min(left, max_record_data);
        std::uint8_t* at = out + written;
        // Gathered from the parts into the record's place.
        for (std::size_t filled = 0; filled < data_bytes;) {
            while (part_at == part->size()) {
                ++part;
                part_at = 0;
            }
            const std::size_t n = std::min(data_bytes - filled, part->size() - part_at);
            std::memcpy(at + record_header_bytes + filled, part->data() + part_at, n);
            filled += n;
            part_at += n;
        }
        if (!record(data_record, data_bytes, at)) return std::nullopt;
        written += record_header_bytes + 1 + data_bytes + tag_bytes;
        left -= data_bytes;
    }
    return written;
}

RecordOpener::Opened RecordOpener::open(std::span<const std::uint8_t> in,
                                        std::span<std::uint8_t> out) {
    Opened opened;
    while (in.size() - opened.used >= record_header_bytes) {
        const std::uint8_t* header = in.data() + opened.used;
        const std::size_t length = (std::size_t{header[0]} << 8) | header[1];
        if (length < 1 + tag_bytes) {
            opened.failed = true;
            opened.why = "encrypted record " + std::to_string(records_) + " is " +
                         std::to_string(length) + " bytes, less than a type byte and a tag";
            return opened;
        }
        if (in.size() - opened.used < record_header_bytes + length) break;
        // Data and the type byte; the next record's data goes over the type byte.
        const std::size_t plain_bytes = length - tag_bytes;
        if (out.size() - opened.produced < plain_bytes) {
            opened.blocked = true;
            break;
        }
        std::uint8_t* plain = out.data() + opened.produced;
        if (!cipher_.decrypt(std::span(header, record_header_bytes),
                             std::span(header + record_header_bytes, length), plain)) {
            opened.failed = true;
            opened.why = "encrypted record " + std::to_string(records_) +
                         " failed authentication (tampered, replayed, reordered or cut short)";
            return opened;
        }
        opened.used += record_header_bytes + length;
        ++records_;
        const std::uint8_t type = plain[plain_bytes - 1];
        if (type == rekey_record && plain_bytes == 1) {
            cipher_.rekey();
            ++rekeys_;
        } else if (type == data_record) {
            opened.produced += plain_bytes - 1;
        } else {
            opened.failed = true;
            opened.why = "encrypted record " + std::to_string(records_ - 1) + " has unknown type " +
                         std::to_string(type);
            return opened;
        }
    }
    return opened;
}

}  // namespace distribute::crypto
