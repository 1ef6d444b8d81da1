// How many bytes a term encodes to (encode_body: no 131, atoms as text), counted without writing
// them and given up on past a limit: the send path asks whether a message is large enough to go
// in fragments before it decides where to encode it, and a small message costs a short walk.
#pragma once

#include <cstddef>

#include "distribute/term.hpp"

namespace distribute::etf {

// The exact size of encode_body(term) when it is at most `limit`; otherwise some size over
// `limit` (the walk stops there).
std::size_t encoded_body_size(const Term& term, std::size_t limit);

}  // namespace distribute::etf
