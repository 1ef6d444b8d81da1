#include "otp/global_locking.hpp"

#include <algorithm>

#include "otp/global_atoms.hpp"
#include "otp/global_server.hpp"

namespace distribute::otp {

Atom the_boss(const std::vector<Atom>& nodes) {
    return *std::max_element(nodes.begin(), nodes.end());
}

void GlobalLockCalls::set(const std::shared_ptr<node::Process>& self, const Term& id,
                          std::vector<Atom> nodes, std::function<void(bool)> done) {
    if (nodes.empty()) return done(true);
    // Probing this node first saves asking the others when it would refuse anyway.
    const bool here = std::find(nodes.begin(), nodes.end(), self->runtime.name()) != nodes.end();
    if (nodes.size() > 1 && here && !server_.can_set_lock(id)) return done(false);
    const GlobalAtoms& a = global_atoms();
    calls_.start(
        *self, nodes, a.global_name_server, tuple(a.set_lock, id),
        [this, self, id, done = std::move(done)](MultiCalls::Replies replies, std::vector<Atom>) {
            std::vector<Atom> granted;
            for (auto& [node, reply] : replies)
                if (reply == Term(true)) granted.push_back(node);
            if (granted.size() == replies.size()) return done(true);
            if (replies.size() == 1) return done(false);
            del(self, id, granted, [done] { done(false); });
        });
}

void GlobalLockCalls::del(const std::shared_ptr<node::Process>& self, const Term& id,
                          const std::vector<Atom>& nodes, std::function<void()> done) {
    const GlobalAtoms& a = global_atoms();
    calls_.start(*self, nodes, a.global_name_server, tuple(a.del_lock, id),
                 [done = std::move(done)](MultiCalls::Replies, std::vector<Atom>) { done(); });
}

void GlobalLockCalls::del_boss_last(const std::shared_ptr<node::Process>& self, const Term& id,
                                    std::vector<Atom> nodes, std::function<void()> done) {
    if (nodes.empty()) return done();
    const Atom boss = the_boss(nodes);
    if (auto it = std::find(nodes.begin(), nodes.end(), boss); it != nodes.end()) nodes.erase(it);
    del(self, id, nodes,
        [this, self, id, boss, done = std::move(done)] { del(self, id, {boss}, done); });
}

}  // namespace distribute::otp
