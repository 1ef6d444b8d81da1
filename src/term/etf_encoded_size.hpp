// How many bytes a term encodes to (encode_body: no 131, atoms as text), counted without writing
// them and given up on past a limit: the send path asks whether a message is large enough to go
// in fragments before it decides where to encode it, and a small message costs a short walk.
#pragma once

#include <cstddef>
#include <cstdint>

#include "distribute/term.hpp"

namespace distribute::etf {

// The exact size of encode_body(term) when it is at most `limit`; otherwise some size over
// `limit` (the walk stops there).
std::size_t encoded_body_size(const Term& term, std::size_t limit);

// A proper list of at most 65535 integers 0..255 is written as STRING_EXT, as the BEAM writes it.
inline bool encodes_as_string_ext(const detail::ListObject& list) noexcept {
    using detail::Tag;
    using detail::TermAccess;
    constexpr std::size_t max_string_ext = 65535;
    if (TermAccess::tag(list.tail) != Tag::nil || list.size > max_string_ext) return false;
    const Term* items = list.data();
    for (std::size_t i = 0; i < list.size; ++i)
        if (TermAccess::tag(items[i]) != Tag::small_int ||
            static_cast<std::uint64_t>(TermAccess::small(items[i])) > 255)
            return false;
    return true;
}

}  // namespace distribute::etf
