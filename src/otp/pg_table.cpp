#include "otp/pg_table.hpp"

#include <algorithm>

namespace distribute::otp {

std::vector<Pid> subtract(std::span<const Pid> from, std::span<const Pid> take) {
    std::vector<Pid> out(from.begin(), from.end());
    for (const Pid& pid : take)
        if (auto it = std::find(out.begin(), out.end(), pid); it != out.end()) out.erase(it);
    return out;
}

const PgTable::Entry* PgTable::find(const Term& group) const {
    auto it = groups_.find(group);
    return it == groups_.end() ? nullptr : &it->second;
}

std::vector<Term> PgTable::groups() const {
    std::vector<Term> out;
    out.reserve(groups_.size());
    for (const auto& [group, entry] : groups_)
        out.push_back(group);
    return out;
}

std::vector<Term> PgTable::local_groups() const {
    std::vector<Term> out;
    for (const auto& [group, entry] : groups_)
        if (!entry.local.empty()) out.push_back(group);
    return out;
}

Term PgTable::snapshot() const {
    std::vector<MapEntry> entries;
    entries.reserve(groups_.size());
    for (const auto& [group, entry] : groups_) {
        std::vector<Term> pids(entry.all.begin(), entry.all.end());
        entries.push_back({group, list_from(pids)});
    }
    return map_from(entries);
}

void PgTable::join(const Term& group, std::span<const Pid> pids, bool local) {
    if (pids.empty()) return;
    Entry& entry = groups_[group];
    entry.all.insert(entry.all.end(), pids.begin(), pids.end());
    if (local) entry.local.insert(entry.local.end(), pids.begin(), pids.end());
}

std::vector<Pid> PgTable::leave(const Term& group, std::span<const Pid> pids, bool local) {
    auto it = groups_.find(group);
    if (it == groups_.end()) return {};
    Entry& entry = it->second;
    std::vector<Pid> left;
    for (const Pid& pid : pids) {
        auto at = std::find(entry.all.begin(), entry.all.end(), pid);
        if (at == entry.all.end()) continue;
        entry.all.erase(at);
        left.push_back(pid);
        if (local)
            if (auto l = std::find(entry.local.begin(), entry.local.end(), pid);
                l != entry.local.end())
                entry.local.erase(l);
    }
    if (entry.all.empty()) groups_.erase(it);
    return left;
}

std::pair<std::vector<Pid>, std::vector<Pid>> PgTable::replace(const Term& group,
                                                               std::span<const Pid> before,
                                                               std::span<const Pid> after) {
    std::vector<Pid> joined = subtract(after, before);
    std::vector<Pid> left = leave(group, subtract(before, after), false);
    join(group, joined, false);
    return {std::move(joined), std::move(left)};
}

}  // namespace distribute::otp
