#include "otp/services.hpp"

#include "node/runtime.hpp"
#include "otp/builtins.hpp"
#include "otp/rpc_server.hpp"

namespace distribute::otp {

void start_services(node::Runtime& runtime) {
    auto server = std::make_shared<RpcServer>(runtime);
    register_builtins(runtime, server->registry());
    runtime.set_spawn_service(server);
    start_net_kernel(runtime);
    start_rex(runtime, std::move(server));
}

}  // namespace distribute::otp
