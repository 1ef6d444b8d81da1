// Frames after the handshake. The layout is told by the first byte and must agree with the
// negotiated flags; only the pass-through layout is implemented so far, so the dist-header and
// fragment layouts are recognised and refused until they are.
#include "wire/framing.hpp"

#include <stdexcept>

#include "term/etf_tags.hpp"
#include "wire/flags.hpp"

namespace distribute::wire {
namespace {

constexpr std::uint8_t pass_through = 112;  // 'p'
constexpr std::uint8_t dist_header = 68;
constexpr std::uint8_t dist_frag_header = 69;
constexpr std::uint8_t dist_frag_cont = 70;

const char* describe(FrameErrc e) noexcept {
    switch (e) {
        case FrameErrc::unknown_layout:
            return "unknown frame layout";
        case FrameErrc::layout_not_negotiated:
            return "frame layout not negotiated on this connection";
        case FrameErrc::bad_term:
            return "a term of the frame does not decode";
        case FrameErrc::bad_control:
            return "invalid control message";
        case FrameErrc::trailing_bytes:
            return "bytes after the last term of the frame";
    }
    return "unknown frame error";
}

class FrameCategory : public std::error_category {
  public:
    const char* name() const noexcept override { return "distribute.frame"; }
    std::string message(int code) const override { return describe(static_cast<FrameErrc>(code)); }
};

FrameError frame_error(FrameErrc code, std::size_t offset, std::string detail) {
    return FrameError{code, offset, std::move(detail)};
}

// Either flag makes the BEAM send dist headers, so either one rules pass-through out.
bool pass_through_layout(std::uint64_t negotiated) {
    return (negotiated & (flag::dist_hdr_atom_cache | flag::fragments)) == 0;
}

// What a dist-header or fragment frame needs negotiated, or nullopt when it was.
std::optional<std::string> not_negotiated(std::uint8_t kind, std::uint64_t negotiated) {
    if (kind == dist_header) {
        if (!pass_through_layout(negotiated)) return std::nullopt;
        return "a distribution header without DIST_HDR_ATOM_CACHE or FRAGMENTS";
    }
    if (negotiated & flag::fragments) return std::nullopt;
    return "a fragment without FRAGMENTS";
}

// The control term and the term that may follow it, from `pos` to the end of the frame. Both
// carry their own 131 here; after a distribution header they will not.
Expected<std::optional<Control>, FrameError> decode_terms(const SharedBuffer& owner,
                                                          std::span<const std::uint8_t> frame,
                                                          std::size_t pos,
                                                          const etf::DecodeOptions& options) {
    const std::size_t control_at = pos;
    auto control = etf::decode_prefix(owner, frame.subspan(pos), options);
    if (!control)
        return unexpected(frame_error(FrameErrc::bad_term, pos + control.error().offset,
                                      "control term: " + control.error().to_string()));
    pos += control->used;
    std::optional<Term> payload;
    if (pos < frame.size()) {
        auto message = etf::decode_prefix(owner, frame.subspan(pos), options);
        if (!message)
            return unexpected(frame_error(FrameErrc::bad_term, pos + message.error().offset,
                                          "message term: " + message.error().to_string()));
        payload = std::move(message->term);
        pos += message->used;
    }
    if (pos < frame.size())
        return unexpected(frame_error(FrameErrc::trailing_bytes, pos,
                                      std::to_string(frame.size() - pos) + " bytes"));
    auto decoded = decode_control(control->term, payload ? &*payload : nullptr);
    if (!decoded)
        return unexpected(
            frame_error(FrameErrc::bad_control, control_at, std::move(decoded).error().detail));
    return std::optional<Control>(std::move(*decoded));
}

}  // namespace

const std::error_category& frame_category() noexcept {
    static const FrameCategory category;
    return category;
}

std::error_code make_error_code(FrameErrc e) noexcept {
    return {static_cast<int>(e), frame_category()};
}

std::string FrameError::to_string() const {
    std::string out = describe(code);
    out += " at byte ";
    out += std::to_string(offset);
    if (!detail.empty()) {
        out += ": ";
        out += detail;
    }
    return out;
}

FrameDecoder::FrameDecoder(std::uint64_t negotiated, etf::DecodeOptions options)
    : negotiated_(negotiated), options_(options) {}

Expected<std::optional<Control>, FrameError> FrameDecoder::decode(
    const SharedBuffer& owner, std::span<const std::uint8_t> frame) {
    if (frame.empty())
        return unexpected(frame_error(FrameErrc::unknown_layout, 0, "an empty frame (a tick)"));
    if (frame[0] == etf::version_magic && frame.size() > 1 &&
        (frame[1] == dist_header || frame[1] == dist_frag_header || frame[1] == dist_frag_cont)) {
        if (auto missing = not_negotiated(frame[1], negotiated_))
            return unexpected(frame_error(FrameErrc::layout_not_negotiated, 0, *missing));
        return unexpected(frame_error(FrameErrc::unknown_layout, 0,
                                      "distribution headers and fragments are not decoded yet"));
    }
    if (frame[0] != pass_through) {
        // Appended piece by piece: "," + std::to_string(...) makes GCC 12 warn (-Wrestrict)
        // wrongly.
        std::string first = "first bytes ";
        first.append(std::to_string(frame[0]));
        if (frame.size() > 1) first.append(1, ',').append(std::to_string(frame[1]));
        return unexpected(frame_error(FrameErrc::unknown_layout, 0, std::move(first)));
    }

    return decode_terms(owner, frame, 1, options_);
}

FrameEncoder::FrameEncoder(std::uint64_t negotiated) : negotiated_(negotiated) {
    // Writing pass-through frames where the peer expects headers would get us disconnected.
    if (!pass_through_layout(negotiated))
        throw std::logic_error(
            "frames with distribution headers are not implemented: do not offer "
            "DIST_HDR_ATOM_CACHE or FRAGMENTS");
}

void FrameEncoder::encode(std::vector<std::uint8_t>& out, const Control& control) {
    std::size_t start = out.size();
    out.resize(start + 5);
    out[start + 4] = pass_through;
    try {
        encode_control(out, control, negotiated_, true);
    } catch (...) {
        out.resize(start);  // no half-written frame left in a shared output buffer
        throw;
    }
    etf::wire::store32(out.data() + start, static_cast<std::uint32_t>(out.size() - start - 4));
}

}  // namespace distribute::wire
