// The DNS backend: A and AAAA records (a headless service's pods) or SRV records (host and port)
// made into node names with a pattern.
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include "cluster/found_nodes.hpp"
#include "distribute/discovery.hpp"
#include "net/dns_resolver.hpp"

namespace distribute {

namespace asio = net::asio;
namespace dns = wire::dns;

namespace {

using Fields = std::map<std::string, std::string>;

// The placeholders each kind of query can fill.
const std::vector<std::string>& placeholders(DnsBackendOptions::Query query) {
    static const std::vector<std::string> address = {"ip", "ip_dashed", "host", "host_label"};
    static const std::vector<std::string> srv = {"host", "host_label", "port"};
    return query == DnsBackendOptions::Query::address ? address : srv;
}

// The pattern with every {field} replaced; fields were checked when the backend was made.
std::string expand(const std::string& pattern, const Fields& fields) {
    std::string out;
    for (std::size_t i = 0; i < pattern.size();) {
        if (pattern[i] == '{') {
            const auto close = pattern.find('}', i);
            out += fields.at(pattern.substr(i + 1, close - i - 1));
            i = close + 1;
        } else {
            out += pattern[i++];
        }
    }
    return out;
}

Expected<void, DiscoveryError> check_pattern(const DnsBackendOptions& options) {
    auto bad = [&](std::string why) {
        return unexpected(DiscoveryError{
            DiscoveryErrc::bad_config, "dns node_pattern '" + options.node_pattern + "': " + why});
    };
    if (options.node_pattern.find('@') == std::string::npos)
        return bad("no '@' (a node name is alive@host)");
    bool any = false;
    for (std::size_t i = 0; i < options.node_pattern.size(); ++i) {
        if (options.node_pattern[i] == '}') return bad("a '}' without its '{'");
        if (options.node_pattern[i] != '{') continue;
        const auto close = options.node_pattern.find('}', i);
        if (close == std::string::npos) return bad("a '{' without its '}'");
        const auto field = options.node_pattern.substr(i + 1, close - i - 1);
        const auto& allowed = placeholders(options.query);
        if (std::find(allowed.begin(), allowed.end(), field) == allowed.end()) {
            std::string list;
            for (auto& name : allowed)
                list += (list.empty() ? "{" : ", {") + name + "}";
            return bad("{" + field + "} is not one of " + list + " for " +
                       (options.query == DnsBackendOptions::Query::srv ? "SRV" : "address") +
                       " queries");
        }
        any = true;
        i = close;
    }
    if (!any) return bad("no placeholder: every record would make the same node");
    return {};
}

std::string dashed(std::string address) {
    std::replace(address.begin(), address.end(), '.', '-');
    std::replace(address.begin(), address.end(), ':', '-');
    return address;
}

std::string first_label(const std::string& host) {
    return host.substr(0, host.find('.'));
}

class DnsBackend final : public DiscoveryBackend {
  public:
    DnsBackend(DnsBackendOptions options, std::vector<net::DnsServer> servers)
        : options_(std::move(options)), servers_(std::move(servers)) {}

    std::string name() const override { return "dns " + options_.name; }

    void discover(asio::io_context& io, Done done) override {
        std::vector<dns::RecordType> types;
        if (options_.query == DnsBackendOptions::Query::srv) {
            types.push_back(dns::RecordType::srv);
        } else {
            if (options_.ipv4) types.push_back(dns::RecordType::a);
            if (options_.ipv6) types.push_back(dns::RecordType::aaaa);
        }
        struct Gather {
            std::mutex mutex;
            std::size_t waiting = 0;
            std::size_t answered = 0;
            std::size_t missing = 0;  // NXDOMAIN answers
            std::vector<dns::Record> records;
            std::string failures;
            Done done;
        };
        auto gather = std::make_shared<Gather>();
        gather->waiting = types.size();
        gather->done = std::move(done);
        auto servers = servers_.empty() ? net::system_dns_servers() : servers_;
        for (auto type : types) {
            net::async_dns_query(
                io, servers, options_.name, type, options_.timeout,
                // The backend may be gone when the answer comes: the options travel by value.
                [options = options_, gather, type](Expected<net::DnsAnswer, std::string> answer) {
                    std::lock_guard lock(gather->mutex);
                    if (answer) {
                        ++gather->answered;
                        gather->missing += answer->rcode == dns::Rcode::name_error;
                        for (auto& record : answer->records)
                            gather->records.push_back(std::move(record));
                    } else {
                        gather->failures += std::string(gather->failures.empty() ? "" : "; ") +
                                            (type == dns::RecordType::aaaa ? "AAAA: " : "") +
                                            answer.error();
                    }
                    if (--gather->waiting != 0) return;
                    if (gather->answered == 0)
                        return gather->done(unexpected(
                            DiscoveryError{DiscoveryErrc::unreachable, gather->failures}));
                    gather->done(nodes_of(options, gather->records, gather->failures,
                                          gather->missing == gather->answered));
                });
        }
    }

  private:
    static Found nodes_of(const DnsBackendOptions& options, const std::vector<dns::Record>& records,
                          std::string warning, bool name_missing) {
        Found found;
        std::string bad;
        for (auto& record : records) {
            Fields fields;
            std::uint16_t port = 0;
            if (auto* v4 = std::get_if<dns::Ipv4>(&record.data)) {
                fields["ip"] = fields["host"] = dns::to_string(*v4);
            } else if (auto* v6 = std::get_if<dns::Ipv6>(&record.data)) {
                fields["ip"] = fields["host"] = dns::to_string(*v6);
            } else if (auto* srv = std::get_if<dns::SrvData>(&record.data)) {
                fields["host"] = srv->target;
                fields["port"] = std::to_string(srv->port);
                port = srv->port;
            } else {
                continue;
            }
            if (fields.count("ip")) fields["ip_dashed"] = dashed(fields["ip"]);
            fields["host_label"] = first_label(fields["host"]);
            cluster::add_node(found, expand(options.node_pattern, fields),
                              "a record of " + options.name, bad, port);
        }
        if (name_missing)
            warning += std::string(warning.empty() ? "" : "; ") + options.name +
                       " does not exist (NXDOMAIN)";
        if (!bad.empty()) warning += std::string(warning.empty() ? "" : "; ") + bad;
        found.warning = std::move(warning);
        return found;
    }

    DnsBackendOptions options_;
    std::vector<net::DnsServer> servers_;
};

}  // namespace

Expected<std::unique_ptr<DiscoveryBackend>, DiscoveryError> dns_backend(DnsBackendOptions options) {
    if (options.name.empty())
        return unexpected(DiscoveryError{DiscoveryErrc::bad_config, "dns: no name to look up"});
    if (options.query == DnsBackendOptions::Query::address && !options.ipv4 && !options.ipv6)
        return unexpected(
            DiscoveryError{DiscoveryErrc::bad_config, "dns: neither A nor AAAA records asked for"});
    if (auto checked = check_pattern(options); !checked) return unexpected(checked.error());
    std::vector<net::DnsServer> servers;
    for (auto& text : options.servers) {
        auto server = net::parse_dns_server(text);
        if (!server)
            return unexpected(
                DiscoveryError{DiscoveryErrc::bad_config, "dns server " + server.error()});
        servers.push_back(*server);
    }
    return std::unique_ptr<DiscoveryBackend>(
        std::make_unique<DnsBackend>(std::move(options), std::move(servers)));
}

}  // namespace distribute
