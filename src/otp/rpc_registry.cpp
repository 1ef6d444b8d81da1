// The table of functions this node serves to rpc callers, and the answers of asynchronous ones.
#include "otp/rpc_registry.hpp"

namespace distribute {

namespace {
RpcRegistry::State::Key key(Atom module, Atom function, std::size_t arity) {
    return {module.index(), function.index(), arity};
}
}  // namespace

RpcRegistry::RpcRegistry() : state_(std::make_shared<State>()) {}

RpcRegistry::~RpcRegistry() {
    state_->stop();
}

void RpcRegistry::add(Atom module, Atom function, std::size_t arity, Function function_body,
                      RunOn where) {
    auto entry = std::make_shared<const State::Synchronous>(
        State::Synchronous{std::move(function_body), where});
    std::unique_lock lock(state_->mutex);
    state_->functions.insert_or_assign(key(module, function, arity), State::Entry(entry));
}

void RpcRegistry::add_async(Atom module, Atom function, std::size_t arity,
                            AsyncFunction function_body) {
    auto entry = std::make_shared<const AsyncFunction>(std::move(function_body));
    std::unique_lock lock(state_->mutex);
    state_->functions.insert_or_assign(key(module, function, arity), State::Entry(entry));
}

bool RpcRegistry::remove(Atom module, Atom function, std::size_t arity) {
    std::unique_lock lock(state_->mutex);
    return state_->functions.erase(key(module, function, arity)) > 0;
}

bool RpcRegistry::contains(Atom module, Atom function, std::size_t arity) const {
    return state_->find(module, function, arity).has_value();
}

bool RpcRegistry::set_worker_threads(unsigned count) {
    std::lock_guard lock(state_->pool_mutex);
    if (state_->pool || count == 0) return false;
    state_->pool_size = count;
    return true;
}

std::optional<RpcRegistry::State::Entry> RpcRegistry::State::find(Atom module, Atom function,
                                                                  std::size_t arity) const {
    std::shared_lock lock(mutex);
    auto it = functions.find(key(module, function, arity));
    if (it == functions.end()) return std::nullopt;
    return it->second;
}

void RpcRegistry::State::post(std::function<void()> job) {
    std::lock_guard lock(pool_mutex);
    if (stopped) return;
    if (!pool) pool = std::make_unique<otp::WorkerPool>(pool_size);
    pool->post(std::move(job));
}

void RpcRegistry::State::stop() {
    std::lock_guard lock(pool_mutex);
    stopped = true;
    if (pool) pool->stop();
}

RpcReply::State::~State() {
    static const Atom no_reply = Atom::make("rpc_no_reply").value();
    if (!done.exchange(true)) finish(rpc_error(Term(no_reply)));
}

bool RpcReply::State::complete(RpcResult result) {
    if (done.exchange(true)) return false;
    finish(std::move(result));
    return true;
}

bool RpcReply::complete(RpcResult result) const {
    return state_->complete(std::move(result));
}

bool RpcReply::completed() const {
    return state_->done.load();
}

}  // namespace distribute
