// send_after: a steady timer on the node's io_context that sends a message to its process when
// it fires. The timer keeps only a weak reference to the process, so a pending timer neither
// keeps a dead process alive nor ties the node's lifetime in a cycle through the io_context.
#include <atomic>

#include "distribute/actor.hpp"
#include "net/asio.hpp"
#include "node/access.hpp"

namespace distribute {

namespace asio = net::asio;

struct Timer::State {
    explicit State(asio::io_context& io) : timer(asio::make_strand(io)) {}
    // On a strand: cancel() from any thread and the completion never touch it at once.
    asio::steady_timer timer;
    std::atomic<bool> done{false};  // sent or cancelled: whichever comes first wins
    std::weak_ptr<node::Process> process;
    Term message;
};

bool Timer::cancel() const {
    if (!state_ || state_->done.exchange(true)) return false;
    asio::post(state_->timer.get_executor(), [state = state_] { state->timer.cancel(); });
    return true;
}

Timer send_after(const ProcessHandle& self, std::chrono::milliseconds delay, Term message) {
    auto& process = node::Access::process(self);
    Timer out;
    out.state_ = std::make_shared<Timer::State>(process.runtime.io());
    auto& state = *out.state_;
    state.process = node::Access::shared(self);
    state.message = std::move(message);
    // Far enough to be never, without overflowing the clock.
    constexpr auto longest = std::chrono::hours(24 * 365 * 100);
    if (delay > longest)
        state.timer.expires_at(asio::steady_timer::time_point::max());
    else
        state.timer.expires_after(std::max(delay, std::chrono::milliseconds(0)));
    state.timer.async_wait([s = out.state_](const boost::system::error_code& ec) {
        if (ec || s->done.exchange(true)) return;
        if (auto p = s->process.lock()) p->runtime.send(*p, p->pid, std::move(s->message));
    });
    return out;
}

}  // namespace distribute
