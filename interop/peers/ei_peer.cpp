// An erl_interface C node for the interop tests, built on Debian's libei (erlang-dev) the way C
// nodes are written: ei_connect_xinit, ei_publish, ei_accept, ei_xreceive_msg, ei_send. It
// writes one line on stdout for everything it does or receives, which the tests read.
//
//   ei_peer serve ALIVE HOST COOKIE
//       A C node ALIVE@HOST registered with EPMD ($ERL_EPMD_PORT), serving every connection:
//         net_kernel  {'$gen_call', {From, Tag}, {is_auth, _}} -> {Tag, yes}   (net_adm:ping)
//         echo        {From, Msg} -> Msg to From
//         self        From -> {self, ItsPid} to From
//         kv          {'$gen_call', {From, Tag}, Req} -> {Tag, {c_node, Req}}  (gen_server)
//         rex         {'$gen_call', {From, Tag}, {call, M, F, A, GL}} -> {Tag, Result}, where
//                     erlang:node() and demo:echo(X) answer and anything else is undef
//         any other   printed: "got NAME TERM"
//       Prints "ready", then "connection from NODE", "got ...", "error ..." for a message ei
//       cannot take (it closes that connection, as C nodes do), "closed NODE".
//   ei_peer connect ALIVE|- HOST COOKIE TARGET
//       Connects to TARGET ("-": asks TARGET for a dynamic name) and prints "name NODE", then
//       "ping pong|pang", "echo TERM" (from TARGET's echo), "rpc TERM" for erlang:node() and
//       "rpc TERM" for demo:echo([1, two]) through rex (ei_rpc), and exits 0.
#include <arpa/inet.h>
#include <ei.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& what) {
    std::printf("fatal %s (erl_errno %d, errno %d)\n", what.c_str(), erl_errno, errno);
    std::fflush(stdout);
    std::exit(1);
}

void say(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

// The term at `index` of `buffer` in Erlang syntax; `index` moves past it.
std::string print(const char* buffer, int* index) {
    char* text = nullptr;
    if (ei_s_print_term(&text, buffer, index) < 0) return "<unprintable>";
    std::string out(text);
    std::free(text);
    return out;
}

// The bytes of the term at `index`, to send back verbatim (a gen_server tag is copied, never
// rebuilt); `index` moves past it.
std::string raw_term(const char* buffer, int* index) {
    const int start = *index;
    if (ei_skip_term(buffer, index) < 0) return {};
    return std::string(buffer + start, static_cast<std::size_t>(*index - start));
}

void init(ei_cnode* node, const char* alive, const char* host, const char* cookie) {
    static std::string full;
    const bool dynamic = std::strcmp(alive, "-") == 0;
    if (!dynamic) full = std::string(alive) + "@" + host;
    in_addr address{};
    address.s_addr = inet_addr("127.0.0.1");
    if (ei_connect_xinit(node, host, dynamic ? nullptr : alive, dynamic ? nullptr : full.c_str(),
                         &address, cookie, static_cast<unsigned>(time(nullptr))) < 0)
        die("ei_connect_xinit");
}

struct GenCall {
    erlang_pid from;
    std::string tag;  // raw bytes
    int request = 0;  // index of the request in the buffer
};

// {'$gen_call', {From, Tag}, Request} at `index`.
bool read_gen_call(const char* buffer, int index, GenCall& call) {
    int arity = 0;
    char atom[MAXATOMLEN_UTF8];
    if (ei_decode_tuple_header(buffer, &index, &arity) < 0 || arity != 3) return false;
    if (ei_decode_atom(buffer, &index, atom) < 0 || std::strcmp(atom, "$gen_call") != 0)
        return false;
    if (ei_decode_tuple_header(buffer, &index, &arity) < 0 || arity != 2) return false;
    if (ei_decode_pid(buffer, &index, &call.from) < 0) return false;
    call.tag = raw_term(buffer, &index);
    call.request = index;
    return !call.tag.empty();
}

void reply(int fd, GenCall& call, const ei_x_buff& answer) {
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_append_buf(&x, call.tag.data(), static_cast<int>(call.tag.size()));
    ei_x_append_buf(&x, answer.buff, answer.index);
    if (ei_send(fd, &call.from, x.buff, x.index) < 0) say("error send failed");
    ei_x_free(&x);
}

// rex's {call, M, F, A, GL}: erlang:node() and demo:echo(X); undef otherwise, as rex answers it.
void rex_call(ei_cnode* node, const char* buffer, int index, ei_x_buff& answer) {
    int arity = 0;
    char tag[MAXATOMLEN_UTF8], module[MAXATOMLEN_UTF8], function[MAXATOMLEN_UTF8];
    ei_decode_tuple_header(buffer, &index, &arity);
    ei_decode_atom(buffer, &index, tag);
    ei_decode_atom(buffer, &index, module);
    ei_decode_atom(buffer, &index, function);
    const int args = index;
    int type = 0, count = 0;
    ei_get_type(buffer, &index, &type, &count);
    if (std::strcmp(module, "erlang") == 0 && std::strcmp(function, "node") == 0 && count == 0) {
        ei_x_encode_atom(&answer, ei_thisnodename(node));
        return;
    }
    if (std::strcmp(module, "demo") == 0 && std::strcmp(function, "echo") == 0 && count == 1) {
        // The one argument, as it came: a list header and the element.
        int at = args;
        if (type == ERL_STRING_EXT) {
            std::string raw = raw_term(buffer, &at);
            ei_x_encode_long(&answer, static_cast<unsigned char>(raw[3]));
        } else {
            int n = 0;
            ei_decode_list_header(buffer, &at, &n);
            std::string raw = raw_term(buffer, &at);
            ei_x_append_buf(&answer, raw.data(), static_cast<int>(raw.size()));
        }
        return;
    }
    // {badrpc, {'EXIT', {undef, [{M, F, A, []}]}}}
    int at = args;
    std::string raw_args = raw_term(buffer, &at);
    ei_x_encode_tuple_header(&answer, 2);
    ei_x_encode_atom(&answer, "badrpc");
    ei_x_encode_tuple_header(&answer, 2);
    ei_x_encode_atom(&answer, "EXIT");
    ei_x_encode_tuple_header(&answer, 2);
    ei_x_encode_atom(&answer, "undef");
    ei_x_encode_list_header(&answer, 1);
    ei_x_encode_tuple_header(&answer, 4);
    ei_x_encode_atom(&answer, module);
    ei_x_encode_atom(&answer, function);
    ei_x_append_buf(&answer, raw_args.data(), static_cast<int>(raw_args.size()));
    ei_x_encode_empty_list(&answer);
    ei_x_encode_empty_list(&answer);
}

// One message from a connection; false when the connection is to be closed.
bool serve_one(ei_cnode* node, int fd, const std::string& peer) {
    erlang_msg message;
    ei_x_buff x;
    ei_x_new(&x);
    const int got = ei_xreceive_msg_tmo(fd, &message, &x, 1000);
    if (got == ERL_TICK) {
        ei_x_free(&x);
        return true;
    }
    if (got == ERL_ERROR) {
        const bool timeout = erl_errno == ETIMEDOUT;
        if (!timeout)
            say("error receive from " + peer + " (erl_errno " + std::to_string(erl_errno) + ")");
        ei_x_free(&x);
        return timeout;
    }
    int index = 0, version = 0;
    ei_decode_version(x.buff, &index, &version);
    const int body = index;
    const std::string name = message.msgtype == ERL_REG_SEND ? message.toname : "";
    GenCall call;
    if (message.msgtype != ERL_SEND && message.msgtype != ERL_REG_SEND) {
        say("signal " + std::to_string(message.msgtype) + " from " + peer);
    } else if (name == "net_kernel" && read_gen_call(x.buff, body, call)) {
        ei_x_buff yes;
        ei_x_new(&yes);
        ei_x_encode_atom(&yes, "yes");
        reply(fd, call, yes);
        ei_x_free(&yes);
        say("pinged by " + peer);
    } else if (name == "kv" && read_gen_call(x.buff, body, call)) {
        ei_x_buff answer;
        ei_x_new(&answer);
        ei_x_encode_tuple_header(&answer, 2);
        ei_x_encode_atom(&answer, "c_node");
        int at = call.request;
        std::string request = raw_term(x.buff, &at);
        ei_x_append_buf(&answer, request.data(), static_cast<int>(request.size()));
        reply(fd, call, answer);
        ei_x_free(&answer);
        at = call.request;
        say("call kv " + print(x.buff, &at));
    } else if (name == "rex" && read_gen_call(x.buff, body, call)) {
        ei_x_buff answer;
        ei_x_new(&answer);
        rex_call(node, x.buff, call.request, answer);
        reply(fd, call, answer);
        ei_x_free(&answer);
        int at = call.request;
        say("rex " + print(x.buff, &at));
    } else if (name == "echo") {
        int at = body, arity = 0;
        erlang_pid from;
        if (ei_decode_tuple_header(x.buff, &at, &arity) == 0 && arity == 2 &&
            ei_decode_pid(x.buff, &at, &from) == 0) {
            std::string echoed = raw_term(x.buff, &at);
            ei_x_buff out;
            ei_x_new_with_version(&out);
            ei_x_append_buf(&out, echoed.data(), static_cast<int>(echoed.size()));
            ei_send(fd, &from, out.buff, out.index);
            ei_x_free(&out);
        }
        at = body;
        say("echo " + print(x.buff, &at));
    } else if (name == "self") {
        int at = body;
        erlang_pid from;
        if (ei_decode_pid(x.buff, &at, &from) == 0) {
            ei_x_buff out;
            ei_x_new_with_version(&out);
            ei_x_encode_tuple_header(&out, 2);
            ei_x_encode_atom(&out, "self");
            ei_x_encode_pid(&out, ei_self(node));
            ei_send(fd, &from, out.buff, out.index);
            ei_x_free(&out);
        }
        say("self asked by " + peer);
    } else {
        int at = body;
        say("got " + (name.empty() ? std::string("pid") : name) + " " + print(x.buff, &at));
    }
    ei_x_free(&x);
    return true;
}

int serve(const char* alive, const char* host, const char* cookie) {
    ei_cnode node;
    init(&node, alive, host, cookie);
    int port = 0;
    const int listener = ei_listen(&node, &port, 16);
    if (listener < 0) die("ei_listen");
    if (ei_publish(&node, port) < 0) die("ei_publish");
    say(std::string("ready ") + ei_thisnodename(&node));
    std::vector<pollfd> fds{{listener, POLLIN, 0}};
    std::vector<std::string> peers{""};
    for (;;) {
        if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) die("poll");
        if (fds[0].revents & POLLIN) {
            ErlConnect connection;
            const int fd = ei_accept_tmo(&node, listener, &connection, 5000);
            if (fd >= 0) {
                fds.push_back({fd, POLLIN, 0});
                peers.emplace_back(connection.nodename);
                say(std::string("connection from ") + connection.nodename);
            } else {
                say("error accept (erl_errno " + std::to_string(erl_errno) + ")");
            }
        }
        for (std::size_t i = 1; i < fds.size();) {
            if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
                !serve_one(&node, fds[i].fd, peers[i])) {
                ei_close_connection(fds[i].fd);
                say("closed " + peers[i]);
                fds.erase(fds.begin() + static_cast<std::ptrdiff_t>(i));
                peers.erase(peers.begin() + static_cast<std::ptrdiff_t>(i));
                continue;
            }
            fds[i].revents = 0;
            ++i;
        }
    }
}

// The next message on `fd` that is not a tick, into `x`; dies on an error or after 15 s.
void receive(int fd, erlang_msg& message, ei_x_buff& x) {
    for (;;) {
        x.index = 0;
        const int got = ei_xreceive_msg_tmo(fd, &message, &x, 15000);
        if (got == ERL_MSG) return;
        if (got == ERL_ERROR) die("receive");
    }
}

int connect(const char* alive, const char* host, const char* cookie, const char* target) {
    ei_cnode node;
    init(&node, alive, host, cookie);
    const int fd = ei_connect_tmo(&node, const_cast<char*>(target), 15000);
    if (fd < 0) die(std::string("ei_connect to ") + target);
    say(std::string("name ") + ei_thisnodename(&node));
    erlang_msg message;
    ei_x_buff x;
    ei_x_new(&x);

    // net_adm:ping: {'$gen_call', {Self, Ref}, {is_auth, ThisNode}} to net_kernel.
    erlang_ref ref;
    ei_make_ref(&node, &ref);
    ei_x_buff out;
    ei_x_new_with_version(&out);
    ei_x_encode_tuple_header(&out, 3);
    ei_x_encode_atom(&out, "$gen_call");
    ei_x_encode_tuple_header(&out, 2);
    ei_x_encode_pid(&out, ei_self(&node));
    ei_x_encode_ref(&out, &ref);
    ei_x_encode_tuple_header(&out, 2);
    ei_x_encode_atom(&out, "is_auth");
    ei_x_encode_atom(&out, ei_thisnodename(&node));
    if (ei_reg_send(&node, fd, const_cast<char*>("net_kernel"), out.buff, out.index) < 0)
        die("ping");
    receive(fd, message, x);
    int index = 0, version = 0, arity = 0;
    char atom[MAXATOMLEN_UTF8] = "";
    erlang_ref answered;
    ei_decode_version(x.buff, &index, &version);
    const bool pong = ei_decode_tuple_header(x.buff, &index, &arity) == 0 && arity == 2 &&
                      ei_decode_ref(x.buff, &index, &answered) == 0 &&
                      ei_cmp_refs(&answered, &ref) == 0 &&
                      ei_decode_atom(x.buff, &index, atom) == 0 && std::strcmp(atom, "yes") == 0;
    say(pong ? "ping pong" : "ping pang");

    // A registered process: {Self, {hello_from_c, 42}} to echo, which sends the tuple back.
    out.index = 0;
    ei_x_encode_version(&out);
    ei_x_format_wo_ver(&out, "{~p, {hello_from_c, 42}}", ei_self(&node));
    if (ei_reg_send(&node, fd, const_cast<char*>("echo"), out.buff, out.index) < 0) die("send");
    receive(fd, message, x);
    index = 0;
    ei_decode_version(x.buff, &index, &version);
    say("echo " + print(x.buff, &index));

    // rpc through rex, as erl_call -a does.
    ei_x_buff args, result;
    ei_x_new(&args);
    ei_x_new(&result);
    ei_x_encode_empty_list(&args);
    if (ei_rpc(&node, fd, const_cast<char*>("erlang"), const_cast<char*>("node"), args.buff,
               args.index, &result) < 0)
        die("rpc erlang:node");
    index = 0;
    say("rpc " + print(result.buff, &index));
    args.index = 0;
    ei_x_format_wo_ver(&args, "[[1, two]]");
    if (ei_rpc(&node, fd, const_cast<char*>("demo"), const_cast<char*>("echo"), args.buff,
               args.index, &result) < 0)
        die("rpc demo:echo");
    index = 0;
    say("rpc " + print(result.buff, &index));
    ei_close_connection(fd);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    ei_init();
    if (argc == 5 && std::strcmp(argv[1], "serve") == 0) return serve(argv[2], argv[3], argv[4]);
    if (argc == 6 && std::strcmp(argv[1], "connect") == 0)
        return connect(argv[2], argv[3], argv[4], argv[5]);
    std::fprintf(stderr,
                 "usage: ei_peer serve ALIVE HOST COOKIE | connect ALIVE|- HOST COOKIE TARGET\n");
    return 2;
}
