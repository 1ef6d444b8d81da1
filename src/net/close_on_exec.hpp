// Asio opens sockets without FD_CLOEXEC. A program this process starts (an erl, a shell
// command) would inherit them: a listening socket would stay bound, and a connection we close
// would stay open in the child, so the peer never sees it go.
#pragma once

#include <fcntl.h>

namespace distribute::net {

inline void close_on_exec(int fd) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

}  // namespace distribute::net
