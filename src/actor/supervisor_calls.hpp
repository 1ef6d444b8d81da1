// start_child from C++ with a spec that holds C++ code (a start function cannot travel in a
// term): the caller leaves the spec here under a number and calls its supervisor, on the same
// node, with {'$distribute_start_child', Number}; the supervisor takes the spec out.
#pragma once

#include <cstdint>
#include <optional>

#include "distribute/supervisor.hpp"

namespace distribute::actor_detail {

std::uint64_t deposit_spec(ChildSpec spec);
// The spec left under `number`, once; nullopt when taken already (or never left).
std::optional<ChildSpec> take_spec(std::uint64_t number);
// The number of such a call, when `call` is one from a process of `self`'s node.
std::optional<std::uint64_t> local_spec_request(const ProcessHandle& self, const GenCall& call);
Term local_spec_request_term(std::uint64_t number);

}  // namespace distribute::actor_detail
