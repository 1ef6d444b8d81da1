// Where the runtime finds a local process by pid, by registered name or by alias. Lookups are on
// the path of every delivered message, so pids live in independently locked shards and the name
// table takes a shared lock: no lock is common to all senders.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "distribute/term.hpp"
#include "node/identity_hash.hpp"
#include "node/process.hpp"

namespace distribute::node {

class ProcessTable {
  public:
    // Pids are never reused: id and serial come from one 64-bit counter.
    Pid allocate(Atom node, std::uint32_t creation);
    void insert(const std::shared_ptr<Process>& process);
    std::shared_ptr<Process> find(const Pid& pid) const;
    void erase(const Pid& pid);
    std::vector<std::shared_ptr<Process>> all() const;
    std::size_t size() const;

  private:
    static constexpr std::size_t shard_count = 64;
    static std::uint64_t key(const Pid& pid) { return (std::uint64_t{pid.serial} << 32) | pid.id; }
    struct Shard {
        mutable std::mutex mutex;
        std::unordered_map<std::uint64_t, std::shared_ptr<Process>> processes;
    };
    Shard& shard(std::uint64_t k) const { return shards_[k % shard_count]; }

    mutable std::array<Shard, shard_count> shards_;
    std::atomic<std::uint64_t> next_{1};
};

class NameTable {
  public:
    // False when the name is taken.
    bool add(Atom name, const std::shared_ptr<Process>& process);
    // Removes `name` only while it still names `process` (null: whoever has it).
    bool remove(Atom name, const Process* process = nullptr);
    std::shared_ptr<Process> find(Atom name) const;
    // Every name registered now, as registered/0 lists them.
    std::vector<Atom> all() const;

  private:
    mutable std::shared_mutex mutex_;
    std::unordered_map<std::uint32_t, std::shared_ptr<Process>> names_;
};

class AliasTable {
  public:
    // What an alias leads to: its process (null when none), and whether it is a priority alias
    // (alias([priority])), the only kind that takes priority messages.
    struct Target {
        std::shared_ptr<Process> process;
        bool priority = false;
    };

    void add(const Reference& alias, const std::shared_ptr<Process>& process, bool priority);
    bool remove(const Reference& alias);
    Target find(const Reference& alias) const;

  private:
    struct Entry {
        std::weak_ptr<Process> process;
        bool priority = false;
    };
    mutable std::shared_mutex mutex_;
    std::unordered_map<Reference, Entry, ReferenceHash> aliases_;
};

}  // namespace distribute::node
