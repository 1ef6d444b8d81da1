// rest_for_one: the child that ended and every child started after it are restarted; those after
// it are stopped first, in reverse start order. Children started before it are left alone.
#include "actor/supervisor_core.hpp"

namespace distribute::actor_detail {

void Supervisor::restart_rest_for_one(const ProcessHandle& self, const std::string& id) {
    auto index = index_of(id);
    if (!index) return;
    restart_group(self, ids_from(*index));
}

}  // namespace distribute::actor_detail
