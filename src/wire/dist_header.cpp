#include "wire/dist_header.hpp"

#include <string>
#include <string_view>

#include "distribute/etf.hpp"

namespace distribute::wire {
namespace {

// The nibble after the last atom's: bit 0 says atom lengths take 2 bytes instead of 1.
constexpr std::uint8_t long_atoms = 0x1;
constexpr std::uint8_t new_entry = 0x8;
constexpr std::uint8_t segment_bits = 0x7;

FrameError header_error(std::size_t offset, std::string detail) {
    return FrameError{FrameErrc::bad_header, offset, std::move(detail)};
}

// Atom ref i's flags are the low nibble of byte i/2 when i is even, the high nibble when odd.
std::uint8_t nibble(std::span<const std::uint8_t> flags, std::size_t i) {
    const std::uint8_t byte = flags[i / 2];
    return (i % 2 == 0) ? (byte & 0x0f) : (byte >> 4);
}

}  // namespace

Expected<std::size_t, FrameError> read_header_atoms(std::span<const std::uint8_t> frame,
                                                    std::size_t pos, IncomingAtomCache& cache,
                                                    std::vector<Atom>& atoms,
                                                    const etf::DecodeOptions& options) {
    atoms.clear();
    if (pos >= frame.size())
        return unexpected(header_error(pos, "no count of atom cache references"));
    const std::size_t count = frame[pos++];
    if (count == 0) return pos;
    const std::size_t flag_bytes = count / 2 + 1;
    if (frame.size() - pos < flag_bytes)
        return unexpected(header_error(
            pos, "the flags of " + std::to_string(count) + " atom cache references are cut short"));
    const auto flags = frame.subspan(pos, flag_bytes);
    pos += flag_bytes;
    const bool long_lengths = (nibble(flags, count) & long_atoms) != 0;
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint8_t f = nibble(flags, i);
        if (pos >= frame.size())
            return unexpected(header_error(pos, "atom cache reference " + std::to_string(i) +
                                                    " of " + std::to_string(count) +
                                                    " is cut short"));
        const std::size_t index = (static_cast<std::size_t>(f & segment_bits) << 8) | frame[pos];
        const std::size_t entry_at = pos++;
        if ((f & new_entry) == 0) {
            const Atom* known = cache.find(index);
            if (known == nullptr)
                return unexpected(header_error(
                    entry_at, "atom cache entry " + std::to_string(index) + " was never set"));
            atoms.push_back(*known);
            continue;
        }
        const std::size_t length_bytes = long_lengths ? 2 : 1;
        if (frame.size() - pos < length_bytes)
            return unexpected(
                header_error(pos, "the length of a new atom cache entry is cut short"));
        const std::size_t length =
            long_lengths ? (std::size_t{frame[pos]} << 8 | frame[pos + 1]) : frame[pos];
        pos += length_bytes;
        if (frame.size() - pos < length)
            return unexpected(header_error(
                pos, "the text of atom cache entry " + std::to_string(index) + " is cut short"));
        const std::string_view text(reinterpret_cast<const char*>(frame.data() + pos), length);
        auto atom = etf::atom_from_input(text, options);
        if (!atom)
            return unexpected(header_error(
                pos, "atom cache entry " + std::to_string(index) + ": " + atom.error().detail));
        pos += length;
        cache.set(index, *atom);
        atoms.push_back(*atom);
    }
    return pos;
}

void write_header_atoms(std::vector<std::uint8_t>& out,
                        std::span<const etf::OutgoingAtomCache::Entry> refs) {
    const std::size_t count = refs.size();
    out.push_back(static_cast<std::uint8_t>(count));
    if (count == 0) return;
    bool long_lengths = false;
    for (const auto& ref : refs)
        long_lengths = long_lengths || (ref.is_new && ref.atom.name().size() > 255);
    const std::size_t flags_at = out.size();
    out.resize(flags_at + count / 2 + 1, 0);
    auto set_nibble = [&](std::size_t i, std::uint8_t value) {
        out[flags_at + i / 2] |= static_cast<std::uint8_t>(i % 2 == 0 ? value : value << 4);
    };
    for (std::size_t i = 0; i < count; ++i)
        set_nibble(i, static_cast<std::uint8_t>((refs[i].is_new ? new_entry : 0) |
                                                ((refs[i].slot >> 8) & segment_bits)));
    if (long_lengths) set_nibble(count, long_atoms);
    for (const auto& ref : refs) {
        out.push_back(static_cast<std::uint8_t>(ref.slot & 0xff));
        if (!ref.is_new) continue;
        const std::string_view text = ref.atom.name();
        if (long_lengths) out.push_back(static_cast<std::uint8_t>(text.size() >> 8));
        out.push_back(static_cast<std::uint8_t>(text.size()));
        out.insert(out.end(), text.begin(), text.end());
    }
}

void write_plain_header(std::vector<std::uint8_t>& out) {
    out.push_back(etf::version_magic);
    out.push_back(dist_header);
    out.push_back(0);
}

}  // namespace distribute::wire
