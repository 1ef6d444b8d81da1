// DNS queries out, responses in: the header, the question and the answers discovery reads.
#include "wire/dns_message.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <optional>

#include "wire/bytes.hpp"

namespace distribute::wire::dns {

namespace {

constexpr std::uint16_t class_in = 1;
constexpr std::uint16_t flag_response = 0x8000;
constexpr std::uint16_t flag_truncated = 0x0200;
constexpr std::uint16_t flag_recursion_desired = 0x0100;
constexpr std::size_t header_bytes = 12;

Unexpected<DecodeError> fail(std::string reason, std::size_t offset) {
    return unexpected(DecodeError{std::move(reason), offset});
}

// Reads a possibly compressed name starting at `start`. Returns the name and the offset just
// after it in the message (after the first pointer, when there is one).
Expected<std::pair<std::string, std::size_t>, DecodeError> read_name(
    std::span<const std::uint8_t> message, std::size_t start) {
    std::string name;
    std::size_t pos = start;
    std::optional<std::size_t> resume;  // where the caller continues, once a pointer was taken
    std::size_t wire_bytes = 0;
    int jumps = 0;
    for (;;) {
        if (pos >= message.size()) return fail("a name runs past the end of the message", pos);
        const std::uint8_t length = message[pos];
        if ((length & 0xC0) == 0xC0) {
            if (pos + 1 >= message.size())
                return fail("a compression pointer runs past the end", pos);
            const std::size_t target = ((length & 0x3F) << 8) | message[pos + 1];
            // Strictly backwards: no loop can form, and every jump makes progress.
            if (target >= pos) return fail("a compression pointer does not point back", pos);
            if (++jumps > max_pointer_jumps) return fail("too many compression pointers", pos);
            if (!resume) resume = pos + 2;
            pos = target;
            continue;
        }
        if ((length & 0xC0) != 0) return fail("a label type this parser does not know", pos);
        wire_bytes += 1 + length;
        if (wire_bytes > max_name_bytes) return fail("a name longer than 255 bytes", pos);
        if (length == 0) break;
        if (pos + 1 + length > message.size()) return fail("a label runs past the end", pos);
        if (!name.empty()) name += '.';
        for (std::size_t i = 0; i < length; ++i) {
            const std::uint8_t byte = message[pos + 1 + i];
            // DNS lets a label hold any byte, but the names read here are host and service
            // names, turned into text: a dot inside a label would read as two labels, and a
            // control or non-ASCII byte has no place in a host name.
            if (byte == '.' || byte < 0x21 || byte > 0x7E)
                return fail("a label holds a byte a host name cannot have", pos + 1 + i);
            name += static_cast<char>(std::tolower(byte));
        }
        pos += 1 + length;
    }
    return std::pair{std::move(name), resume.value_or(pos + 1)};
}

Expected<Record, DecodeError> read_record(std::span<const std::uint8_t> message, std::size_t& pos) {
    auto name = read_name(message, pos);
    if (!name) return unexpected(name.error());
    pos = name->second;
    ByteReader fixed(message.subspan(pos));
    auto type = fixed.u16();
    auto klass = fixed.u16();
    auto ttl = fixed.u32();
    auto length = fixed.u16();
    if (!length) return fail("a record header runs past the end", pos);
    (void)klass;
    const std::size_t data_at = pos + 10;
    if (data_at + *length > message.size()) return fail("record data runs past the end", data_at);
    Record record{std::move(name->first), *type, *ttl, std::monostate{}};
    auto data = message.subspan(data_at, *length);
    switch (static_cast<RecordType>(*type)) {
        case RecordType::a:
            if (data.size() != 4) return fail("an A record that is not 4 bytes", data_at);
            record.data = Ipv4{data[0], data[1], data[2], data[3]};
            break;
        case RecordType::aaaa: {
            if (data.size() != 16) return fail("an AAAA record that is not 16 bytes", data_at);
            Ipv6 address{};
            for (std::size_t i = 0; i < 16; ++i)
                address[i] = data[i];
            record.data = address;
            break;
        }
        case RecordType::srv: {
            ByteReader srv(data);
            auto priority = srv.u16();
            auto weight = srv.u16();
            auto port = srv.u16();
            if (!port) return fail("an SRV record shorter than its fields", data_at);
            // The target may be compressed (RFC 2782 says it is not, but servers do it).
            auto target = read_name(message, data_at + 6);
            if (!target) return unexpected(target.error());
            if (target->second > data_at + data.size())
                return fail("an SRV target runs past its record", data_at + 6);
            record.data = SrvData{*priority, *weight, *port, std::move(target->first)};
            break;
        }
        case RecordType::cname: {
            auto target = read_name(message, data_at);
            if (!target) return unexpected(target.error());
            if (target->second > data_at + data.size())
                return fail("a CNAME target runs past its record", data_at);
            record.data = std::move(target->first);
            break;
        }
        default:
            break;
    }
    pos = data_at + *length;
    return record;
}

}  // namespace

Expected<std::vector<std::uint8_t>, std::string> encode_query(std::uint16_t id,
                                                              std::string_view name,
                                                              RecordType type) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty()) return unexpected(std::string("an empty DNS name"));
    ByteWriter out;
    out.u16(id);
    out.u16(flag_recursion_desired);
    out.u16(1);  // one question
    out.u16(0);
    out.u16(0);
    out.u16(1);  // the OPT record
    std::size_t wire_bytes = 1;
    while (!name.empty()) {
        const auto dot = name.find('.');
        const auto label = name.substr(0, dot);
        if (label.empty()) return unexpected("an empty label in '" + std::string(name) + "'");
        if (label.size() > max_label_bytes)
            return unexpected("a label longer than 63 bytes: '" + std::string(label) + "'");
        wire_bytes += 1 + label.size();
        if (wire_bytes > max_name_bytes)
            return unexpected(std::string("a DNS name longer than 255 bytes"));
        out.u8(static_cast<std::uint8_t>(label.size()));
        out.bytes(std::span(reinterpret_cast<const std::uint8_t*>(label.data()), label.size()));
        name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
    }
    out.u8(0);
    out.u16(static_cast<std::uint16_t>(type));
    out.u16(class_in);
    // OPT: root name, type 41, the UDP payload size in the class field, no extended flags.
    out.u8(0);
    out.u16(static_cast<std::uint16_t>(RecordType::opt));
    out.u16(edns_udp_payload);
    out.u32(0);
    out.u16(0);
    return out.take();
}

Expected<Response, DecodeError> decode_response(std::span<const std::uint8_t> bytes) {
    ByteReader header(bytes);
    auto id = header.u16();
    auto flags = header.u16();
    auto questions = header.u16();
    auto answers = header.u16();
    if (!header.u16() || !header.u16()) return fail("shorter than a DNS header", bytes.size());
    if (!(*flags & flag_response)) return fail("a query, not a response", 2);
    Response response;
    response.id = *id;
    response.truncated = (*flags & flag_truncated) != 0;
    response.rcode = static_cast<Rcode>(*flags & 0x0F);
    std::size_t pos = header_bytes;
    for (unsigned i = 0; i < *questions; ++i) {
        auto name = read_name(bytes, pos);
        if (!name) return unexpected(name.error());
        pos = name->second;
        ByteReader fixed(bytes.subspan(pos));
        auto type = fixed.u16();
        if (!fixed.u16()) return fail("a question runs past the end", pos);
        if (i == 0) {
            response.question = std::move(name->first);
            response.question_type = *type;
        }
        pos += 4;
    }
    // A truncated answer may end anywhere: what it holds is not used, so it is not read.
    if (response.truncated) return response;
    for (unsigned i = 0; i < *answers; ++i) {
        auto record = read_record(bytes, pos);
        if (!record) return unexpected(record.error());
        response.answers.push_back(std::move(*record));
    }
    return response;
}

std::string to_string(const Ipv4& address) {
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, address.data(), text, sizeof text);
    return text;
}

std::string to_string(const Ipv6& address) {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, address.data(), text, sizeof text);
    return text;
}

std::string_view rcode_name(Rcode rcode) {
    switch (rcode) {
        case Rcode::no_error:
            return "NOERROR";
        case Rcode::format_error:
            return "FORMERR";
        case Rcode::server_failure:
            return "SERVFAIL";
        case Rcode::name_error:
            return "NXDOMAIN";
        case Rcode::not_implemented:
            return "NOTIMP";
        case Rcode::refused:
            return "REFUSED";
    }
    return "an unknown response code";
}

}  // namespace distribute::wire::dns
