// Decoding the terms without elements: numbers, atoms, binaries, pids, ports, references and
// export funs. Each checks its lengths against the input before it reads or allocates.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "term/etf_decoder.hpp"
#include "term/etf_tags.hpp"
#include "term/utf8.hpp"

namespace distribute::etf::decoding {

using detail::TermAccess;
using wire::load16;
using wire::load32;
using wire::load64;

namespace {

// FLOAT_EXT: "%.20e" text, NUL-padded to 31 bytes. Like the BEAM: sign, digits, '.', digits, an
// optional exponent, and a NUL before the end.
bool parse_old_float(const std::uint8_t* text, double& out) {
    std::size_t len = 0;
    while (len < 31 && text[len] != 0)
        ++len;
    if (len == 31) return false;
    const char* s = reinterpret_cast<const char*>(text);
    const char* end = s + len;
    const char* p = s;
    auto digits = [&] {
        const char* from = p;
        while (p < end && *p >= '0' && *p <= '9')
            ++p;
        return p > from;
    };
    if (p < end && (*p == '+' || *p == '-')) ++p;
    if (!digits() || p == end || *p++ != '.' || !digits()) return false;
    if (p < end && (*p == 'e' || *p == 'E')) {
        ++p;
        if (p < end && (*p == '+' || *p == '-')) ++p;
        if (!digits()) return false;
    }
    if (p != end) return false;
    const char* first = *s == '+' ? s + 1 : s;
    auto [ptr, ec] = std::from_chars(first, end, out);
    return ec == std::errc() && ptr == end && std::isfinite(out);
}

}  // namespace

std::string tag_name(std::uint8_t t) {
    return "tag " + std::to_string(t);
}

// Everything without elements.
bool Decoder::scalar(Term& dst) {
    const std::uint8_t t = *p_;
    switch (t) {
        case tag::small_integer:
            if (!need(2, "SMALL_INTEGER_EXT")) return false;
            fill(dst, std::int64_t{p_[1]});
            p_ += 2;
            return true;
        case tag::integer:
            if (!need(5, "INTEGER_EXT")) return false;
            fill(dst, std::int64_t{static_cast<std::int32_t>(load32(p_ + 1))});
            p_ += 5;
            return true;
        case tag::float_: {
            if (!need(32, "FLOAT_EXT")) return false;
            double d;
            if (!parse_old_float(p_ + 1, d))
                return fail(DecodeErrc::bad_float, p_, "FLOAT_EXT text is not a finite float");
            fill(dst, TermAccess::unchecked_float(d));
            p_ += 32;
            return true;
        }
        case tag::binary:
            if (!need(5, "BINARY_EXT")) return false;
            return binary(dst, 5, load32(p_ + 1), 8);
        case tag::bit_binary: {
            if (!need(6, "BIT_BINARY_EXT")) return false;
            std::size_t size = load32(p_ + 1);
            std::uint8_t bits = p_[5];
            if ((bits == 0) != (size == 0) || bits > 8)
                return fail(DecodeErrc::bad_bitstring, p_,
                            "BIT_BINARY_EXT of " + std::to_string(size) + " bytes uses " +
                                std::to_string(bits) + " bits of the last");
            return binary(dst, 6, size, bits == 0 ? 8 : bits);
        }
        case tag::small_big:
            if (!need(3, "SMALL_BIG_EXT")) return false;
            return bignum(dst, 3, p_[1], p_[2] != 0);
        case tag::large_big:
            if (!need(6, "LARGE_BIG_EXT")) return false;
            return bignum(dst, 6, load32(p_ + 1), p_[5] != 0);
        case tag::new_pid:
        case tag::pid:
            return pid(dst, t == tag::pid);
        case tag::new_port:
        case tag::port:
        case tag::v4_port:
            return port(dst, t);
        case tag::newer_reference:
        case tag::new_reference:
        case tag::reference:
            return reference(dst, t);
        case tag::export_:
            return export_fun(dst);
        case tag::fun:
            return fail(DecodeErrc::unsupported_tag, p_, "FUN_EXT was removed in OTP 23");
        case tag::local:
            return fail(DecodeErrc::unsupported_tag, p_, "LOCAL_EXT never leaves its node");
        default:
            return fail(DecodeErrc::unknown_tag, p_, tag_name(t));
    }
}

bool Decoder::bad_cached_atom() {
    if (header_atoms_ == nullptr)
        return fail(DecodeErrc::unsupported_tag, p_,
                    "ATOM_CACHE_REF is only valid after a distribution header");
    if (!need(2, "ATOM_CACHE_REF")) return false;
    return fail(DecodeErrc::bad_atom_cache_ref, p_,
                "reference " + std::to_string(p_[1]) + " of a header with " +
                    std::to_string(header_atoms_->size()) + " atoms");
}

bool Decoder::not_an_atom() {
    return fail(DecodeErrc::bad_atom, p_, "expected an atom, found " + tag_name(*p_));
}

bool Decoder::text_atom(Atom& out, std::size_t wire_bytes) {
    const std::uint8_t* at = p_;
    // ATOM_EXT 100 and SMALL_ATOM_EXT 115 are the Latin-1 ones.
    const std::uint8_t t = *at;
    const bool small = (t & 1) != 0;
    const bool latin1 = t < tag::atom_utf8;
    const std::size_t header = small ? 2 : 3;
    if (remaining() < header) return short_input(header, "an atom");
    const std::size_t len = small ? at[1] : load16(at + 1);
    if (remaining() - header < len) return short_input(header + len, "an atom");
    const std::uint8_t* text = at + header;
    const bool padded = input_end_ - text >= 8;
    if (auto hit = state_.atoms.find(text, len, latin1, padded)) {
        out = *hit;
        p_ = text + len;
    } else if (!new_atom(text, len, latin1, padded, out)) {
        return false;
    }
    if (wire_bytes != 0) state_.atoms.insert_wire(at, wire_bytes, out);
    return true;
}

// A cache miss: validated and interned (or, in safe mode, looked up) once per thread and name.
bool Decoder::new_atom(const std::uint8_t* text, std::size_t len, bool latin1, bool padded,
                       Atom& out) {
    const std::uint8_t* at = p_;
    const std::string_view name(reinterpret_cast<const char*>(text), len);
    bool made;
    if (latin1) {
        if (len > max_latin1_atom)
            return fail(DecodeErrc::bad_atom, at, "atom longer than 255 characters");
        bool ascii = std::all_of(name.begin(), name.end(), [](char c) { return (c & 0x80) == 0; });
        made = ascii ? intern(name, at, out) : intern(utf8::from_latin1(name), at, out);
    } else {
        if (len > max_atom_bytes)
            return fail(DecodeErrc::bad_atom, at, "atom longer than 255 characters");
        made = intern(name, at, out);
    }
    if (!made) return false;
    state_.atoms.insert(text, len, latin1, padded, out);
    p_ = text + len;
    return true;
}

bool Decoder::intern(std::string_view name, const std::uint8_t* at, Atom& out) {
    auto atom = atom_from_input(name, options_);
    if (!atom) return fail(atom.error().code, at, std::move(atom.error().detail));
    out = *atom;
    return true;
}

bool Decoder::binary(Term& dst, std::size_t header, std::size_t size, std::uint8_t tail_bits) {
    if (!need(header + size, "binary bytes")) return false;
    const std::uint8_t* data = p_ + header;
    p_ += header + size;
    // Bits past the end of a bitstring are zero in ours, so equal bitstrings have equal bytes.
    std::uint8_t mask = static_cast<std::uint8_t>(0xFF << (8 - tail_bits));
    bool clean = tail_bits == 8 || (data[size - 1] & ~mask) == 0;
    if (owner_ != nullptr && size >= slice_threshold && clean) {
        fill(dst, TermAccess::adopt(TermAccess::slice_binary(owner_, data, size, tail_bits)));
        return true;
    }
    auto* b = detail::heap::make<detail::BinaryObject>(sizeof(detail::BinaryObject) + size);
    b->data = b->inline_data();
    b->size = size;
    b->tail_bits = tail_bits;
    if (size > 0) std::memcpy(b->inline_data(), data, size);
    if (!clean) b->inline_data()[size - 1] &= mask;
    fill(dst, TermAccess::adopt(b));
    return true;
}

bool Decoder::copied_binary(Term& dst, std::size_t size) {
    auto* b = detail::heap::make<detail::BinaryObject>(sizeof(detail::BinaryObject) + size);
    b->data = b->inline_data();
    b->size = size;
    std::memcpy(b->inline_data(), p_ + 5, size);
    fill(dst, TermAccess::adopt(b));
    p_ += 5 + size;
    return true;
}

bool Decoder::bignum(Term& dst, std::size_t header, std::size_t size, bool negative) {
    if (size > options_.max_bignum_bytes)
        return fail(DecodeErrc::bignum_too_large, p_,
                    "integer of " + std::to_string(size) + " bytes exceeds the limit of " +
                        std::to_string(options_.max_bignum_bytes));
    if (!need(header + size, "bignum digits")) return false;
    fill(dst, TermAccess::make_integer(negative, std::span(p_ + header, size)));
    p_ += header + size;
    return true;
}

bool Decoder::port(Term& dst, std::uint8_t t) {
    ++p_;
    Port port;
    if (!atom(port.node)) return false;
    std::size_t id_size = t == tag::v4_port ? 8 : 4;
    std::size_t creation_size = t == tag::port ? 1 : 4;
    if (!need(id_size + creation_size, "a port")) return false;
    port.id = id_size == 8 ? load64(p_) : load32(p_);
    port.creation = creation_size == 1 ? p_[id_size] : load32(p_ + id_size);
    p_ += id_size + creation_size;
    fill(dst, boxed<detail::PortObject>(port));
    return true;
}

bool Decoder::export_fun(Term& dst) {
    ++p_;
    ExportFun fun;
    if (!atom(fun.module) || !atom(fun.function)) return false;
    // The BEAM writes SMALL_INTEGER_EXT and also reads INTEGER_EXT.
    Term arity;
    if (!need(1, "EXPORT_EXT arity")) return false;
    if (*p_ != tag::small_integer && *p_ != tag::integer)
        return fail(DecodeErrc::bad_fun, p_, "EXPORT_EXT arity is " + tag_name(*p_));
    const std::uint8_t* at = p_;
    if (!scalar(arity)) return false;
    std::int64_t value = TermAccess::small(arity);
    if (value < 0 || value > 255)
        return fail(DecodeErrc::bad_fun, at, "EXPORT_EXT arity " + std::to_string(value));
    fun.arity = static_cast<std::uint8_t>(value);
    fill(dst, boxed<detail::ExportFunObject>(fun));
    return true;
}

}  // namespace distribute::etf::decoding
