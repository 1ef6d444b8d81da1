// EPMD requests and replies, byte for byte as erts/epmd and erl_epmd write them.
#include "wire/epmd_codec.hpp"

#include <charconv>
#include <string>

#include "wire/bytes.hpp"

namespace distribute::wire::epmd {
namespace {

const char* message_of(CodecErrc e) noexcept {
    switch (e) {
        case CodecErrc::bad_length:
            return "request length out of range";
        case CodecErrc::unknown_request:
            return "unknown request";
        case CodecErrc::truncated:
            return "field runs past the end of the message";
        case CodecErrc::bad_name:
            return "invalid node name";
        case CodecErrc::bad_extra:
            return "extra data too long";
        case CodecErrc::bad_reply:
            return "malformed reply";
    }
    return nullptr;
}

Unexpected<CodecError> fail(CodecErrc code, std::size_t offset) {
    return unexpected(CodecError{code, offset});
}

std::span<const std::uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string as_string(std::span<const std::uint8_t> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

void put_record(ByteWriter& w, const NodeRecord& n) {
    w.u16(n.port);
    w.u8(n.node_type);
    w.u8(n.protocol);
    w.u16(n.highest);
    w.u16(n.lowest);
    w.u16(static_cast<std::uint16_t>(n.name.size()));
    w.bytes(as_bytes(n.name));
    w.u16(static_cast<std::uint16_t>(n.extra.size()));
    w.bytes(n.extra);
}

// PortNo..Extra, as in ALIVE2_REQ and PORT2_RESP. `base` is the reader's offset in the input.
Expected<NodeRecord, CodecError> read_record(ByteReader& r, std::size_t base) {
    NodeRecord n;
    const auto port = r.u16();
    const auto type = r.u8();
    const auto protocol = r.u8();
    const auto highest = r.u16();
    const auto lowest = r.u16();
    const auto name_len = r.u16();
    if (!port || !type || !protocol || !highest || !lowest || !name_len)
        return fail(CodecErrc::truncated, base + r.position());
    const std::size_t name_at = base + r.position();
    const auto name = r.bytes(*name_len);
    if (!name) return fail(CodecErrc::truncated, name_at);
    n.name = as_string(*name);
    if (!valid_name(n.name)) return fail(CodecErrc::bad_name, name_at);
    const auto extra_len = r.u16();
    if (!extra_len) return fail(CodecErrc::truncated, base + r.position());
    if (*extra_len > max_extra_bytes) return fail(CodecErrc::bad_extra, base + r.position() - 2);
    const auto extra = r.bytes(*extra_len);
    if (!extra) return fail(CodecErrc::truncated, base + r.position());
    n.port = *port;
    n.node_type = *type;
    n.protocol = *protocol;
    n.highest = *highest;
    n.lowest = *lowest;
    n.extra.assign(extra->begin(), extra->end());
    return n;
}

// PORT_PLEASE2 and STOP: the name is the rest of the request; epmd drops one trailing NUL.
Expected<std::string, CodecError> read_rest_name(std::span<const std::uint8_t> rest,
                                                 std::size_t offset) {
    if (!rest.empty() && rest.back() == 0) rest = rest.first(rest.size() - 1);
    std::string name = as_string(rest);
    if (!valid_name(name)) return fail(CodecErrc::bad_name, offset);
    return name;
}

struct RequestEncoder {
    ByteWriter& w;
    void operator()(const Alive2Request& r) const {
        w.u8(tag::alive2_req);
        put_record(w, r.node);
    }
    void operator()(const PortPlease2Request& r) const {
        w.u8(tag::port_please2_req);
        w.bytes(as_bytes(r.name));
    }
    void operator()(const NamesRequest&) const { w.u8(tag::names_req); }
    void operator()(const DumpRequest&) const { w.u8(tag::dump_req); }
    void operator()(const KillRequest&) const { w.u8(tag::kill_req); }
    void operator()(const StopRequest& r) const {
        w.u8(tag::stop_req);
        w.bytes(as_bytes(r.name));
    }
};

// Reads a decimal port number that fills `text` entirely.
std::optional<std::uint16_t> parse_port(std::string_view text) {
    std::uint16_t port = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return port;
}

}  // namespace

const std::error_category& codec_category() noexcept {
    static const ErrorCategory<CodecErrc> category("distribute.epmd_codec", message_of);
    return category;
}

std::error_code make_error_code(CodecErrc e) noexcept {
    return {static_cast<int>(e), codec_category()};
}

bool valid_name(std::string_view name) {
    std::size_t chars = 0;
    for (std::size_t i = 0; i < name.size(); ++chars) {
        const auto c = static_cast<unsigned char>(name[i]);
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if (c == 0) return false;
        if (c < 0x80) {
            len = 1, cp = c;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (name.size() - i < len) return false;
        for (std::size_t k = 1; k < len; ++k) {
            const auto cc = static_cast<unsigned char>(name[i + k]);
            if ((cc & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
        static constexpr std::uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_for_len[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += len;
    }
    return chars >= 1 && chars <= max_name_chars;
}

std::vector<std::uint8_t> encode_request(const Request& request) {
    ByteWriter body;
    std::visit(RequestEncoder{body}, request);
    ByteWriter out;
    out.u16(static_cast<std::uint16_t>(body.data().size()));
    out.bytes(body.data());
    return out.take();
}

ParseResult<Request> parse_request(std::span<const std::uint8_t> input) {
    if (input.size() < 2) return std::optional<Parsed<Request>>();
    const std::size_t len = (std::size_t{input[0]} << 8) | input[1];
    if (len == 0 || len > max_request_bytes) return fail(CodecErrc::bad_length, 0);
    if (input.size() < 2 + len) return std::optional<Parsed<Request>>();
    const auto body = input.subspan(2, len);
    const std::size_t used = 2 + len;
    auto done = [used](Request r) { return std::optional(Parsed<Request>{std::move(r), used}); };
    ByteReader r(body.subspan(1));
    switch (body[0]) {
        case tag::alive2_req: {
            auto node = read_record(r, 3);
            if (!node) return unexpected(node.error());
            return done(Alive2Request{std::move(*node)});
        }
        case tag::port_please2_req: {
            auto name = read_rest_name(body.subspan(1), 3);
            if (!name) return unexpected(name.error());
            return done(PortPlease2Request{std::move(*name)});
        }
        case tag::names_req:
            return done(NamesRequest{});
        case tag::dump_req:
            return done(DumpRequest{});
        case tag::kill_req:
            return done(KillRequest{});
        case tag::stop_req: {
            auto name = read_rest_name(body.subspan(1), 3);
            if (!name) return unexpected(name.error());
            return done(StopRequest{std::move(*name)});
        }
        default:
            return fail(CodecErrc::unknown_request, 2);
    }
}

std::vector<std::uint8_t> encode_alive2_reply(const Alive2Reply& reply) {
    ByteWriter w;
    w.u8(reply.extended ? tag::alive2_x_resp : tag::alive2_resp);
    w.u8(reply.result);
    if (reply.extended)
        w.u32(reply.creation);
    else
        w.u16(static_cast<std::uint16_t>(reply.creation));
    return w.take();
}

ParseResult<Alive2Reply> parse_alive2_reply(std::span<const std::uint8_t> input) {
    if (input.empty()) return std::optional<Parsed<Alive2Reply>>();
    ByteReader r(input);
    const std::uint8_t t = *r.u8();
    if (t != tag::alive2_x_resp && t != tag::alive2_resp) return fail(CodecErrc::bad_reply, 0);
    const bool extended = t == tag::alive2_x_resp;
    const auto result = r.u8();
    const std::optional<std::uint32_t> creation =
        extended ? r.u32() : std::optional<std::uint32_t>(r.u16());
    if (!result || !creation) return std::optional<Parsed<Alive2Reply>>();
    return std::optional(
        Parsed<Alive2Reply>{Alive2Reply{*result, *creation, extended}, r.position()});
}

std::vector<std::uint8_t> encode_port2_reply(const std::optional<NodeRecord>& node) {
    ByteWriter w;
    w.u8(tag::port2_resp);
    w.u8(node ? 0 : 1);
    if (node) put_record(w, *node);
    return w.take();
}

ParseResult<std::optional<NodeRecord>> parse_port2_reply(std::span<const std::uint8_t> input) {
    using Result = std::optional<Parsed<std::optional<NodeRecord>>>;
    if (input.size() < 2) {
        if (!input.empty() && input[0] != tag::port2_resp) return fail(CodecErrc::bad_reply, 0);
        return Result();
    }
    if (input[0] != tag::port2_resp) return fail(CodecErrc::bad_reply, 0);
    if (input[1] != 0) return Result(Parsed<std::optional<NodeRecord>>{std::nullopt, 2});
    ByteReader r(input.subspan(2));
    auto node = read_record(r, 2);
    if (!node) {
        // A truncated record is only a record that has not fully arrived yet.
        if (node.error().code == CodecErrc::truncated) return Result();
        return fail(CodecErrc::bad_reply, node.error().offset);
    }
    return Result(Parsed<std::optional<NodeRecord>>{std::move(*node), 2 + r.position()});
}

std::vector<std::uint8_t> encode_names_reply(std::uint32_t epmd_port,
                                             std::span<const NameEntry> names) {
    ByteWriter w;
    w.u32(epmd_port);
    for (const auto& n : names) {
        const std::string line = "name " + n.name + " at port " + std::to_string(n.port) + "\n";
        w.bytes(as_bytes(line));
    }
    return w.take();
}

Expected<NamesReply, CodecError> parse_names_reply(std::span<const std::uint8_t> input) {
    ByteReader r(input);
    const auto port = r.u32();
    if (!port) return fail(CodecErrc::bad_reply, 0);
    NamesReply reply{*port, {}};
    std::string_view text(reinterpret_cast<const char*>(input.data()) + 4, input.size() - 4);
    constexpr std::string_view prefix = "name ", middle = " at port ";
    while (!text.empty()) {
        const auto nl = text.find('\n');
        if (nl == std::string_view::npos) break;  // an unfinished last line is not an entry
        const std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        // As erl_epmd reads a line: the name ends at the first space after "name ", and "at port "
        // must follow it (a name holding a space makes the line unreadable, so it is skipped).
        if (!line.starts_with(prefix)) continue;
        const auto space = line.find(' ', prefix.size());
        if (space == std::string_view::npos || line.substr(space, middle.size()) != middle)
            continue;
        const auto name = line.substr(prefix.size(), space - prefix.size());
        const auto entry_port = parse_port(line.substr(space + middle.size()));
        if (!entry_port || !valid_name(name)) continue;
        reply.names.push_back({std::string(name), *entry_port});
    }
    return reply;
}

std::vector<std::uint8_t> encode_dump_reply(std::uint32_t epmd_port,
                                            std::span<const DumpEntry> active,
                                            std::span<const DumpEntry> unused) {
    ByteWriter w;
    w.u32(epmd_port);
    // Each line ends with the NUL of the C string epmd builds it in.
    for (const auto& n : active) {
        w.bytes(as_bytes("active name     <" + n.name + "> at port " + std::to_string(n.port) +
                         ", fd = " + std::to_string(n.connection) + "\n"));
        w.u8(0);
    }
    for (const auto& n : unused) {
        w.bytes(as_bytes("old/unused name <" + n.name + ">, port = " + std::to_string(n.port) +
                         ", fd = " + std::to_string(n.connection) + " \n"));
        w.u8(0);
    }
    return w.take();
}

}  // namespace distribute::wire::epmd
