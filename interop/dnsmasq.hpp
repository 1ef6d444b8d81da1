// A real DNS server for discovery tests: Debian's dnsmasq on 127.0.0.1 and a private port,
// answering for the domain `test` only (names it does not know get NXDOMAIN) from a hosts file
// (A and AAAA records, as many per name as lines) and SRV records. Killed when this object goes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "erl_fixture.hpp"

namespace distribute::testing {

struct SrvRecord {
    std::string name;    // _service._tcp.name.test
    std::string target;  // a host name
    std::uint16_t port = 0;
    std::uint16_t priority = 0;
    std::uint16_t weight = 0;
};

class Dnsmasq {
  public:
    // `hosts`: lines of a hosts file ("10.0.0.1 app.svc.test"). On `port`, or a free one when 0.
    // Throws FixtureError when dnsmasq cannot be started or does not answer.
    explicit Dnsmasq(const std::vector<std::string>& hosts, const std::vector<SrvRecord>& srv = {},
                     std::uint16_t port = 0);
    ~Dnsmasq();
    Dnsmasq(const Dnsmasq&) = delete;
    Dnsmasq& operator=(const Dnsmasq&) = delete;

    std::uint16_t port() const { return port_; }
    // "127.0.0.1:<port>", as DnsBackendOptions::servers takes it.
    std::string server() const { return "127.0.0.1:" + std::to_string(port_); }
    // Replaces the hosts file and makes dnsmasq read it again (SIGHUP), as records change when
    // pods come and go.
    void set_hosts(const std::vector<std::string>& hosts);
    // What dnsmasq wrote so far (queries are logged), for failure messages.
    std::string diagnostics();

  private:
    TempDir dir_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
    int out_ = -1;
    int err_ = -1;
    std::string output_;
};

}  // namespace distribute::testing
