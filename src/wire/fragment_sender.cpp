#include "wire/fragment_sender.hpp"

#include <type_traits>

#include "term/etf_encoded_size.hpp"
#include "term/etf_tags.hpp"
#include "wire/dist_header.hpp"
#include "wire/flags.hpp"

namespace distribute::wire {
std::size_t fragments_for(const Control& control, std::size_t terms_bytes,
                          std::uint64_t negotiated) {
    if (terms_bytes <= fragment_data_bytes || !(negotiated & flag::fragments) ||
        !has_payload(op_for(control, negotiated)))
        return 1;
    return (terms_bytes - 1) / fragment_data_bytes + 1;
}

namespace {

// The term after the control term in the ops that have one.
const Term* payload_term(const Control& control) {
    return std::visit(
        [](const auto& c) -> const Term* {
            using T = std::decay_t<decltype(c)>;
            if constexpr (requires { c.message; }) {
                return &c.message;
            } else if constexpr (requires { c.reason; }) {
                return &c.reason;
            } else if constexpr (std::is_same_v<T, SpawnRequest>) {
                return &c.args;
            } else {
                return nullptr;
            }
        },
        control);
}

}  // namespace

bool goes_in_fragments(const Control& control, std::uint64_t negotiated) {
    if (!(negotiated & flag::fragments)) return false;
    const Term* payload = payload_term(control);
    return payload != nullptr && has_payload(op_for(control, negotiated)) &&
           etf::encoded_body_size(*payload, fragment_data_bytes) > fragment_data_bytes;
}

std::optional<Pid> sending_process(const Control& control) {
    return std::visit(
        [](const auto& c) -> std::optional<Pid> {
            using T = std::decay_t<decltype(c)>;
            if constexpr (std::is_same_v<T, MonitorPExit>) {
                if (const Pid* pid = std::get_if<Pid>(&c.from)) return *pid;
                return std::nullopt;
            } else if constexpr (requires { c.from; }) {
                return c.from;
            } else {
                return std::nullopt;
            }
        },
        control);
}

OutgoingFragments::OutgoingFragments(OutgoingBytes frame, std::size_t terms_at, std::size_t count,
                                     std::uint64_t sequence)
    : frame_(std::move(frame)),
      reader_(frame_),
      terms_at_(terms_at),
      count_(count),
      sequence_(sequence) {
    // The frame's own length and header do not go out: each fragment has its prefix.
    ByteViews skipped;
    reader_.take(terms_at_, skipped);
}

// The reader goes on where it was, in the moved frame (its positions are offsets).
OutgoingFragments::OutgoingFragments(OutgoingFragments&& other) noexcept
    : frame_(std::move(other.frame_)),
      reader_(other.reader_.moved_to(frame_)),
      terms_at_(other.terms_at_),
      count_(other.count_),
      sequence_(other.sequence_),
      next_(other.next_) {}

OutgoingFragments& OutgoingFragments::operator=(OutgoingFragments&& other) noexcept {
    frame_ = std::move(other.frame_);
    reader_ = other.reader_.moved_to(frame_);
    terms_at_ = other.terms_at_;
    count_ = other.count_;
    sequence_ = other.sequence_;
    next_ = other.next_;
    return *this;
}

std::size_t OutgoingFragments::piece_bytes(std::size_t index) const {
    const std::size_t from = index * fragment_data_bytes;
    return std::min(fragment_data_bytes, terms_bytes() - from);
}

std::size_t OutgoingFragments::wire_bytes() const {
    return terms_bytes() + count_ * prefix_bytes(1) + 1;
}

std::size_t OutgoingFragments::take(Prefix& prefix, ByteViews& views) {
    const std::size_t index = next_++;
    const std::size_t head = prefix_bytes(index);
    const std::size_t piece = piece_bytes(index);
    etf::wire::store32(prefix.data(), static_cast<std::uint32_t>(head - 4 + piece));
    prefix[4] = etf::version_magic;
    prefix[5] = index == 0 ? dist_frag_header : dist_frag_cont;
    etf::wire::store64(prefix.data() + 6, sequence_);
    etf::wire::store64(prefix.data() + 14, count_ - index);
    if (index == 0) prefix[22] = 0;  // no atom cache references
    views.emplace_back(prefix.data(), head);
    return head + reader_.take(piece, views);
}

}  // namespace distribute::wire
