// Setting values as text: booleans, bounded numbers, durations with units, byte sizes with
// units, port ranges, IP addresses, node names. Each parser returns the value or what is wrong
// with the text; each formatter gives text the parser reads back.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "distribute/expected.hpp"

namespace distribute::cluster {

// true, false, yes, no, on, off, 1, 0 (any case).
Expected<bool, std::string> parse_bool(std::string_view text);
Expected<std::uint64_t, std::string> parse_uint(std::string_view text, std::uint64_t min,
                                                std::uint64_t max);
Expected<double, std::string> parse_double(std::string_view text, double min, double max);
// "250ms", "5s", "2m", "1h"; a bare number is in `unit`.
Expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text,
                                                                std::chrono::milliseconds unit,
                                                                std::chrono::milliseconds min,
                                                                std::chrono::milliseconds max);
// "1048576", "64KiB", "1MiB", "1GiB" (also KB, MB, GB as powers of 1000).
Expected<std::uint64_t, std::string> parse_bytes(std::string_view text, std::uint64_t min,
                                                 std::uint64_t max);
// "P" or "P-Q", 0 to 65535, P <= Q.
Expected<std::pair<std::uint16_t, std::uint16_t>, std::string> parse_port_range(
    std::string_view text);
// An IPv4 or IPv6 address.
Expected<std::string, std::string> parse_address(std::string_view text);
// alive@host.
Expected<std::string, std::string> parse_node_name(std::string_view text);

std::string format_duration(std::chrono::milliseconds d);
std::string format_bytes(std::uint64_t bytes);
std::string join(const std::vector<std::string>& items, std::string_view separator = ",");
// Splits on commas (and spaces when `spaces`), dropping empty pieces and surrounding blanks.
std::vector<std::string> split_list(std::string_view text, bool spaces = false);

}  // namespace distribute::cluster
