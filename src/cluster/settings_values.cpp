#include "cluster/settings_values.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>

#include "net/asio.hpp"
#include "wire/node_name.hpp"

namespace distribute::cluster {

namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
        text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    return text;
}

// The leading digits as a number and the rest (a unit), or nullopt.
std::optional<std::pair<std::uint64_t, std::string>> number_and_unit(std::string_view text) {
    text = trim(text);
    std::uint64_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end == text.data()) return std::nullopt;
    return std::pair{value, lower(trim(std::string_view(end, text.data() + text.size() - end)))};
}

}  // namespace

Expected<bool, std::string> parse_bool(std::string_view text) {
    const std::string t = lower(trim(text));
    if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
    if (t == "false" || t == "no" || t == "off" || t == "0") return false;
    return unexpected(std::string("not a boolean"));
}

Expected<std::uint64_t, std::string> parse_uint(std::string_view text, std::uint64_t min,
                                                std::uint64_t max) {
    auto parsed = number_and_unit(text);
    if (!parsed || !parsed->second.empty()) return unexpected(std::string("not a whole number"));
    if (parsed->first < min || parsed->first > max) return unexpected(std::string("out of range"));
    return parsed->first;
}

Expected<double, std::string> parse_double(std::string_view text, double min, double max) {
    const std::string t(trim(text));
    double value = 0;
    auto [end, error] = std::from_chars(t.data(), t.data() + t.size(), value);
    if (error != std::errc() || end != t.data() + t.size() || !std::isfinite(value))
        return unexpected(std::string("not a number"));
    if (value < min || value > max) return unexpected(std::string("out of range"));
    return value;
}

Expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text,
                                                                std::chrono::milliseconds unit,
                                                                std::chrono::milliseconds min,
                                                                std::chrono::milliseconds max) {
    auto parsed = number_and_unit(text);
    if (!parsed) return unexpected(std::string("not a duration"));
    std::int64_t scale = unit.count();
    const std::string& u = parsed->second;
    if (u == "ms")
        scale = 1;
    else if (u == "s")
        scale = 1000;
    else if (u == "m" || u == "min")
        scale = 60'000;
    else if (u == "h")
        scale = 3'600'000;
    else if (!u.empty())
        return unexpected("unknown unit '" + u + "'");
    if (parsed->first > static_cast<std::uint64_t>(max.count()))
        return unexpected(std::string("out of range"));
    const std::chrono::milliseconds value(static_cast<std::int64_t>(parsed->first) * scale);
    if (value < min || value > max) return unexpected(std::string("out of range"));
    return value;
}

Expected<std::uint64_t, std::string> parse_bytes(std::string_view text, std::uint64_t min,
                                                 std::uint64_t max) {
    auto parsed = number_and_unit(text);
    if (!parsed) return unexpected(std::string("not a size"));
    const std::string& u = parsed->second;
    std::uint64_t scale = 1;
    if (u == "kib" || u == "k")
        scale = 1ull << 10;
    else if (u == "mib" || u == "m")
        scale = 1ull << 20;
    else if (u == "gib" || u == "g")
        scale = 1ull << 30;
    else if (u == "kb")
        scale = 1000;
    else if (u == "mb")
        scale = 1000'000;
    else if (u == "gb")
        scale = 1000'000'000;
    else if (!u.empty() && u != "b")
        return unexpected("unknown unit '" + u + "'");
    if (parsed->first > max / scale) return unexpected(std::string("out of range"));
    const std::uint64_t value = parsed->first * scale;
    if (value < min || value > max) return unexpected(std::string("out of range"));
    return value;
}

Expected<std::pair<std::uint16_t, std::uint16_t>, std::string> parse_port_range(
    std::string_view text) {
    text = trim(text);
    const auto dash = text.find('-');
    auto low = parse_uint(text.substr(0, dash), 0, 65535);
    auto high = dash == std::string_view::npos ? low : parse_uint(text.substr(dash + 1), 0, 65535);
    if (!low || !high) return unexpected(std::string("not a port or a port range"));
    if (*low > *high) return unexpected(std::string("the range ends before it starts"));
    return std::pair{static_cast<std::uint16_t>(*low), static_cast<std::uint16_t>(*high)};
}

Expected<std::string, std::string> parse_address(std::string_view text) {
    boost::system::error_code e;
    const std::string t(trim(text));
    net::asio::ip::make_address(t, e);
    if (e) return unexpected(std::string("not an IP address"));
    return t;
}

Expected<std::string, std::string> parse_node_name(std::string_view text) {
    const std::string t(trim(text));
    if (!wire::NodeName::parse(t)) return unexpected(std::string("not a node name"));
    return t;
}

std::string format_duration(std::chrono::milliseconds d) {
    const auto ms = d.count();
    if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

std::string format_bytes(std::uint64_t bytes) {
    if (bytes != 0 && bytes % (1ull << 30) == 0) return std::to_string(bytes >> 30) + "GiB";
    if (bytes != 0 && bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
    if (bytes != 0 && bytes % (1ull << 10) == 0) return std::to_string(bytes >> 10) + "KiB";
    return std::to_string(bytes);
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += separator;
        out += item;
    }
    return out;
}

std::vector<std::string> split_list(std::string_view text, bool spaces) {
    std::vector<std::string> out;
    std::string piece;
    auto flush = [&] {
        auto t = trim(piece);
        if (!t.empty()) out.emplace_back(t);
        piece.clear();
    };
    for (char c : text) {
        if (c == ',' || (spaces && std::isspace(static_cast<unsigned char>(c))))
            flush();
        else
            piece += c;
    }
    flush();
    return out;
}

}  // namespace distribute::cluster
