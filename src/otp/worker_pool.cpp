#include "otp/worker_pool.hpp"

#include <algorithm>

namespace distribute::otp {

WorkerPool::WorkerPool(unsigned threads) : io_(std::make_shared<net::asio::io_context>()) {
    work_.emplace(io_->get_executor());
    for (unsigned i = 0; i < std::max(1u, threads); ++i)
        threads_.emplace_back([io = io_] { io->run(); });
}

WorkerPool::~WorkerPool() {
    stop();
    for (auto& t : threads_) {
        if (t.get_id() == std::this_thread::get_id())
            t.detach();
        else if (t.joinable())
            t.join();
    }
}

void WorkerPool::post(std::function<void()> job) {
    net::asio::post(*io_, std::move(job));
}

void WorkerPool::stop() {
    work_.reset();
    io_->stop();
}

}  // namespace distribute::otp
