#include "wire/fragments.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

namespace distribute::wire {
namespace {

FrameError fragment_error(std::size_t offset, std::string detail) {
    return FrameError{FrameErrc::bad_fragment, offset, std::move(detail)};
}

constexpr std::size_t kept_spare_bytes = 1024 * 1024;

bool in_use(const SharedBuffer& buffer) {
    return buffer.object() && buffer.object()->refs.load(std::memory_order_acquire) > 1;
}

std::string describe_sequence(std::uint64_t sequence) {
    return "sequence " + std::to_string(sequence);
}

}  // namespace

Expected<void, FrameError> Reassembly::begin(std::uint64_t sequence, std::uint64_t count,
                                             std::vector<Atom> atoms,
                                             std::span<const std::uint8_t> rest, std::size_t at) {
    if (sequences_.contains(sequence))
        return unexpected(fragment_error(
            at, describe_sequence(sequence) + " begins again before it was complete"));
    if (sequences_.size() >= limits_.max_sequences)
        return unexpected(FrameError{FrameErrc::reassembly_limit, at,
                                     std::to_string(sequences_.size()) +
                                         " sequences in progress, the limit is " +
                                         std::to_string(limits_.max_sequences)});
    // The room a BEAM's sequence needs, within what the limit leaves: reserved, not touched, so a
    // count the peer inflates costs address space until its bytes really arrive.
    const std::size_t room = limits_.max_bytes - held_;
    const std::size_t piece = std::max<std::size_t>(rest.size(), 1);
    const std::size_t estimate =
        count > room / piece ? room : static_cast<std::size_t>(count) * piece;
    if (!fits(rest.size()))
        return unexpected(FrameError{FrameErrc::reassembly_limit, at,
                                     "a first fragment of " + std::to_string(rest.size()) +
                                         " bytes with " + std::to_string(held_) +
                                         " held, the limit is " +
                                         std::to_string(limits_.max_bytes)});
    Sequence s;
    s.buffer = buffer_for(std::max(estimate, rest.size()));
    // An empty first fragment may leave both spans without storage; memcpy must not see null.
    if (!rest.empty()) std::memcpy(s.buffer.data(), rest.data(), rest.size());
    s.used = rest.size();
    s.next = count - 1;
    s.atoms = std::move(atoms);
    held_ += s.buffer.size();
    sequences_.emplace(sequence, std::move(s));
    return {};
}

// The spare when it is free and large enough without going past the limit, else a new buffer.
SharedBuffer Reassembly::buffer_for(std::size_t size) {
    if (spare_.size() >= size && spare_.size() <= limits_.max_bytes - held_ && !in_use(spare_))
        return std::move(spare_);
    return SharedBuffer(size);
}

Expected<std::optional<Reassembled>, FrameError> Reassembly::add(
    std::uint64_t sequence, std::uint64_t fragment, std::span<const std::uint8_t> bytes,
    std::size_t at) {
    auto it = sequences_.find(sequence);
    if (it == sequences_.end())
        return unexpected(fragment_error(at, "fragment " + std::to_string(fragment) + " of " +
                                                 describe_sequence(sequence) +
                                                 ", which is not in progress"));
    Sequence& s = it->second;
    if (fragment != s.next)
        return unexpected(fragment_error(at, "fragment " + std::to_string(fragment) + " of " +
                                                 describe_sequence(sequence) + " where " +
                                                 std::to_string(s.next) + " was due"));
    if (s.buffer.size() - s.used < bytes.size()) {
        // Fragments larger than the first: grow by doubling, within the limit.
        const std::size_t needed = s.used + bytes.size();
        const std::size_t grown = std::max(
            needed, std::min(2 * s.buffer.size(), s.buffer.size() + limits_.max_bytes - held_));
        if (!fits(grown - s.buffer.size()))
            return unexpected(FrameError{FrameErrc::reassembly_limit, at,
                                         describe_sequence(sequence) + " needs " +
                                             std::to_string(needed) + " bytes with " +
                                             std::to_string(held_) + " held, the limit is " +
                                             std::to_string(limits_.max_bytes)});
        SharedBuffer bigger(grown);
        if (s.used > 0) std::memcpy(bigger.data(), s.buffer.data(), s.used);
        held_ += grown - s.buffer.size();
        s.buffer = std::move(bigger);
    }
    if (!bytes.empty()) std::memcpy(s.buffer.data() + s.used, bytes.data(), bytes.size());
    s.used += bytes.size();
    if (--s.next > 0) return std::optional<Reassembled>();
    Reassembled whole;
    whole.buffer = std::move(s.buffer);
    whole.bytes = std::span<const std::uint8_t>(whole.buffer.data(), s.used);
    whole.atoms = std::move(s.atoms);
    held_ -= whole.buffer.size();
    if (whole.buffer.size() <= kept_spare_bytes) spare_ = whole.buffer;
    sequences_.erase(it);
    return std::optional<Reassembled>(std::move(whole));
}

}  // namespace distribute::wire
