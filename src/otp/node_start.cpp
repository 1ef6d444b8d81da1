// The composition root: Node::start boots the runtime (node layer) with the services every BEAM
// peer expects (this layer) wired in, so the node layer never calls up into otp.
#include "distribute/node.hpp"
#include "node/runtime.hpp"
#include "otp/services.hpp"

namespace distribute {

Expected<Node, NodeError> Node::start(NodeOptions options) {
    auto runtime = node::Runtime::start(std::move(options), otp::start_services);
    if (!runtime) return unexpected(runtime.error());
    return Node(std::move(*runtime));
}

}  // namespace distribute
