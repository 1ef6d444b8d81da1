// one_for_all: when a child must be restarted, every other child is stopped (in reverse start
// order, each given its shutdown time), the temporary ones are forgotten, and then all are
// started again in order, as supervisor.erl's restart(one_for_all, ...) does.
#include "actor/supervisor_core.hpp"

namespace distribute::actor_detail {

void Supervisor::restart_one_for_all(const ProcessHandle& self, const std::string& id) {
    (void)id;  // it is among them, not running
    restart_group(self, ids_from(0));
}

}  // namespace distribute::actor_detail
