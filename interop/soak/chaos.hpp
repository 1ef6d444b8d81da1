// The BEAM side of the chaos soak and what the driver does to it: erl nodes that run
// soak_peer.erl on one private EPMD (OTP's own), and the faults: a node killed and started again
// under its name, stopped for longer than net_ticktime and continued, disconnected from either
// side, and the EPMD killed and started again on its port. Only processes started here are ever
// signalled.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "distribute/node.hpp"
#include "erl_fixture.hpp"

namespace distribute::soak {

struct BeamSideOptions {
    std::size_t nodes = 3;
    std::size_t processes_per_node = 2;
    std::vector<std::string> worker_names;  // registered on our node
    std::string our_node;                   // name@host
    std::string beam_dir;                   // where soak_peer.beam is
    std::string violation_log;              // soak_peer appends its violations here
    std::chrono::seconds net_ticktime{4};
};

class BeamSide {
  public:
    explicit BeamSide(BeamSideOptions options);

    std::uint16_t epmd_port() const { return epmd_port_; }
    std::size_t size() const { return slots_.size(); }
    std::string node_name(std::size_t slot) const;

    // soak_peer:totals() summed over one node: {received, sent, violations, finals, workers
    // known by the process knowing fewest}.
    struct Totals {
        std::uint64_t received = 0, sent = 0, violations = 0, finals = 0;
        std::size_t fewest_workers_known = 0;
    };
    Totals totals(std::size_t slot);
    void finish(std::size_t slot);

    // One random fault on a random node (or the EPMD); returns what it did, for the summary.
    std::string random_fault(Node& ours, std::mt19937_64& random);
    // Kills every node (their processes' links and monitors fire with noconnection).
    void kill_all();

  private:
    struct Slot {
        std::string alive;  // the name before @
        std::unique_ptr<testing::ErlNode> erl;
        pid_t os_pid = -1;
    };
    void start(Slot& slot);

    BeamSideOptions options_;
    std::uint16_t epmd_port_;
    std::optional<testing::EpmdProcess> epmd_;
    std::vector<Slot> slots_;
};

}  // namespace distribute::soak
