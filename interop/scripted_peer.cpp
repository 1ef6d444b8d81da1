#include "scripted_peer.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

namespace distribute::testing {

RawSocket::RawSocket(std::uint16_t port, const char* source) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    if (source) {
        sockaddr_in from{};
        from.sin_family = AF_INET;
        REQUIRE(::inet_pton(AF_INET, source, &from.sin_addr) == 1);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawSocket::~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
}

void RawSocket::write(std::span<const std::uint8_t> bytes) {
    while (!bytes.empty()) {
        const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        REQUIRE(n > 0);
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
}

long RawSocket::read_some(std::vector<std::uint8_t>& into, std::chrono::milliseconds limit) {
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(limit.count()));
    if (ready == 0) return -1;
    std::uint8_t buffer[65536];
    const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return 0;  // EOF, or ECONNRESET: closed either way
    into.insert(into.end(), buffer, buffer + n);
    return n;
}

bool RawSocket::closed_within(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::vector<std::uint8_t> ignored;
    while (std::chrono::steady_clock::now() < deadline) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        const long n = read_some(ignored, std::max(left, std::chrono::milliseconds(1)));
        if (n == 0) return true;
        ignored.clear();
    }
    return false;
}

namespace {

wire::Handshake make(const std::string& name, const std::string& dial, const std::string& cookie,
                     std::uint32_t creation, std::uint64_t offered) {
    wire::HandshakeSettings s;
    s.node_name = name;
    s.creation = creation;
    s.offered_flags = offered;
    s.required_flags = wire::required_of_peers;
    s.cookie_for = [cookie](const std::string&) { return cookie; };
    s.random_challenge = [] { return 0x1234567u; };
    return wire::Handshake::initiate(s, dial);
}

// The op of a frame as it came, {Op, ...} being a small tuple led by a small integer (how every
// node encodes it), after 112, 131 (pass-through) or a normal distribution header, whose atom
// cache references are read into `cache` (kept apart from the decoder's, fed the same frames in
// the same order); 0 when the frame is laid out otherwise (a fragment, a bad header).
int raw_op(std::span<const std::uint8_t> frame, wire::IncomingAtomCache& cache,
           std::vector<Atom>& atoms) {
    std::size_t at = 0;
    if (frame.size() >= 2 && frame[0] == 112 && frame[1] == 131) {
        at = 2;
    } else if (frame.size() >= 3 && frame[0] == 131 && frame[1] == 68) {
        auto start = wire::read_header_atoms(frame, 2, cache, atoms, {});
        if (!start) return 0;
        at = *start;
    } else {
        return 0;
    }
    const auto term = frame.subspan(at);
    if (term.size() < 4 || term[0] != 104 || term[2] != 97) return 0;
    return term[3];
}

}  // namespace

ScriptedPeer::ScriptedPeer(std::uint16_t port, std::string name, std::string dial,
                           std::string cookie, std::uint32_t creation, std::uint64_t offered,
                           const char* source)
    : socket_(port, source),
      name_(std::move(name)),
      creation_(creation),
      handshake_(make(name_, dial, cookie, creation, offered)) {}

bool ScriptedPeer::handshake(std::chrono::milliseconds limit) {
    return run_handshake(limit, /*stop_after_challenge=*/false);
}

bool ScriptedPeer::stall_after_challenge(std::chrono::milliseconds limit) {
    return run_handshake(limit, /*stop_after_challenge=*/true);
}

Pid ScriptedPeer::pid(std::uint32_t id) const {
    return Pid{Atom::make(name_).value(), id, 0, creation_};
}

void ScriptedPeer::send(const wire::Control& control) {
    std::vector<std::uint8_t> frame;
    encoder_->encode(frame, control);
    socket_.write(frame);
}

void ScriptedPeer::send_raw(std::span<const std::uint8_t> bytes) {
    socket_.write(bytes);
}

std::optional<wire::Control> ScriptedPeer::next_control(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        while (in_.size() >= 4) {
            const std::size_t length =
                (std::size_t{in_[0]} << 24) | (in_[1] << 16) | (in_[2] << 8) | in_[3];
            if (in_.size() < 4 + length) break;
            SharedBuffer frame(std::span<const std::uint8_t>(in_.data() + 4, length));
            in_.erase(in_.begin(), in_.begin() + 4 + static_cast<std::ptrdiff_t>(length));
            if (length == 0) {
                ++ticks_;
                continue;
            }
            ops_.push_back(static_cast<wire::Op>(raw_op(frame.span(), op_cache_, op_atoms_)));
            auto decoded = decoder_->decode(frame, frame.span());
            REQUIRE_MESSAGE(decoded.has_value(), "the node sent a bad frame");
            if (*decoded) return std::move(**decoded);
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return std::nullopt;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
        if (socket_.read_some(in_, std::max(left, std::chrono::milliseconds(1))) == 0)
            return std::nullopt;
    }
}

bool ScriptedPeer::run_handshake(std::chrono::milliseconds limit, bool stop_after_challenge) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    if (stop_after_challenge) {
        // send_name out; then the status and the challenge in, raw, and not a byte more out.
        socket_.write(handshake_.take_output());
        std::size_t at = 0;
        int messages = 0;
        while (messages < 2) {
            if (in_.size() >= at + 2) {
                const std::size_t length = (std::size_t{in_[at]} << 8) | in_[at + 1];
                if (in_.size() >= at + 2 + length) {
                    if (++messages == 2) return length > 0 && in_[at + 2] == 'N';
                    at += 2 + length;
                    continue;
                }
            }
            if (!read_before(deadline)) return false;
        }
        return false;
    }
    for (;;) {
        if (auto out = handshake_.take_output(); !out.empty()) socket_.write(out);
        if (!in_.empty()) {
            auto progress = handshake_.feed(in_);
            in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(progress.used));
            using Event = wire::Handshake::Event;
            if (progress.event == Event::established) {
                socket_.write(handshake_.take_output());
                decoder_.emplace(handshake_.negotiated_flags());
                encoder_.emplace(handshake_.negotiated_flags());
                return true;
            }
            if (progress.event == Event::failed) return false;
            if (progress.event == Event::peer_says_alive) {
                handshake_.replace_alive(true);
                continue;
            }
            // Consumed something: what it queued goes out at the top of the loop.
            if (progress.used > 0) continue;
        }
        if (!read_before(deadline)) return false;
    }
}

bool ScriptedPeer::read_before(std::chrono::steady_clock::time_point deadline) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    return socket_.read_some(in_, std::max(left, std::chrono::milliseconds(1))) > 0;
}

void expect_echo(ScriptedPeer& peer, Atom tag) {
    const Pid me = peer.pid(1);
    peer.send(wire::RegSend{me, Atom::make("echo").value(), tuple(me, tag), std::nullopt});
    for (;;) {
        auto answer = peer.next_control();
        REQUIRE(answer.has_value());
        if (auto* send = std::get_if<wire::SendSender>(&*answer)) {
            CHECK(send->message == Term(tag));
            return;
        }
    }
}

}  // namespace distribute::testing
