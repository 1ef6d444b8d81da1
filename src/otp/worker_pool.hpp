// Threads for the rpc functions registered as synchronous: they may take as long as they like
// without holding up the node's own threads, which carry every connection and process.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "net/asio.hpp"

namespace distribute::otp {

class WorkerPool {
  public:
    explicit WorkerPool(unsigned threads);
    // Joins the threads, waiting for the jobs running now. On one of the pool's own threads (the
    // last owner let go inside a job) that thread is detached instead, and finishes by itself.
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    void post(std::function<void()> job);
    // No job starts after this; the ones running finish.
    void stop();

  private:
    // Shared with the threads, so that a detached one can still finish its run.
    std::shared_ptr<net::asio::io_context> io_;
    std::optional<net::asio::executor_work_guard<net::asio::io_context::executor_type>> work_;
    std::vector<std::thread> threads_;
};

}  // namespace distribute::otp
