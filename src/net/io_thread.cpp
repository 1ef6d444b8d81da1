#include "net/io_thread.hpp"

namespace distribute::net {
namespace {
thread_local bool io_thread = false;
}  // namespace

void mark_io_thread() {
    io_thread = true;
}

bool on_io_thread() {
    return io_thread;
}

}  // namespace distribute::net
