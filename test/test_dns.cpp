// DNS for discovery: queries byte for byte as OTP's inet_dns encodes them, and answers captured
// from Debian's dnsmasq 2.90 (A, AAAA, SRV, NXDOMAIN) decoded; every truncation and bad pointer
// gives an error. The resolver against a real dnsmasq is in interop/test_discovery_dns.cpp.
#include <doctest/doctest.h>

#include "net/dns_resolver.hpp"
#include "wire/dns_message.hpp"

using namespace distribute;
namespace dns = distribute::wire::dns;

namespace {

using Bytes = std::vector<std::uint8_t>;

// inet_dns:encode of a query for app.svc.test, type a, id 16#1234, rd, with an OPT record of
// udp_payload_size 1232 (OTP 25).
const Bytes otp_query_a = {18,  52,  1, 0,   0,   1,  0,   0,   0,   0,   0,   1, 3, 97,
                           112, 112, 3, 115, 118, 99, 4,   116, 101, 115, 116, 0, 0, 1,
                           0,   1,   0, 0,   41,  4,  208, 0,   0,   0,   0,   0, 0};
// The same for _dist._tcp.svc.test, type srv, id 7.
const Bytes otp_query_srv = {0,   7,   1,   0,   0,   1,   0,   0,   0,   0,  0,   1,
                             5,   95,  100, 105, 115, 116, 4,   95,  116, 99, 112, 3,
                             115, 118, 99,  4,   116, 101, 115, 116, 0,   0,  33,  0,
                             1,   0,   0,   41,  4,   208, 0,   0,   0,   0,  0,   0};

// dnsmasq's answer to otp_query_a with hosts "10.0.0.1 app.svc.test" and "10.0.0.2 app.svc.test".
const Bytes dnsmasq_a = {18,  52,  133, 128, 0,  1, 0,   2,   0,   0,   0, 1, 3,  97, 112,
                         112, 3,   115, 118, 99, 4, 116, 101, 115, 116, 0, 0, 1,  0,  1,
                         192, 12,  0,   1,   0,  1, 0,   0,   0,   0,   0, 4, 10, 0,  0,
                         1,   192, 12,  0,   1,  0, 1,   0,   0,   0,   0, 0, 4,  10, 0,
                         0,   2,   0,   0,   41, 4, 208, 0,   0,   0,   0, 0, 0};
// Its answer for AAAA with "fd00::2 app.svc.test".
const Bytes dnsmasq_aaaa = {18,  53,  133, 128, 0,   1,  0,   1,   0,   0,   0,   1, 3, 97,
                            112, 112, 3,   115, 118, 99, 4,   116, 101, 115, 116, 0, 0, 28,
                            0,   1,   192, 12,  0,   28, 0,   1,   0,   0,   0,   0, 0, 16,
                            253, 0,   0,   0,   0,   0,  0,   0,   0,   0,   0,   0, 0, 0,
                            0,   2,   0,   0,   41,  4,  208, 0,   0,   0,   0,   0, 0};
// Its answer to otp_query_srv with --srv-host=_dist._tcp.svc.test,pod-1.svc.test,9100,0,10 and
// --srv-host=_dist._tcp.svc.test,pod-2.svc.test,9101,1,20.
const Bytes dnsmasq_srv = {
    0,   7,   133, 128, 0,  1,   0,   2,   0,   0,  0, 1,   5,   95,  100, 105, 115,
    116, 4,   95,  116, 99, 112, 3,   115, 118, 99, 4, 116, 101, 115, 116, 0,   0,
    33,  0,   1,   192, 12, 0,   33,  0,   1,   0,  0, 0,   0,   0,   22,  0,   1,
    0,   20,  35,  141, 5,  112, 111, 100, 45,  50, 3, 115, 118, 99,  4,   116, 101,
    115, 116, 0,   192, 12, 0,   33,  0,   1,   0,  0, 0,   0,   0,   22,  0,   0,
    0,   10,  35,  140, 5,  112, 111, 100, 45,  49, 3, 115, 118, 99,  4,   116, 101,
    115, 116, 0,   0,   0,  41,  4,   208, 0,   0,  0, 0,   0,   0};
// Its answer for missing.svc.test, type a, id 9 (--local=/test/).
const Bytes dnsmasq_nxdomain = {
    0,  9, 129, 131, 0,   1,   0, 0, 0, 0, 0, 1, 7, 109, 105, 115, 115, 105, 110, 103, 3, 115, 118,
    99, 4, 116, 101, 115, 116, 0, 0, 1, 0, 1, 0, 0, 41,  4,   208, 0,   0,   0,   0,   0, 0};

}  // namespace

TEST_CASE("a DNS query is encoded byte for byte as OTP's inet_dns encodes it") {
    CHECK(dns::encode_query(0x1234, "app.svc.test", dns::RecordType::a).value() == otp_query_a);
    CHECK(dns::encode_query(0x1234, "app.svc.test.", dns::RecordType::a).value() == otp_query_a);
    CHECK(dns::encode_query(7, "_dist._tcp.svc.test", dns::RecordType::srv).value() ==
          otp_query_srv);
}

TEST_CASE("a DNS name with an empty label, a label above 63 bytes or 255 bytes in all is refused") {
    CHECK_FALSE(dns::encode_query(1, "", dns::RecordType::a).has_value());
    CHECK_FALSE(dns::encode_query(1, "a..b", dns::RecordType::a).has_value());
    CHECK_FALSE(
        dns::encode_query(1, std::string(64, 'x') + ".test", dns::RecordType::a).has_value());
    CHECK(dns::encode_query(1, std::string(63, 'x') + ".test", dns::RecordType::a).has_value());
    std::string long_name;
    for (int i = 0; i < 5; ++i)
        long_name += std::string(50, 'x') + ".";
    long_name += "test";  // 5 * 51 + 5 + 1 = 261 bytes on the wire
    CHECK_FALSE(dns::encode_query(1, long_name, dns::RecordType::a).has_value());
}

TEST_CASE("dnsmasq's answer with two A records decodes to both addresses") {
    auto response = dns::decode_response(dnsmasq_a);
    REQUIRE(response.has_value());
    CHECK(response->id == 0x1234);
    CHECK_FALSE(response->truncated);
    CHECK(response->rcode == dns::Rcode::no_error);
    CHECK(response->question == "app.svc.test");
    CHECK(response->question_type == 1);
    REQUIRE(response->answers.size() == 2);
    CHECK(response->answers[0].name == "app.svc.test");
    CHECK(dns::to_string(std::get<dns::Ipv4>(response->answers[0].data)) == "10.0.0.1");
    CHECK(dns::to_string(std::get<dns::Ipv4>(response->answers[1].data)) == "10.0.0.2");
}

TEST_CASE("dnsmasq's AAAA answer decodes to the IPv6 address in RFC 5952 form") {
    auto response = dns::decode_response(dnsmasq_aaaa);
    REQUIRE(response.has_value());
    REQUIRE(response->answers.size() == 1);
    CHECK(dns::to_string(std::get<dns::Ipv6>(response->answers[0].data)) == "fd00::2");
}

TEST_CASE("dnsmasq's SRV answer decodes to priority, weight, port and a compressed target") {
    auto response = dns::decode_response(dnsmasq_srv);
    REQUIRE(response.has_value());
    REQUIRE(response->answers.size() == 2);
    auto& first = std::get<dns::SrvData>(response->answers[0].data);
    CHECK(first.priority == 1);
    CHECK(first.weight == 20);
    CHECK(first.port == 9101);
    CHECK(first.target == "pod-2.svc.test");
    auto& second = std::get<dns::SrvData>(response->answers[1].data);
    CHECK(second.port == 9100);
    CHECK(second.target == "pod-1.svc.test");
}

TEST_CASE("dnsmasq's NXDOMAIN answer decodes as name_error with no answers") {
    auto response = dns::decode_response(dnsmasq_nxdomain);
    REQUIRE(response.has_value());
    CHECK(response->rcode == dns::Rcode::name_error);
    CHECK(response->question == "missing.svc.test");
    CHECK(response->answers.empty());
}

TEST_CASE("a DNS answer cut at any byte gives an error, never a record read past its end") {
    for (const Bytes* golden : {&dnsmasq_a, &dnsmasq_aaaa, &dnsmasq_srv}) {
        // The OPT record at the end is not read: a cut inside it still decodes.
        const std::size_t needed = golden->size() - 11;
        for (std::size_t n = 0; n < needed; ++n) {
            auto response = dns::decode_response(std::span(golden->data(), n));
            CHECK_FALSE(response.has_value());
        }
    }
}

TEST_CASE("a compression pointer that does not point back, or a chain of them, is refused") {
    Bytes forward = dnsmasq_a;
    forward[31] = 60;  // the first answer's name points at a later byte
    auto response = dns::decode_response(forward);
    REQUIRE_FALSE(response.has_value());
    CHECK(response.error().reason.find("point back") != std::string::npos);
    CHECK(response.error().offset == 30);

    Bytes self = dnsmasq_a;
    self[31] = 30;  // at itself
    CHECK_FALSE(dns::decode_response(self).has_value());

    // Questions whose names are each a pointer to the name of the question before: the last one
    // takes 20 jumps to reach a label.
    Bytes chain = {0, 1, 0x81, 0x80, 0, 21, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1};
    std::size_t previous = 12;
    for (int i = 0; i < 20; ++i) {
        const std::size_t here = chain.size();
        chain.insert(chain.end(), {0xC0, static_cast<std::uint8_t>(previous), 0, 1, 0, 1});
        previous = here;
    }
    auto chained = dns::decode_response(chain);
    REQUIRE_FALSE(chained.has_value());
    CHECK(chained.error().reason == "too many compression pointers");
}

TEST_CASE(
    "a DNS record cut inside its TTL is reported as a cut header, at a byte inside the answer") {
    // The first answer's header: name 30-31, type, class, TTL 36-39, data length 40-41. Cut
    // after three bytes of the TTL, the data length must not be read from the TTL's bytes.
    auto response = dns::decode_response(std::span(dnsmasq_a.data(), 39));
    REQUIRE_FALSE(response.has_value());
    CHECK(response.error().reason == "a record header runs past the end");
    CHECK(response.error().offset <= 39);
}

TEST_CASE("a DNS label holding a dot, a control byte or a non-ASCII byte is refused") {
    for (const std::uint8_t bad :
         {std::uint8_t('.'), std::uint8_t(0), std::uint8_t(' '), std::uint8_t(0x80)}) {
        Bytes odd = dnsmasq_a;
        odd[14] = bad;  // inside the question's first label, "app"
        auto response = dns::decode_response(odd);
        REQUIRE_FALSE(response.has_value());
        CHECK(response.error().reason == "a label holds a byte a host name cannot have");
        CHECK(response.error().offset == 14);
    }
}

TEST_CASE("a truncated DNS answer is reported as truncated, its records unread") {
    Bytes truncated = dnsmasq_a;
    truncated[2] |= 0x02;  // TC
    truncated.resize(40);  // cut inside the first answer
    auto response = dns::decode_response(truncated);
    REQUIRE(response.has_value());
    CHECK(response->truncated);
    CHECK(response->answers.empty());
}

TEST_CASE("a DNS message that is a query, not a response, is refused") {
    CHECK_FALSE(dns::decode_response(otp_query_a).has_value());
}

TEST_CASE("DNS servers are read as address, address:port or [v6]:port") {
    auto plain = net::parse_dns_server("10.0.0.53");
    REQUIRE(plain.has_value());
    CHECK(plain->to_string() == "10.0.0.53:53");
    CHECK(net::parse_dns_server("127.0.0.1:5353")->port == 5353);
    CHECK(net::parse_dns_server("::1")->to_string() == "[::1]:53");
    CHECK(net::parse_dns_server("[::1]:5353")->to_string() == "[::1]:5353");
    CHECK_FALSE(net::parse_dns_server("dns.example").has_value());
    CHECK_FALSE(net::parse_dns_server("127.0.0.1:0").has_value());
    CHECK_FALSE(net::parse_dns_server("127.0.0.1:70000").has_value());
    CHECK_FALSE(net::parse_dns_server("[::1").has_value());
}
