// The registered processes a BEAM expects on every node it talks to.
#pragma once

namespace distribute::node {
class Runtime;
}

namespace distribute::otp {

// net_kernel (answers is_auth, so net_adm:ping gives pong) and rex (answers features_request).
void start_services(node::Runtime& runtime);

}  // namespace distribute::otp
