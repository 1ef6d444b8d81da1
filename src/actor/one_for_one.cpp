// one_for_one: only the child that ended is restarted. A start that fails leaves the child
// marked restarting and queues another attempt, which counts against the intensity again.
#include "actor/supervisor_core.hpp"

namespace distribute::actor_detail {

void Supervisor::restart_one_for_one(const ProcessHandle& self, const std::string& id) {
    start_group(self, {id});
}

}  // namespace distribute::actor_detail
