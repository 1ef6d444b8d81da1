// Registrations and creations of the embedded EPMD.
#include "net/epmd_registry.hpp"

#include <algorithm>

namespace distribute::net {
namespace {

std::uint32_t bump(std::uint32_t counter) {
    ++counter;
    return counter < 4 ? 4 : counter;
}

}  // namespace

std::uint32_t EpmdRegistry::creation_of(const Entry& e) {
    return e.node.highest >= 6 ? e.counter : e.counter % 3 + 1;
}

std::optional<std::uint32_t> EpmdRegistry::add(ConnectionId owner, wire::epmd::NodeRecord node) {
    if (find(node.name)) return std::nullopt;
    std::uint32_t counter = 0;
    const auto old = std::find_if(left_.begin(), left_.end(),
                                  [&](const Left& l) { return l.name == node.name; });
    if (old != left_.end()) {
        counter = bump(old->counter);
        left_.erase(old);
    } else {
        counter = bump(seed_++);
    }
    active_.push_front(Entry{std::move(node), owner, counter});
    return creation_of(active_.front());
}

void EpmdRegistry::remember(Entry&& e) {
    left_.push_back(Left{std::move(e.node.name), e.counter, e.node.port, e.owner});
    while (left_.size() > max_remembered_)
        left_.pop_front();
}

bool EpmdRegistry::remove_connection(ConnectionId owner) {
    const auto it = std::find_if(active_.begin(), active_.end(),
                                 [&](const Entry& e) { return e.owner == owner; });
    if (it == active_.end()) return false;
    remember(std::move(*it));
    active_.erase(it);
    return true;
}

std::optional<EpmdRegistry::ConnectionId> EpmdRegistry::remove_name(std::string_view name) {
    const auto it = std::find_if(active_.begin(), active_.end(),
                                 [&](const Entry& e) { return e.node.name == name; });
    if (it == active_.end()) return std::nullopt;
    const ConnectionId owner = it->owner;
    remember(std::move(*it));
    active_.erase(it);
    return owner;
}

const wire::epmd::NodeRecord* EpmdRegistry::find(std::string_view name) const {
    const auto it = std::find_if(active_.begin(), active_.end(),
                                 [&](const Entry& e) { return e.node.name == name; });
    return it == active_.end() ? nullptr : &it->node;
}

}  // namespace distribute::net
