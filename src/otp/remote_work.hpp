// Calls and casts that peers started on this node and that have not finished, counted per peer
// node: erpc calls and casts (one process each, as on a BEAM) and rex's rpc:call. Without a
// bound, one peer could make the node hold any number of processes and queued jobs; with it,
// that peer's next call is refused (NodeLimits::max_remote_calls_per_peer) and every other
// peer goes on.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "distribute/term.hpp"

namespace distribute::otp {

class RemoteWork : public std::enable_shared_from_this<RemoteWork> {
  public:
    // Held while the work runs (copied into its completion); the count drops when the last copy
    // goes. Empty when `peer` already has `limit` calls in progress.
    using Ticket = std::shared_ptr<void>;
    Ticket begin(Atom peer, std::size_t limit);

  private:
    void end(Atom peer);

    std::mutex mutex_;
    std::unordered_map<std::uint32_t, std::size_t> by_peer_;  // atom index -> calls in progress
};

}  // namespace distribute::otp
