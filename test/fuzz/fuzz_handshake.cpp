// libFuzzer target for the handshake: the bytes a peer sends before it is authenticated, fed to
// an acceptor (naming the peer when it asks for a name), an initiator and an initiator asking for
// a name, in one go and in small pieces. No input may crash, hang, read
// out of bounds, or complete a handshake without the cookie (the input cannot know the digest
// of our random challenge).
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/flags.hpp"
#include "wire/handshake.hpp"

namespace {

using namespace distribute::wire;

HandshakeSettings settings() {
    HandshakeSettings s;
    s.node_name = "fuzz@host";
    s.creation = 7;
    s.offered_flags = offered;
    s.required_flags = required_of_peers;
    s.cookie_for = [](const std::string&) { return std::string("cookie"); };
    // A new challenge every time, so no saved input can carry a digest that answers it.
    static std::uint32_t next = 0x5eed1234u;
    s.random_challenge = [] { return next += 0x9e3779b9u; };
    return s;
}

// Feeds `input` in pieces of `piece` bytes, answering the questions a node would answer.
bool established(Handshake& h, std::span<const std::uint8_t> input, std::size_t piece) {
    std::size_t offered_up_to = 0, used = 0;
    while (used < input.size()) {
        offered_up_to = std::min(input.size(), std::max(offered_up_to, used) + piece);
        auto progress = h.feed(input.subspan(used, offered_up_to - used));
        used += progress.used;
        (void)h.take_output();
        switch (progress.event) {
            case Handshake::Event::peer_named:
                if (h.peer().wants_name) {
                    h.assign_peer_name("GIVEN@" + h.peer().name, 9);
                    h.decide(HandshakeStatus::named);
                } else {
                    h.decide(HandshakeStatus::ok);
                }
                break;
            case Handshake::Event::peer_says_alive:
                h.replace_alive(true);
                break;
            case Handshake::Event::established:
                return true;
            case Handshake::Event::failed:
                return false;
            case Handshake::Event::none:
                if (progress.used == 0 && offered_up_to == input.size()) return false;
                break;
        }
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> input(data, size);
    for (std::size_t piece : {size + 1, std::size_t{1}, std::size_t{7}}) {
        auto acceptor = Handshake::accept(settings());
        auto initiator = Handshake::initiate(settings(), "peer@host");
        // An initiator without a name, asking the peer for one (a named: status in the input).
        auto nameless_settings = settings();
        nameless_settings.node_name = "host";
        nameless_settings.ask_for_name = true;
        auto nameless = Handshake::initiate(nameless_settings, "peer@host");
        // Without the cookie's digest of our challenge no side may come up.
        if (established(acceptor, input, piece)) __builtin_trap();
        if (established(initiator, input, piece)) __builtin_trap();
        if (established(nameless, input, piece)) __builtin_trap();
    }
    return 0;
}
