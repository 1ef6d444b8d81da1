#include "otp/global_atoms.hpp"

#include <sodium.h>

#include <algorithm>

namespace distribute::otp {

const GlobalAtoms& global_atoms() {
    static const GlobalAtoms atoms;
    return atoms;
}

std::optional<InitConnectVersion> init_connect_version(const Term& version, int ours) {
    const std::size_t size = version.is_tuple() ? version.elements().size() : 0;
    if (size < 2) return std::nullopt;
    // An integer is itself; any other term that Erlang orders above ours is a newer release.
    int his = 0;
    if (auto n = version[0].to<int>())
        his = *n;
    else if (compare(version[0], Term(ours)) > 0)
        his = ours + 1;
    else
        return std::nullopt;
    // It is the newer side's job to understand the older one: a newer node is spoken to in ours,
    // and so is one whose version tuple has grown.
    const int speak = size == 2 ? std::min(his, ours) : ours;
    return InitConnectVersion{speak, his, version[1]};
}

std::chrono::milliseconds random_sleep(unsigned times) {
    const std::uint32_t most = times > 5 ? 8000 : ((1u << times) * 1000) / 8;
    return std::chrono::milliseconds(1 + randombytes_uniform(most));
}

}  // namespace distribute::otp
