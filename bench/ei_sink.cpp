// The erl_interface anchor of the node benchmark: a C node that behaves as our `sink` does.
// {start, Pid, N} starts a count of the next N messages, after which it sends `done` to Pid. It
// decodes each message the way a C node reading its mail would (ei_xreceive_msg, then walking
// the term with ei_decode_*), so the comparison is with a C node that looks at what it gets.
//
//   ei_sink NAME COOKIE        registers NAME at the EPMD of ERL_EPMD_PORT, serves until killed
#include <ei.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "ei_walk.hpp"

namespace {

volatile long long consumed = 0;

bool is_start(const char* buf, erlang_pid* from, long* count) {
    int index = 0, version = 0, arity = 0;
    char atom[MAXATOMLEN_UTF8];
    return ei_decode_version(buf, &index, &version) == 0 &&
           ei_decode_tuple_header(buf, &index, &arity) == 0 && arity == 3 &&
           ei_decode_atom(buf, &index, atom) == 0 && std::strcmp(atom, "start") == 0 &&
           ei_decode_pid(buf, &index, from) == 0 && ei_decode_long(buf, &index, count) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: ei_sink NAME COOKIE\n");
        return 2;
    }
    ei_init();
    ei_cnode node;
    if (ei_connect_init(&node, argv[1], argv[2], 0) < 0) {
        std::fprintf(stderr, "ei_sink: ei_connect_init failed\n");
        return 1;
    }
    int port = 0;
    int listen = ei_listen(&node, &port, 5);
    if (listen < 0 || ei_publish(&node, port) < 0) {
        std::fprintf(stderr, "ei_sink: cannot listen or publish (erl_errno %d)\n", erl_errno);
        return 1;
    }
    std::printf("ready %s\n", ei_thisnodename(&node));
    std::fflush(stdout);
    for (;;) {
        ErlConnect peer;
        int fd = ei_accept(&node, listen, &peer);
        if (fd < 0) continue;
        ei_x_buff buffer;
        ei_x_new(&buffer);
        erlang_msg message;
        long left = 0;
        erlang_pid reply_to;
        for (;;) {
            int got = ei_xreceive_msg(fd, &message, &buffer);
            if (got == ERL_TICK) continue;
            if (got == ERL_ERROR) break;
            if (message.msgtype != ERL_SEND && message.msgtype != ERL_REG_SEND) continue;
            if (left > 0) {
                int index = 0, version = 0;
                ei_decode_version(buffer.buff, &index, &version);
                consumed = consumed + distribute::bench::ei_walk(buffer.buff, &index);
                if (--left == 0) {
                    ei_x_buff done;
                    ei_x_new_with_version(&done);
                    ei_x_encode_atom(&done, "done");
                    ei_send(fd, &reply_to, done.buff, done.index);
                    ei_x_free(&done);
                }
                continue;
            }
            long count = 0;
            if (is_start(buffer.buff, &reply_to, &count)) left = count;
        }
        ei_x_free(&buffer);
        ei_close_connection(fd);
    }
}
