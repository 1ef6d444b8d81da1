#include "otp/services.hpp"

#include "node/runtime.hpp"
#include "otp/builtins.hpp"
#include "otp/etop_backend.hpp"
#include "otp/membership.hpp"
#include "otp/rpc_server.hpp"

namespace distribute::otp {

void start_services(node::Runtime& runtime) {
    auto server = std::make_shared<RpcServer>(runtime);
    register_builtins(runtime, server->registry());
    register_etop_backend(*server);
    runtime.set_spawn_service(server);
    start_net_kernel(runtime);
    start_rex(runtime, std::move(server));
    auto membership = std::make_shared<Membership>(runtime);
    runtime.set_services(membership);
    if (!runtime.hidden()) membership->start_global();
    // The default scope, as a BEAM started with -kernel start_pg true has it.
    if (!membership->start_scope(Atom::make("pg").value(), {}))
        runtime.log(LogLevel::error, "cannot start the pg scope");
}

}  // namespace distribute::otp
