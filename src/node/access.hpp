// The layers above the runtime (otp, actor) reach it through the public handles; this is the one
// door, so the public headers need not show the runtime.
#pragma once

#include <memory>

#include "distribute/mailbox.hpp"
#include "distribute/node.hpp"
#include "node/runtime.hpp"

namespace distribute::node {

struct Access {
    static Runtime& runtime(const Node& node) { return *node.runtime_; }
    static const std::shared_ptr<Runtime>& shared(const Node& node) { return node.runtime_; }
    static Process& process(const ProcessHandle& handle) { return *handle.process_; }
    static const std::shared_ptr<Process>& shared(const ProcessHandle& handle) {
        return handle.process_;
    }
};

}  // namespace distribute::node
