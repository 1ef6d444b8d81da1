#include "node/process_table.hpp"

namespace distribute::node {

Pid ProcessTable::allocate(Atom node, std::uint32_t creation) {
    const std::uint64_t n = next_.fetch_add(1, std::memory_order_relaxed);
    return Pid{node, static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(n >> 32), creation};
}

void ProcessTable::insert(const std::shared_ptr<Process>& process) {
    const auto k = key(process->pid);
    auto& s = shard(k);
    std::lock_guard lock(s.mutex);
    s.processes.emplace(k, process);
}

std::shared_ptr<Process> ProcessTable::find(const Pid& pid) const {
    const auto k = key(pid);
    auto& s = shard(k);
    std::lock_guard lock(s.mutex);
    auto it = s.processes.find(k);
    // The same numbers from another incarnation of this node name a process that is gone.
    if (it == s.processes.end() || !(it->second->pid == pid)) return nullptr;
    return it->second;
}

void ProcessTable::erase(const Pid& pid) {
    const auto k = key(pid);
    auto& s = shard(k);
    std::lock_guard lock(s.mutex);
    s.processes.erase(k);
}

std::vector<std::shared_ptr<Process>> ProcessTable::all() const {
    std::vector<std::shared_ptr<Process>> out;
    for (auto& s : shards_) {
        std::lock_guard lock(s.mutex);
        for (auto& [k, p] : s.processes)
            out.push_back(p);
    }
    return out;
}

std::size_t ProcessTable::size() const {
    std::size_t n = 0;
    for (auto& s : shards_) {
        std::lock_guard lock(s.mutex);
        n += s.processes.size();
    }
    return n;
}

bool NameTable::add(Atom name, const std::shared_ptr<Process>& process) {
    std::unique_lock lock(mutex_);
    return names_.emplace(name.index(), process).second;
}

bool NameTable::remove(Atom name, const Process* process) {
    std::unique_lock lock(mutex_);
    auto it = names_.find(name.index());
    if (it == names_.end() || (process && it->second.get() != process)) return false;
    names_.erase(it);
    return true;
}

std::shared_ptr<Process> NameTable::find(Atom name) const {
    std::shared_lock lock(mutex_);
    auto it = names_.find(name.index());
    return it == names_.end() ? nullptr : it->second;
}

std::vector<Atom> NameTable::all() const {
    std::shared_lock lock(mutex_);
    std::vector<Atom> out;
    out.reserve(names_.size());
    for (auto& [index, process] : names_)
        out.push_back(Atom::from_index(index));
    return out;
}

void AliasTable::add(const Reference& alias, const std::shared_ptr<Process>& process,
                     bool priority) {
    std::unique_lock lock(mutex_);
    aliases_[alias] = Entry{process, priority};
}

bool AliasTable::remove(const Reference& alias) {
    std::unique_lock lock(mutex_);
    return aliases_.erase(alias) > 0;
}

AliasTable::Target AliasTable::find(const Reference& alias) const {
    std::shared_lock lock(mutex_);
    auto it = aliases_.find(alias);
    if (it == aliases_.end()) return {};
    return {it->second.process.lock(), it->second.priority};
}

}  // namespace distribute::node
