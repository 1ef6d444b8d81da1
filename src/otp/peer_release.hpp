// The OTP release each peer runs, as erlang:system_info(otp_release) answers it there ("25",
// "27"): what a protocol whose shape changed between releases with no handshake flag to show it
// (sys:get_state's replies) needs to know of its caller. Asked once per connection, with the one
// erpc call (erpc_async.hpp), and forgotten when that connection goes down, since a node can come
// back with another release.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "distribute/expected.hpp"
#include "node/runtime.hpp"

namespace distribute::otp {

class PeerReleases {
  public:
    // The release, or why it could not be learned (the node went down, it serves no erpc).
    using Answer = Expected<std::string, std::string>;
    using Done = std::function<void(const Answer&)>;

    explicit PeerReleases(node::Runtime& runtime) : runtime_(runtime) {}

    // The peer releases of `runtime`'s node (kept by its Membership).
    static PeerReleases& of(node::Runtime& runtime);

    // What this connection to `node` has answered already, if it has.
    std::optional<Answer> known(Atom node);
    // Asks `node` unless the question is out already; `done` runs on one of the node's threads
    // once it is answered, or at once on this thread when the answer is known or no connection
    // is up. Requests to one node share one question.
    void learn(Atom node, Done done);

    // Subscribed to node events: a connection that goes down takes its answer with it.
    void start();
    void stop();

  private:
    struct Entry {
        std::uint64_t connection = 0;  // the id of the connection that was asked
        std::optional<Answer> answer;
        std::vector<Done> waiting;
    };
    // The id of the connection to `node` while it is up, else nullopt.
    std::optional<std::uint64_t> connection_up(Atom node) const;
    void answered(Atom node, std::uint64_t connection, Answer answer);

    node::Runtime& runtime_;
    std::mutex mutex_;
    std::map<Atom, Entry> entries_;
    std::uint64_t subscription_ = 0;
};

}  // namespace distribute::otp
