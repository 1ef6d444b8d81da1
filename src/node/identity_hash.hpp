// Hashes for the identifiers the runtime keys its tables by. Consistent with their operator==:
// high zero words of a reference do not count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "distribute/term.hpp"

namespace distribute::node {

inline std::size_t mix(std::size_t h, std::uint64_t v) noexcept {
    return h ^ (std::hash<std::uint64_t>{}(v) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2));
}

struct PidHash {
    std::size_t operator()(const Pid& p) const noexcept {
        std::size_t h = mix(p.node.index(), (std::uint64_t{p.serial} << 32) | p.id);
        return mix(h, p.creation);
    }
};

struct ReferenceHash {
    std::size_t operator()(const Reference& r) const noexcept {
        std::size_t h = mix(r.node.index(), r.creation);
        std::size_t n = r.size;
        while (n > 0 && r.words[n - 1] == 0)
            --n;
        for (std::size_t i = 0; i < n; ++i)
            h = mix(h, r.words[i]);
        return h;
    }
};

}  // namespace distribute::node
