// The factories a BEAM child spec's {distribute, Name, Args} may name, and actor_factory.
#include <mutex>

#include "distribute/supervisor.hpp"

namespace distribute {

void ChildFactories::add(Atom name, ChildFactory factory) {
    std::lock_guard lock(mutex_);
    factories_[name.index()] = std::move(factory);
}

std::optional<ChildFactory> ChildFactories::find(Atom name) const {
    std::lock_guard lock(mutex_);
    auto it = factories_.find(name.index());
    if (it == factories_.end()) return std::nullopt;
    return it->second;
}

ChildFactory actor_factory(std::function<std::unique_ptr<Actor>(std::span<const Term> args)> make,
                           ActorOptions options) {
    return [make = std::move(make), options](
               const ProcessHandle& supervisor,
               std::span<const Term> args) -> Expected<ProcessHandle, SupervisorError> {
        auto actor = make(args);
        if (!actor)
            return unexpected(
                start_failure(tuple(Term(Atom::make("bad_args").value()), list_from(args))));
        ActorOptions o = options;
        o.link_to = supervisor.pid();
        return child_result(spawn_actor(supervisor, std::move(actor), o));
    };
}

}  // namespace distribute
