// DNS queries over UDP, falling back to TCP for truncated answers, one server after another.
#include "net/dns_resolver.hpp"
#include "net/close_on_exec.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>

namespace distribute::net {

namespace dns = wire::dns;

namespace {

// The largest answer taken over UDP; TCP answers are bounded by their 16-bit length.
constexpr std::size_t max_udp_answer = 65535;

struct Query : std::enable_shared_from_this<Query> {
    Query(asio::io_context& io, std::vector<DnsServer> servers, std::string name,
          dns::RecordType type, std::chrono::milliseconds timeout,
          std::function<void(Expected<DnsAnswer, std::string>)> done)
        : strand(asio::make_strand(io)),
          udp_socket(strand),
          tcp_socket(strand),
          timer(strand),
          servers(std::move(servers)),
          name(std::move(name)),
          type(type),
          timeout(timeout),
          done(std::move(done)) {}

    void start() {
        if (servers.empty()) return finish(unexpected(std::string("no DNS server to ask")));
        auto query = dns::encode_query(0, name, type);
        if (!query) return finish(unexpected("cannot ask for '" + name + "': " + query.error()));
        ask(0);
    }

    // Every step runs on the strand; `attempt` tells a stale handler from the current one.
    void ask(std::size_t index) {
        close_sockets();
        if (index >= servers.size()) return finish(unexpected(failures));
        server = index;
        ++attempt;
        id = static_cast<std::uint16_t>(random());
        query = dns::encode_query(id, name, type).value();
        const auto& at = servers[index];
        udp::endpoint endpoint(at.address, at.port);
        boost::system::error_code e;
        udp_socket.open(endpoint.protocol(), e);
        if (!e) close_on_exec(udp_socket.native_handle());
        // Connected: the kernel drops datagrams from any other address for us.
        if (!e) udp_socket.connect(endpoint, e);
        if (e) return next("cannot open a socket: " + e.message());
        arm_timer();
        udp_socket.async_send(asio::buffer(query),
                              [self = shared_from_this(), a = attempt](
                                  const boost::system::error_code& e, std::size_t) {
                                  if (a != self->attempt) return;
                                  if (e) return self->next("cannot send: " + e.message());
                                  self->receive_datagram();
                              });
    }

    void arm_timer() {
        timer.expires_after(timeout);
        timer.async_wait(
            [self = shared_from_this(), a = attempt](const boost::system::error_code& e) {
                if (e || a != self->attempt) return;
                self->next("no answer within " + std::to_string(self->timeout.count()) + " ms");
            });
    }

    void receive_datagram() {
        answer.resize(max_udp_answer);
        udp_socket.async_receive(asio::buffer(answer),
                                 [self = shared_from_this(), a = attempt](
                                     const boost::system::error_code& e, std::size_t n) {
                                     if (a != self->attempt) return;
                                     if (e) return self->next("cannot receive: " + e.message());
                                     self->answer.resize(n);
                                     self->on_answer(/*over_tcp=*/false);
                                 });
    }

    void ask_over_tcp() {
        boost::system::error_code ignored;
        udp_socket.close(ignored);
        const auto& at = servers[server];
        tcp_socket.async_connect(
            tcp::endpoint(at.address, at.port),
            [self = shared_from_this(), a = attempt](const boost::system::error_code& e) {
                if (a != self->attempt) return;
                if (e) return self->next("truncated over UDP; TCP connect: " + e.message());
                close_on_exec(self->tcp_socket.native_handle());
                self->length_prefix = {static_cast<std::uint8_t>(self->query.size() >> 8),
                                       static_cast<std::uint8_t>(self->query.size())};
                std::array<asio::const_buffer, 2> out{asio::buffer(self->length_prefix),
                                                      asio::buffer(self->query)};
                asio::async_write(self->tcp_socket, out,
                                  [self, a](const boost::system::error_code& e, std::size_t) {
                                      if (a != self->attempt) return;
                                      if (e) return self->next("TCP send: " + e.message());
                                      self->read_tcp_length();
                                  });
            });
    }

    void read_tcp_length() {
        asio::async_read(tcp_socket, asio::buffer(length_prefix),
                         [self = shared_from_this(), a = attempt](
                             const boost::system::error_code& e, std::size_t) {
                             if (a != self->attempt) return;
                             if (e) return self->next("TCP receive: " + e.message());
                             self->answer.resize((std::size_t{self->length_prefix[0]} << 8) |
                                                 self->length_prefix[1]);
                             asio::async_read(
                                 self->tcp_socket, asio::buffer(self->answer),
                                 [self, a](const boost::system::error_code& e, std::size_t) {
                                     if (a != self->attempt) return;
                                     if (e) return self->next("TCP receive: " + e.message());
                                     self->on_answer(/*over_tcp=*/true);
                                 });
                         });
    }

    void on_answer(bool over_tcp) {
        auto response = dns::decode_response(answer);
        // Over UDP, a datagram that is not our answer (a late one to an earlier id) is ignored.
        const bool ours = response && response->id == id && response->question == lowered() &&
                          response->question_type == static_cast<std::uint16_t>(type);
        if (!ours) {
            if (!over_tcp) return receive_datagram();
            return next(response ? std::string("an answer to another question")
                                 : "a malformed answer: " + response.error().reason + " at byte " +
                                       std::to_string(response.error().offset));
        }
        if (response->truncated) {
            if (over_tcp) return next("a truncated answer over TCP");
            return ask_over_tcp();
        }
        if (response->rcode != dns::Rcode::no_error && response->rcode != dns::Rcode::name_error)
            return next(std::string("answered ") + std::string(dns::rcode_name(response->rcode)));
        DnsAnswer out;
        out.rcode = response->rcode;
        out.over_tcp = over_tcp;
        for (auto& record : response->answers)
            if (record.type == static_cast<std::uint16_t>(type))
                out.records.push_back(std::move(record));
        finish(std::move(out));
    }

    std::string lowered() const {
        std::string out;
        for (char c : name)
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (!out.empty() && out.back() == '.') out.pop_back();
        return out;
    }

    void next(const std::string& why) {
        if (!failures.empty()) failures += "; ";
        failures += servers[server].to_string() + ": " + why;
        ask(server + 1);
    }

    void close_sockets() {
        boost::system::error_code ignored;
        udp_socket.close(ignored);
        tcp_socket.close(ignored);
        timer.cancel();
    }

    void finish(Expected<DnsAnswer, std::string> result) {
        ++attempt;  // every handler still pending is stale from now on
        close_sockets();
        if (!done) return;
        auto callback = std::move(done);
        done = nullptr;
        callback(std::move(result));
    }

    static std::uint32_t random() {
        thread_local std::mt19937 engine{std::random_device{}()};
        return engine();
    }

    asio::strand<asio::io_context::executor_type> strand;
    udp::socket udp_socket;
    tcp::socket tcp_socket;
    asio::steady_timer timer;
    std::vector<DnsServer> servers;
    std::string name;
    dns::RecordType type;
    std::chrono::milliseconds timeout;
    std::function<void(Expected<DnsAnswer, std::string>)> done;
    std::size_t server = 0;
    std::uint64_t attempt = 0;
    std::uint16_t id = 0;
    std::vector<std::uint8_t> query;
    std::vector<std::uint8_t> answer;
    std::array<std::uint8_t, 2> length_prefix{};
    std::string failures;
};

}  // namespace

std::string DnsServer::to_string() const {
    if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(port);
    return address.to_string() + ":" + std::to_string(port);
}

Expected<DnsServer, std::string> parse_dns_server(std::string_view text) {
    std::string host(text);
    std::string port_text;
    if (!host.empty() && host.front() == '[') {
        const auto close = host.find(']');
        if (close == std::string::npos) return unexpected("'" + std::string(text) + "': no ']'");
        if (close + 1 < host.size()) {
            if (host[close + 1] != ':')
                return unexpected("'" + std::string(text) + "': ':' expected after ']'");
            port_text = host.substr(close + 2);
        }
        host = host.substr(1, close - 1);
    } else if (std::count(host.begin(), host.end(), ':') == 1) {
        port_text = host.substr(host.find(':') + 1);
        host.resize(host.find(':'));
    }
    boost::system::error_code e;
    DnsServer server;
    server.address = asio::ip::make_address(host, e);
    if (e) return unexpected("'" + std::string(text) + "' is not an IP address (and port)");
    if (!port_text.empty()) {
        unsigned long port = 0;
        try {
            std::size_t used = 0;
            port = std::stoul(port_text, &used);
            if (used != port_text.size()) port = 0;
        } catch (const std::exception&) {
            port = 0;
        }
        if (port == 0 || port > 65535)
            return unexpected("'" + std::string(text) + "': the port is not 1 to 65535");
        server.port = static_cast<std::uint16_t>(port);
    }
    return server;
}

std::vector<DnsServer> system_dns_servers(const std::string& resolv_conf) {
    std::vector<DnsServer> out;
    std::ifstream in(resolv_conf);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string keyword, address;
        if (!(words >> keyword >> address) || keyword != "nameserver") continue;
        // A scope (fe80::1%eth0) is not something make_address takes; such servers are skipped.
        if (auto server = parse_dns_server(address)) out.push_back(*server);
    }
    return out;
}

void async_dns_query(asio::io_context& io, std::vector<DnsServer> servers, std::string name,
                     dns::RecordType type, std::chrono::milliseconds timeout,
                     std::function<void(Expected<DnsAnswer, std::string>)> done) {
    auto query = std::make_shared<Query>(io, std::move(servers), std::move(name), type, timeout,
                                         std::move(done));
    asio::dispatch(query->strand, [query] { query->start(); });
}

}  // namespace distribute::net
