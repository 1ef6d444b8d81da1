// A TCP proxy between two nodes on loopback that keeps every byte it forwards (a socket tap, in
// place of a packet capture) and, when armed, tampers with the next chunk one way: a flipped
// bit, the chunk sent twice (a replay), or the chunk cut short and the connection closed.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace distribute::testing {

class TapProxy {
  public:
    enum class Tamper { none, flip_bit, replay, truncate };

    // Listens on a free port (every interface: a node name's host may resolve to any of them);
    // forwards one connection at a time to `target_port` on loopback.
    explicit TapProxy(std::uint16_t target_port);
    ~TapProxy();
    TapProxy(const TapProxy&) = delete;
    TapProxy& operator=(const TapProxy&) = delete;

    std::uint16_t port() const { return port_; }
    // Everything forwarded so far, both directions.
    std::string captured() const;
    // The next chunk from the dialling side to the target gets `how`.
    void arm(Tamper how) { armed_.store(how); }
    bool tampered() const { return tampered_.load(); }

  private:
    void run();
    void pump(int from, int to, bool outbound);

    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::uint16_t target_port_ = 0;
    std::atomic<Tamper> armed_{Tamper::none};
    std::atomic<bool> tampered_{false};
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    std::string captured_;
    std::vector<int> sockets_;
    std::thread thread_;
};

}  // namespace distribute::testing
