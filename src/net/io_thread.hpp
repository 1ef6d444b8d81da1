// Which threads run a node's io_contexts. Such a thread must never block on something that a
// handler queued on some io_context would have to do: with one thread per context, the handler
// it waits for may be queued behind the wait itself, or on a thread that waits for it in turn.
#pragma once

namespace distribute::net {

// Called once by each thread that runs a node's io_context, before it runs it.
void mark_io_thread();
// True on a thread marked by mark_io_thread (any node's).
bool on_io_thread();

}  // namespace distribute::net
