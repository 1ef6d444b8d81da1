// Frames after the handshake. The layout is told by the first bytes and must agree with the
// negotiated flags: pass-through terms carry their own 131; after a distribution header they do
// not, and ATOM_CACHE_REF in them indexes the header's atoms.
#include "wire/framing.hpp"

#include "term/etf_decoder.hpp"
#include "term/etf_tags.hpp"
#include "wire/bytes.hpp"
#include "wire/flags.hpp"

namespace distribute::wire {
namespace {

constexpr std::uint8_t pass_through = 112;  // 'p'
// 131, 69 or 70, the sequence id and the fragment id.
constexpr std::size_t fragment_header_bytes = 1 + 1 + 8 + 8;

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

// The terms of a frame, from `pos` to the end of `bytes`: the control term and the term that may
// follow it. `header_atoms` is null for pass-through frames, whose terms carry their own 131;
// after a header one decoder reads both, each as if decoded by itself.
Expected<std::optional<Control>, FrameError> decode_terms(const SharedBuffer& owner,
                                                          std::span<const std::uint8_t> bytes,
                                                          std::size_t pos,
                                                          const std::vector<Atom>* header_atoms,
                                                          const etf::DecodeOptions& options) {
    const std::span<const Atom> atoms =
        header_atoms ? std::span<const Atom>(*header_atoms) : std::span<const Atom>();
    std::optional<etf::decoding::Decoder> body;
    if (header_atoms) body.emplace(bytes.subspan(pos), 0, options, owner.object(), &atoms);
    auto one_term = [&](std::size_t at) -> Expected<etf::Decoded, etf::DecodeError> {
        if (!body) return etf::decode_prefix(owner, bytes.subspan(at), options);
        etf::Decoded out;
        if (!body->run(out.term)) return unexpected(std::move(body->error()));
        out.used = body->offset();
        body->start_next();
        return out;
    };
    const std::size_t control_at = pos;
    auto control = one_term(pos);
    if (!control)
        return unexpected(frame_error(FrameErrc::bad_term, pos + control.error().offset,
                                      "control term: " + control.error().to_string()));
    pos += control->used;
    std::optional<Term> payload;
    if (pos < bytes.size()) {
        auto message = one_term(pos);
        if (!message)
            return unexpected(frame_error(FrameErrc::bad_term, pos + message.error().offset,
                                          "message term: " + message.error().to_string()));
        payload = std::move(message->term);
        pos += message->used;
    }
    if (pos < bytes.size())
        return unexpected(frame_error(FrameErrc::trailing_bytes, pos,
                                      std::to_string(bytes.size() - pos) + " bytes"));
    auto decoded = decode_control(control->term, payload ? &*payload : nullptr);
    if (!decoded)
        return unexpected(
            frame_error(FrameErrc::bad_control, control_at, std::move(decoded).error().detail));
    return std::optional<Control>(std::move(*decoded));
}

struct FragmentIds {
    std::uint64_t sequence;
    std::uint64_t fragment;
};

Expected<FragmentIds, FrameError> fragment_ids(std::span<const std::uint8_t> frame) {
    ByteReader in(frame.subspan(2));
    auto sequence = in.u64();
    auto fragment = in.u64();
    if (!sequence || !fragment)
        return unexpected(frame_error(
            FrameErrc::bad_header, 2,
            "a fragment header of " + std::to_string(frame.size()) + " bytes (18 needed)"));
    if (*fragment == 0)
        return unexpected(frame_error(FrameErrc::bad_fragment, 10, "fragment id 0"));
    return FragmentIds{*sequence, *fragment};
}

std::string unknown_first_bytes(std::span<const std::uint8_t> frame) {
    // Appended piece by piece: "," + std::to_string(...) makes GCC 12 warn (-Wrestrict) wrongly.
    std::string first = "first bytes ";
    first.append(std::to_string(frame[0]));
    if (frame.size() > 1) first.append(1, ',').append(std::to_string(frame[1]));
    return first;
}

}  // namespace

FrameDecoder::FrameDecoder(std::uint64_t negotiated, etf::DecodeOptions options,
                           ReassemblyLimits limits)
    : negotiated_(negotiated), options_(options), reassembly_(limits) {}

Expected<std::optional<Control>, FrameError> FrameDecoder::decode(
    const SharedBuffer& owner, std::span<const std::uint8_t> frame) {
    if (frame.empty())
        return unexpected(frame_error(FrameErrc::unknown_layout, 0, "an empty frame (a tick)"));
    if (frame[0] == pass_through) {
        if (!pass_through_layout(negotiated_))
            return unexpected(frame_error(FrameErrc::layout_not_negotiated, 0,
                                          "a pass-through frame where headers were agreed"));
        return decode_terms(owner, frame, 1, nullptr, options_);
    }
    if (frame[0] != etf::version_magic || frame.size() < 2 ||
        (frame[1] != dist_header && frame[1] != dist_frag_header && frame[1] != dist_frag_cont))
        return unexpected(frame_error(FrameErrc::unknown_layout, 0, unknown_first_bytes(frame)));
    if (auto missing = not_negotiated(frame[1], negotiated_))
        return unexpected(frame_error(FrameErrc::layout_not_negotiated, 0, *missing));
    if (frame[1] == dist_frag_header) return first_fragment(frame, owner);
    if (frame[1] == dist_frag_cont) return continuation(frame);
    auto terms_at = read_header_atoms(frame, 2, cache_, header_atoms_, options_);
    if (!terms_at) return unexpected(std::move(terms_at).error());
    return decode_terms(owner, frame, *terms_at, &header_atoms_, options_);
}

Expected<std::optional<Control>, FrameError> FrameDecoder::first_fragment(
    std::span<const std::uint8_t> frame, const SharedBuffer& owner) {
    auto ids = fragment_ids(frame);
    if (!ids) return unexpected(std::move(ids).error());
    // The header is read now, not when the sequence completes: frames after this one may refer
    // to the cache entries it sets.
    auto terms_at =
        read_header_atoms(frame, fragment_header_bytes, cache_, header_atoms_, options_);
    if (!terms_at) return unexpected(std::move(terms_at).error());
    if (ids->fragment == 1) return decode_terms(owner, frame, *terms_at, &header_atoms_, options_);
    auto begun = reassembly_.begin(ids->sequence, ids->fragment, header_atoms_,
                                   frame.subspan(*terms_at), *terms_at);
    if (!begun) return unexpected(std::move(begun).error());
    return std::optional<Control>();
}

Expected<std::optional<Control>, FrameError> FrameDecoder::continuation(
    std::span<const std::uint8_t> frame) {
    auto ids = fragment_ids(frame);
    if (!ids) return unexpected(std::move(ids).error());
    auto added = reassembly_.add(ids->sequence, ids->fragment, frame.subspan(fragment_header_bytes),
                                 fragment_header_bytes);
    if (!added) return unexpected(std::move(added).error());
    if (!*added) return std::optional<Control>();
    const Reassembled& whole = **added;
    // Offsets in errors from here on are within the reassembled message, not this frame.
    return decode_terms(whole.buffer, whole.bytes, 0, &whole.atoms, options_);
}

std::optional<OpenSequence> open_sequence(std::span<const std::uint8_t> frame,
                                          std::uint64_t negotiated) {
    if (frame.size() < 2 || frame[0] != etf::version_magic || frame[1] != dist_frag_header ||
        !(negotiated & flag::fragments))
        return std::nullopt;
    auto ids = fragment_ids(frame);
    if (!ids || ids->fragment < 2) return std::nullopt;
    return OpenSequence{ids->sequence, ids->fragment};
}

std::optional<std::span<const std::uint8_t>> next_fragment_data(
    const OpenSequence& open, std::span<const std::uint8_t> frame) {
    if (frame.size() < 2 || frame[0] != etf::version_magic || frame[1] != dist_frag_cont)
        return std::nullopt;
    auto ids = fragment_ids(frame);
    if (!ids || ids->sequence != open.sequence || ids->fragment != open.fragment - 1)
        return std::nullopt;
    return frame.subspan(fragment_header_bytes);
}

void set_fragment_id(std::uint8_t* frame, std::uint64_t fragment) {
    etf::wire::store64(frame + 10, fragment);
}

std::string frame_layout(std::uint64_t negotiated) {
    if (pass_through_layout(negotiated)) return "pass-through frames";
    return (negotiated & flag::fragments) ? "distribution headers, fragments"
                                          : "distribution headers";
}

FrameEncoder::FrameEncoder(std::uint64_t negotiated, bool atom_cache)
    : negotiated_(negotiated),
      cache_(atom_cache && (negotiated & flag::dist_hdr_atom_cache) != 0
                 ? std::make_unique<etf::OutgoingAtomCache>()
                 : nullptr) {}

std::size_t uncached_prefix_bytes(std::uint64_t negotiated) {
    return pass_through_layout(negotiated) ? 4 + 1 : 4 + 3;
}

namespace {

// The frame's length: its encoded bytes after the length field and the binaries gathered for it.
void store_length(std::vector<std::uint8_t>& out, std::size_t start, const etf::Gathered* gathered,
                  std::size_t gathered_before) {
    const std::size_t binaries = gathered ? gathered->bytes - gathered_before : 0;
    etf::wire::store32(out.data() + start,
                       static_cast<std::uint32_t>(out.size() - start - 4 + binaries));
}

// What a failed encode gathered goes with its bytes: no half-written frame is left in a shared
// output buffer.
void drop_gathered(etf::Gathered* gathered, std::size_t count, std::size_t bytes) {
    if (gathered == nullptr) return;
    gathered->binaries.resize(count);
    gathered->bytes = bytes;
}

void encode_uncached(std::vector<std::uint8_t>& out, const Control& control,
                     std::uint64_t negotiated, etf::Gathered* gathered) {
    const std::size_t start = out.size();
    const std::size_t count = gathered ? gathered->binaries.size() : 0;
    const std::size_t before = gathered ? gathered->bytes : 0;
    const bool headers = !pass_through_layout(negotiated);
    out.resize(start + 4);
    if (headers)
        write_plain_header(out);
    else
        out.push_back(pass_through);
    try {
        encode_control(out, control, negotiated, !headers, nullptr, gathered);
    } catch (...) {
        out.resize(start);
        drop_gathered(gathered, count, before);
        throw;
    }
    store_length(out, start, gathered, before);
}

}  // namespace

void encode_frame(std::vector<std::uint8_t>& out, const Control& control,
                  std::uint64_t negotiated) {
    encode_uncached(out, control, negotiated, nullptr);
}

void encode_frame(OutgoingBytes& out, const Control& control, std::uint64_t negotiated) {
    encode_uncached(out.encoded(), control, negotiated, &out.gathered());
}

void FrameEncoder::encode(std::vector<std::uint8_t>& out, const Control& control, bool cached) {
    encode(out, control, cached, nullptr);
}

void FrameEncoder::encode(OutgoingBytes& out, const Control& control, bool cached) {
    encode(out.encoded(), control, cached, &out.gathered());
}

// The terms are encoded first, since only they tell which atoms the header lists; the header
// then goes in before them.
void FrameEncoder::encode(std::vector<std::uint8_t>& out, const Control& control, bool cached,
                          etf::Gathered* gathered) {
    if (!cached || !cache_) {
        encode_uncached(out, control, negotiated_, gathered);
        return;
    }
    const std::size_t start = out.size();
    const std::size_t count = gathered ? gathered->binaries.size() : 0;
    const std::size_t before = gathered ? gathered->bytes : 0;
    out.resize(start + 4);
    out.push_back(etf::version_magic);
    out.push_back(dist_header);
    const std::size_t terms_at = out.size();
    cache_->begin_message();
    try {
        encode_control(out, control, negotiated_, false, cache_.get(), gathered);
    } catch (...) {
        cache_->abandon_message();
        out.resize(start);
        drop_gathered(gathered, count, before);
        throw;
    }
    header_.clear();
    write_header_atoms(header_, cache_->entries());
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(terms_at), header_.begin(), header_.end());
    // The binaries' places move with the terms the header went before.
    if (gathered != nullptr)
        for (std::size_t i = count; i < gathered->binaries.size(); ++i)
            gathered->binaries[i].at += header_.size();
    store_length(out, start, gathered, before);
}

}  // namespace distribute::wire
