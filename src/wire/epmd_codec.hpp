// The EPMD protocol without I/O: requests (each behind a 2-byte length) and replies (no length),
// encoded to bytes and parsed from bytes. Parsers take what has arrived so far and answer with a
// value and the bytes it used, "need more" (nullopt), or an error with the offset where the input
// went wrong. They never read past their span and bound every length by the limits below.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include "distribute/error.hpp"
#include "distribute/expected.hpp"

namespace distribute::wire::epmd {

namespace tag {
inline constexpr std::uint8_t alive2_req = 120;     // 'x'
inline constexpr std::uint8_t alive2_resp = 121;    // 'y', 16-bit creation
inline constexpr std::uint8_t alive2_x_resp = 118;  // 'v', 32-bit creation
inline constexpr std::uint8_t port_please2_req = 122;
inline constexpr std::uint8_t port2_resp = 119;
inline constexpr std::uint8_t names_req = 110;
inline constexpr std::uint8_t dump_req = 100;
inline constexpr std::uint8_t kill_req = 107;
inline constexpr std::uint8_t stop_req = 115;
}  // namespace tag

inline constexpr std::uint8_t node_type_normal = 77;  // 'M'
inline constexpr std::uint8_t node_type_hidden = 72;  // 'H'

// What we accept, as OTP 25's epmd does (measured): a request body of at most 3057 bytes (its
// input buffer is 3 * 1020 bytes, less the length and the NUL it appends), names of 1 to 255 UTF-8
// characters without NUL, extra data of at most 1020 bytes. The largest valid ALIVE2 (a name of
// 255 four-byte characters and 1020 bytes of extra) takes 2053 bytes.
inline constexpr std::size_t max_request_bytes = 3057;
inline constexpr std::size_t max_name_chars = 255;
inline constexpr std::size_t max_extra_bytes = 1020;

enum class CodecErrc {
    bad_length = 1,   // a request length of 0 or above max_request_bytes
    unknown_request,  // a request tag EPMD does not have
    truncated,        // a field runs past the end of its request
    bad_name,         // empty, too long, NUL inside, or not UTF-8
    bad_extra,        // extra data above max_extra_bytes
    bad_reply,        // a reply with the wrong tag or a field that does not add up
};
const std::error_category& codec_category() noexcept;
std::error_code make_error_code(CodecErrc e) noexcept;

struct CodecError {
    CodecErrc code{};
    std::size_t offset = 0;  // where in the input the problem was found
};

template <class T>
struct Parsed {
    T value;
    std::size_t used = 0;  // bytes of the input this value took
};

// nullopt: the input is a valid beginning; feed more bytes.
template <class T>
using ParseResult = Expected<std::optional<Parsed<T>>, CodecError>;

// A node as EPMD knows it: ALIVE2_REQ's fields, and PORT2_RESP's.
struct NodeRecord {
    std::uint16_t port = 0;
    std::uint8_t node_type = node_type_normal;
    std::uint8_t protocol = 0;  // 0: TCP/IPv4
    std::uint16_t highest = 6;
    std::uint16_t lowest = 5;
    std::string name;  // the part before '@'
    std::vector<std::uint8_t> extra;

    bool operator==(const NodeRecord&) const = default;
};

struct Alive2Request {
    NodeRecord node;
};
struct PortPlease2Request {
    std::string name;
};
struct NamesRequest {};
struct DumpRequest {};
struct KillRequest {};
struct StopRequest {
    std::string name;
};
using Request = std::variant<Alive2Request, PortPlease2Request, NamesRequest, DumpRequest,
                             KillRequest, StopRequest>;

// The request with its 2-byte length.
std::vector<std::uint8_t> encode_request(const Request& request);
// One request from the front of `input` (length included). Bytes the length does not cover are
// not looked at; bytes inside it after the last field are ignored, as epmd ignores them.
ParseResult<Request> parse_request(std::span<const std::uint8_t> input);

// 1 to 255 UTF-8 characters, no NUL: what epmd accepts as a node name.
bool valid_name(std::string_view name);

struct Alive2Reply {
    std::uint8_t result = 0;  // 0: registered
    std::uint32_t creation = 0;
    bool extended = true;  // 118 with a 32-bit creation; false: 121 with a 16-bit one
};
std::vector<std::uint8_t> encode_alive2_reply(const Alive2Reply& reply);
ParseResult<Alive2Reply> parse_alive2_reply(std::span<const std::uint8_t> input);

// PORT2_RESP: the node, or nullopt for "not registered" (result 1).
std::vector<std::uint8_t> encode_port2_reply(const std::optional<NodeRecord>& node);
ParseResult<std::optional<NodeRecord>> parse_port2_reply(std::span<const std::uint8_t> input);

struct NameEntry {
    std::string name;
    std::uint16_t port = 0;
    bool operator==(const NameEntry&) const = default;
};
struct NamesReply {
    std::uint32_t epmd_port = 0;
    std::vector<NameEntry> names;
};
// EPMD's port, then one `name <n> at port <p>\n` line per node.
std::vector<std::uint8_t> encode_names_reply(std::uint32_t epmd_port,
                                             std::span<const NameEntry> names);
// The whole reply (EPMD closes the socket after it). Lines that do not read as a name entry are
// skipped, as erl_epmd skips them; so is a name holding a space (erl_epmd's name ends at the
// first space), which epmd registers and lists.
Expected<NamesReply, CodecError> parse_names_reply(std::span<const std::uint8_t> input);

struct DumpEntry {
    std::string name;
    std::uint16_t port = 0;
    std::uint64_t connection = 0;  // stands where epmd prints the socket's file descriptor
};
// Debug output, as epmd writes it: EPMD's port, then `active name     <n> at port P, fd = F\n\0`
// per registered node and `old/unused name <n>, port = P, fd = F \n\0` per name that left.
std::vector<std::uint8_t> encode_dump_reply(std::uint32_t epmd_port,
                                            std::span<const DumpEntry> active,
                                            std::span<const DumpEntry> unused);

}  // namespace distribute::wire::epmd

template <>
struct std::is_error_code_enum<distribute::wire::epmd::CodecErrc> : std::true_type {};
