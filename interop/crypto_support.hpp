// What the encrypted-transport interop tests share: a node's options in a crypto mode, our nodes in
// require mode on one private EPMD (each with its own log), and reading from a node's log that
// its connections came up encrypted and never in plaintext.
#pragma once

#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "node_support.hpp"

namespace distribute::testing {

inline NodeOptions with_crypto(NodeOptions options, CryptoMode mode) {
    options.crypto.mode = mode;
    return options;
}

// A connection to `peer` came up encrypted under a Noise protocol name that starts with
// `protocol` ("Noise_NNpsk0_25519_AESGCM_SHA256", or "Noise_" for any), as the nodeup line of
// `log` says.
inline bool came_up_encrypted(const LogCapture& log, Atom peer,
                              const std::string& protocol = "Noise_") {
    const std::string node_field = "node=" + std::string(peer.name()) + " ";
    std::istringstream lines(log.text());
    for (std::string line; std::getline(lines, line);)
        if (line.find("event=nodeup") != std::string::npos &&
            line.find(node_field) != std::string::npos &&
            line.find("security=\"encrypted (" + protocol) != std::string::npos)
            return true;
    return false;
}

// Our nodes in require mode on one private EPMD, started in the order of `prefixes` and not
// connected: a test connects them (or keeps some apart).
class RequireNodes {
  public:
    explicit RequireNodes(std::initializer_list<std::string_view> prefixes) {
        logs_.reserve(prefixes.size());
        for (const std::string_view prefix : prefixes) {
            logs_.emplace_back();
            nodes_.push_back(std::make_unique<Node>(start_node(
                with_crypto(cluster_.node_options(prefix, &logs_.back()), CryptoMode::require))));
        }
    }

    Node& operator[](std::size_t i) { return *nodes_[i]; }
    const LogCapture& log(std::size_t i) const { return logs_[i]; }
    const Cluster& cluster() const { return cluster_; }

    // Every node's log, to explain a failure.
    std::string log_text() const {
        std::string out;
        for (const LogCapture& log : logs_)
            out += log.text();
        return out;
    }

    // Each pair of the running nodes `which` came up encrypted on both sides, and no connection
    // of theirs ever came up in plaintext.
    void check_encrypted(std::initializer_list<std::size_t> which) const {
        for (const std::size_t i : which) {
            for (const std::size_t j : which)
                if (i != j)
                    eventually([&] { return came_up_encrypted(logs_[i], nodes_[j]->name()); });
            CHECK_FALSE(logs_[i].contains("security=plaintext"));
        }
    }

  private:
    Cluster cluster_;
    std::vector<LogCapture> logs_;
    std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace distribute::testing
