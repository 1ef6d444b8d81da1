// DNS messages without I/O (RFC 1035, RFC 2782 for SRV, RFC 6891 for the EDNS0 OPT record): the
// query discovery sends and the parts of a response it reads (A, AAAA, SRV and CNAME answers).
// The parser is bounded like every parser of peer input here: it never reads past its span,
// follows at most max_pointer_jumps compression pointers per name (each strictly backwards, so a
// loop is impossible) and refuses names above 255 bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "distribute/expected.hpp"

namespace distribute::wire::dns {

enum class RecordType : std::uint16_t { a = 1, cname = 5, aaaa = 28, srv = 33, opt = 41 };

// Response codes a resolver may answer with (the low four bits of the header's flags).
enum class Rcode : std::uint8_t {
    no_error = 0,
    format_error = 1,
    server_failure = 2,
    name_error = 3,  // NXDOMAIN: the name does not exist
    not_implemented = 4,
    refused = 5,
};

inline constexpr std::size_t max_name_bytes = 255;  // on the wire, length bytes included
inline constexpr std::size_t max_label_bytes = 63;
inline constexpr int max_pointer_jumps = 16;
// What the OPT record tells the server it may send over UDP: the size DNS flag day 2020 settled
// on, small enough not to be fragmented on any usual path.
inline constexpr std::uint16_t edns_udp_payload = 1232;

struct SrvData {
    std::uint16_t priority = 0;
    std::uint16_t weight = 0;
    std::uint16_t port = 0;
    std::string target;  // without the trailing dot
};

using Ipv4 = std::array<std::uint8_t, 4>;
using Ipv6 = std::array<std::uint8_t, 16>;

struct Record {
    std::string name;  // lower case, without the trailing dot
    std::uint16_t type = 0;
    std::uint32_t ttl = 0;
    // A, AAAA, SRV, CNAME (its target); monostate for a type this parser does not read.
    std::variant<std::monostate, Ipv4, Ipv6, SrvData, std::string> data;
};

struct Response {
    std::uint16_t id = 0;
    bool truncated = false;  // TC: the answer did not fit; ask again over TCP
    Rcode rcode = Rcode::no_error;
    std::string question;  // the name asked, lower case
    std::uint16_t question_type = 0;
    std::vector<Record> answers;
};

struct DecodeError {
    std::string reason;
    std::size_t offset = 0;
};

// A recursive query (RD set) for one name and type, with an OPT record offering
// edns_udp_payload bytes. Names are "a.b.c" or "a.b.c."; an invalid one (an empty or too long
// label, too long in all) gives an error message.
[[nodiscard]] Expected<std::vector<std::uint8_t>, std::string> encode_query(std::uint16_t id,
                                                                            std::string_view name,
                                                                            RecordType type);

// The header, the question and the answer section of a response. Authority and additional
// records are not read.
[[nodiscard]] Expected<Response, DecodeError> decode_response(std::span<const std::uint8_t> bytes);

// Dotted-quad or RFC 5952 text of an address ("10.0.0.1", "fd00::2").
std::string to_string(const Ipv4& address);
std::string to_string(const Ipv6& address);

std::string_view rcode_name(Rcode rcode);

}  // namespace distribute::wire::dns
