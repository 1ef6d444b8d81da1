// A DNS stub resolver on the node's io_context: one query at a time to a list of servers, over
// UDP, and again over TCP when the answer came back truncated (a headless service with many pods
// gives more addresses than a datagram holds). Written here rather than taken from c-ares: the
// three record types discovery needs are a small codec (wire/dns_message), and this way queries
// run on Asio like every other socket of the node instead of on a second event loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "distribute/expected.hpp"
#include "net/asio.hpp"
#include "wire/dns_message.hpp"

namespace distribute::net {

struct DnsServer {
    asio::ip::address address;
    std::uint16_t port = 53;
    std::string to_string() const;
};

// "10.0.0.53", "10.0.0.53:5353", "::1", "[::1]:5353".
[[nodiscard]] Expected<DnsServer, std::string> parse_dns_server(std::string_view text);

// The `nameserver` lines of a resolv.conf file, in order; empty when there are none or the file
// cannot be read.
std::vector<DnsServer> system_dns_servers(const std::string& resolv_conf = "/etc/resolv.conf");

struct DnsAnswer {
    wire::dns::Rcode rcode = wire::dns::Rcode::no_error;
    // The answers of the asked type (the server follows CNAMEs; their records are left out).
    std::vector<wire::dns::Record> records;
    bool over_tcp = false;  // the UDP answer came truncated and this one over TCP
};

// Asks each server in turn until one answers: with NOERROR or NXDOMAIN (a final answer), else
// (no answer within `timeout`, SERVFAIL, REFUSED, a malformed reply) the next server. `done` runs
// once, on `io`, with the answer or what went wrong with every server.
void async_dns_query(asio::io_context& io, std::vector<DnsServer> servers, std::string name,
                     wire::dns::RecordType type, std::chrono::milliseconds timeout,
                     std::function<void(Expected<DnsAnswer, std::string>)> done);

}  // namespace distribute::net
