#include "node/timer.hpp"

#include <algorithm>

#include "node/runtime.hpp"

namespace distribute::node {

void start_timer(const std::shared_ptr<TimerState>& state, Process& to,
                 std::chrono::milliseconds delay, Term message) {
    state->process = to.shared_from_this();
    state->message = std::move(message);
    // Far enough to be never, without overflowing the clock.
    constexpr auto longest = std::chrono::hours(24 * 365 * 100);
    if (delay > longest)
        state->timer.expires_at(net::asio::steady_timer::time_point::max());
    else
        state->timer.expires_after(std::max(delay, std::chrono::milliseconds(0)));
    state->timer.async_wait([state](const boost::system::error_code& ec) {
        if (ec || state->done.exchange(true)) return;
        if (auto p = state->process.lock()) p->runtime.send(*p, p->pid, std::move(state->message));
    });
}

bool cancel_timer(const std::shared_ptr<TimerState>& state) {
    if (!state || state->done.exchange(true)) return false;
    net::asio::post(state->timer.get_executor(), [state] { state->timer.cancel(); });
    return true;
}

}  // namespace distribute::node
