// send_after for actors and other handler processes, on the node's own timers (node/timer.hpp).
#include "node/timer.hpp"
#include "distribute/actor.hpp"
#include "node/access.hpp"

namespace distribute {

struct Timer::State : node::TimerState {
    using node::TimerState::TimerState;
};

bool Timer::cancel() const {
    return node::cancel_timer(state_);
}

Timer send_after(const ProcessHandle& self, std::chrono::milliseconds delay, Term message) {
    auto& process = node::Access::process(self);
    Timer out;
    out.state_ = std::make_shared<Timer::State>(process.runtime.io());
    node::start_timer(out.state_, process, delay, std::move(message));
    return out;
}

}  // namespace distribute
