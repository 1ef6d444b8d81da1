// erl_interface's side of the decode benchmark: reads a whole term with ei_decode_* into C values,
// as a C node reading a message would.
#pragma once

#include <cstdint>

namespace distribute::bench {

// Walks the term at buf[*index] (after the version byte), decoding every element. Returns a value
// that depends on what was read, so the compiler cannot drop the work; -1 on a decode error.
std::int64_t ei_walk(const char* buf, int* index);

}  // namespace distribute::bench
