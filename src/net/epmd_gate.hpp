// Callbacks that stop when their owner goes. The EPMD server's and a registration's callbacks run
// on the io_context's threads, which may still be running the owner's handlers after its
// destructor returned; the callbacks capture objects that the owner's owner may destroy next. The
// owner's destructor closes the gate: that waits for a callback running on another thread, and no
// callback runs after it. The lock is recursive so that an owner can be destroyed from inside one
// of its own callbacks (a registration's `failed`, say).
#pragma once

#include <mutex>
#include <utility>

namespace distribute::net {

class CallbackGate {
  public:
    template <class F>
    void call(F&& callback) {
        std::lock_guard lock(mutex_);
        if (open_) std::forward<F>(callback)();
    }
    void close() {
        std::lock_guard lock(mutex_);
        open_ = false;
    }

  private:
    std::recursive_mutex mutex_;
    bool open_ = true;
};

}  // namespace distribute::net
