// The embedded EPMD's table of names, without I/O: who is registered on which connection, and
// which creation each registration gets. Creations follow epmd: a per-name counter that starts
// from a seed (epmd uses the time in seconds) and moves on at each registration, never below 4
// (1..3 belong to the old 16-bit scheme, 0 is reserved); nodes that only speak version 5 get
// counter % 3 + 1. Names that left are remembered (up to a bound) so that a node coming back
// gets a different creation than last time, and so that DUMP can list them as epmd does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wire/epmd_codec.hpp"

namespace distribute::net {

class EpmdRegistry {
  public:
    using ConnectionId = std::uint64_t;

    struct Entry {
        wire::epmd::NodeRecord node;
        ConnectionId owner = 0;
        std::uint32_t counter = 0;
    };
    // A name that left: its last counter, and the port and connection it had.
    struct Left {
        std::string name;
        std::uint32_t counter = 0;
        std::uint16_t port = 0;
        ConnectionId owner = 0;
    };

    explicit EpmdRegistry(std::uint32_t seed, std::size_t max_remembered = 1000)
        : seed_(seed), max_remembered_(max_remembered) {}

    // The creation for this registration, or nullopt when the name is registered already.
    std::optional<std::uint32_t> add(ConnectionId owner, wire::epmd::NodeRecord node);
    // The connection closed: its registration (if any) ends. Returns whether it had one.
    bool remove_connection(ConnectionId owner);
    // STOP: ends the registration of `name`; returns the connection that held it.
    std::optional<ConnectionId> remove_name(std::string_view name);

    const wire::epmd::NodeRecord* find(std::string_view name) const;
    // Newest first, as epmd lists them.
    const std::deque<Entry>& entries() const { return active_; }
    // Oldest first, as epmd's DUMP lists them.
    const std::deque<Left>& remembered() const { return left_; }
    bool empty() const { return active_.empty(); }

    static std::uint32_t creation_of(const Entry& e);

  private:
    void remember(Entry&& e);

    std::uint32_t seed_;
    std::size_t max_remembered_;
    std::deque<Entry> active_;
    std::deque<Left> left_;  // oldest first
};

}  // namespace distribute::net
