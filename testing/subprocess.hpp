// Child processes for the interop fixture: each runs in its own process group (so a node and
// everything it started can be killed at once), dies with the test process, and talks to us
// through non-blocking pipes that are moved one poll() round at a time against a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace distribute::testing {

using Clock = std::chrono::steady_clock;

struct Child {
    pid_t pid = -1;
    int in = -1;   // its stdin, our write end
    int out = -1;  // its stdout, our read end
    int err = -1;  // its stderr, our read end
};

// Starts argv[0] (searched in PATH) with our environment plus `extra_env` ("NAME=value" entries
// override ours). Throws FixtureError when it cannot be started.
Child spawn_child(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env);

// SIGKILL to the child's whole process group, reaps it and closes our pipe ends.
void kill_child(Child& child);

// Its exit status (or 128 + signal) once it has exited; does not block.
std::optional<int> try_reap(Child& child);

enum class PumpResult { moved, idle, timed_out };

// One poll() round of at most `slice`: writes what it can of `input` (closing stdin once it is
// all written, when `close_after_input`), appends what arrived on stdout and stderr, and closes
// a read end at end of file. `timed_out` only when the deadline has passed.
PumpResult pump(Child& child, std::string_view& input, bool close_after_input, std::string& out,
                std::string& err, Clock::time_point deadline,
                std::chrono::milliseconds slice = std::chrono::milliseconds(50));

}  // namespace distribute::testing
