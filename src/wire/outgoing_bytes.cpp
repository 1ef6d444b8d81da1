#include "wire/outgoing_bytes.hpp"

#include <algorithm>
#include <utility>

namespace distribute::wire {

void OutgoingBytes::cut(const Mark& mark) {
    encoded_.resize(mark.encoded);
    gathered_.binaries.resize(mark.binaries);
    gathered_.bytes = mark.wire - mark.encoded;
}

void OutgoingBytes::move_tail(const Mark& mark, OutgoingBytes& to) {
    const std::size_t shift = to.encoded_.size();
    for (std::size_t i = mark.binaries; i < gathered_.binaries.size(); ++i) {
        etf::GatheredBinary& binary = gathered_.binaries[i];
        binary.at = binary.at - mark.encoded + shift;
        to.gathered_.bytes += binary.bytes.size();
        to.gathered_.binaries.push_back(std::move(binary));
    }
    to.encoded_.insert(to.encoded_.end(),
                       encoded_.begin() + static_cast<std::ptrdiff_t>(mark.encoded),
                       encoded_.end());
    cut(mark);
}

void OutgoingBytes::clear(std::size_t kept_capacity) {
    if (encoded_.capacity() > kept_capacity)
        std::vector<std::uint8_t>().swap(encoded_);
    else
        encoded_.clear();
    gathered_.binaries.clear();
    gathered_.bytes = 0;
}

void OutgoingBytes::swap(OutgoingBytes& other) noexcept {
    encoded_.swap(other.encoded_);
    gathered_.binaries.swap(other.gathered_.binaries);
    std::swap(gathered_.bytes, other.gathered_.bytes);
}

std::size_t OutgoingBytes::Reader::take(std::size_t n, ByteViews& views) {
    const auto& encoded = bytes_->encoded_;
    const auto& binaries = bytes_->gathered_.binaries;
    std::size_t taken = 0;
    while (taken < n) {
        // Encoded bytes up to the next binary (or the end), then that binary's.
        const std::size_t until = binary_ < binaries.size() ? binaries[binary_].at : encoded.size();
        if (encoded_ < until) {
            const std::size_t k = std::min(until - encoded_, n - taken);
            views.emplace_back(encoded.data() + encoded_, k);
            encoded_ += k;
            taken += k;
            continue;
        }
        if (binary_ == binaries.size()) break;
        const auto bytes = binaries[binary_].bytes;
        const std::size_t k = std::min(bytes.size() - within_, n - taken);
        if (k > 0) views.push_back(bytes.subspan(within_, k));
        within_ += k;
        taken += k;
        if (within_ == bytes.size()) {
            ++binary_;
            within_ = 0;
        }
    }
    return taken;
}

}  // namespace distribute::wire
