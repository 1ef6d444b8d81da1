#include "otp/global_atoms.hpp"

#include <sodium.h>

namespace distribute::otp {

const GlobalAtoms& global_atoms() {
    static const GlobalAtoms atoms;
    return atoms;
}

std::chrono::milliseconds random_sleep(unsigned times) {
    const std::uint32_t most = times > 5 ? 8000 : ((1u << times) * 1000) / 8;
    return std::chrono::milliseconds(1 + randombytes_uniform(most));
}

}  // namespace distribute::otp
