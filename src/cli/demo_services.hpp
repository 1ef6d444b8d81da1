// The processes the demo node hosts, for people trying it from erl and for the benchmarks:
//   echo: {Pid, Msg} sends Msg back to Pid, whatever Msg is.
//   sink: {start, Pid, N} counts the next N messages, of any shape, then sends done to Pid.
#pragma once

#include "distribute/node.hpp"

namespace distribute::cli {

// Spawns both and registers them as `echo` and `sink`.
[[nodiscard]] Expected<void, NodeError> start_demo_services(Node& node);

}  // namespace distribute::cli
