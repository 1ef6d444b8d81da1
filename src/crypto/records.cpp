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

bool RecordSealer::record(std::uint8_t type, std::span<const std::uint8_t> data,
                          std::vector<std::uint8_t>& out) {
    const std::size_t length = 1 + data.size() + tag_bytes;
    const std::size_t at = out.size();
    out.resize(at + record_header_bytes + length);
    std::uint8_t* header = out.data() + at;
    header[0] = static_cast<std::uint8_t>(length >> 8);
    header[1] = static_cast<std::uint8_t>(length);
    // The plaintext (data, then the type byte) is laid out where the ciphertext goes: libsodium
    // encrypts in place. The type goes last so that the receiver drops it without moving data.
    std::uint8_t* body = header + record_header_bytes;
    if (!data.empty()) std::memcpy(body, data.data(), data.size());
    body[data.size()] = type;
    const bool ok = cipher_.encrypt(std::span<const std::uint8_t>(header, record_header_bytes),
                                    std::span<const std::uint8_t>(body, 1 + data.size()), body);
    ++since_rekey_;
    return ok;
}

bool RecordSealer::seal(std::span<const std::uint8_t> data, std::vector<std::uint8_t>& out,
                        std::chrono::steady_clock::time_point now) {
    if (!keyed_at_set_) {
        keyed_at_ = now;
        keyed_at_set_ = true;
    }
    if (since_rekey_ >= policy_.after_records || now - keyed_at_ >= policy_.after_time) {
        // The rekey record goes under the old key; everything after it under the new one.
        if (!record(rekey_record, {}, out)) return false;
        cipher_.rekey();
        since_rekey_ = 0;
        keyed_at_ = now;
        ++rekeys_;
    }
    out.reserve(out.size() + sealed_size(data.size()));
    while (!data.empty()) {
        const auto chunk = data.first(std::min(data.size(), max_record_data));
        if (!record(data_record, chunk, out)) return false;
        data = data.subspan(chunk.size());
    }
    return true;
}

RecordOpener::Opened RecordOpener::open(std::span<const std::uint8_t> in,
                                        std::vector<std::uint8_t>& out) {
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
        const std::size_t at = out.size();
        out.resize(at + length - tag_bytes);
        if (!cipher_.decrypt(std::span(header, record_header_bytes),
                             std::span(header + record_header_bytes, length), out.data() + at)) {
            out.resize(at);
            opened.failed = true;
            opened.why = "encrypted record " + std::to_string(records_) +
                         " failed authentication (tampered, replayed, reordered or cut short)";
            return opened;
        }
        opened.used += record_header_bytes + length;
        ++records_;
        const std::uint8_t type = out.back();
        out.pop_back();
        if (type == rekey_record && length == 1 + tag_bytes) {
            cipher_.rekey();
            ++rekeys_;
        } else if (type != data_record) {
            out.resize(at);
            opened.failed = true;
            opened.why = "encrypted record " + std::to_string(records_ - 1) + " has unknown type " +
                         std::to_string(type);
            return opened;
        }
    }
    return opened;
}

}  // namespace distribute::crypto
