// The program every consumer build compiles (CMake, pkg-config, a meson subproject): it starts
// a node with the installed headers and library, checks a term round trip through the external
// term format, and stops. ERL_EPMD_PORT names a private EPMD port (the node starts the embedded
// EPMD there when none answers).
#include <distribute.hpp>

#include <unistd.h>
#include <cstdio>

int main() {
    using namespace distribute;
    NodeOptions options;
    options.name = "consumer_" + std::to_string(getpid()) + "@127.0.0.1";
    options.long_names = true;
    options.cookie = "consumer_cookie";
    options.listen_address = "127.0.0.1";
    auto node = Node::start(options);
    if (!node) {
        std::fprintf(stderr, "consumer: the node did not start: %s\n", node.error().detail.c_str());
        return 1;
    }
    auto term = parse_term("{ok, [1, 2.5, <<\"bin\">>]}.");
    if (!term) return 1;
    auto bytes = etf::encode(*term);
    auto back = etf::decode(bytes);
    const bool same = back && *back == *term;
    std::printf("consumer: %s is up, round trip %s\n", std::string(node->name().name()).c_str(),
                same ? "ok" : "FAILED");
    node->stop();
    return same ? 0 : 1;
}
