// key=value fields for log lines and counters (logfmt): what tools that grep or parse logs
// expect. A value with a space, a quote, a backslash or an equals sign, or an empty one, is
// quoted, with quotes and backslashes escaped.
#pragma once

#include <string>
#include <string_view>

namespace distribute::node {

std::string log_field(std::string_view key, std::string_view value);

}  // namespace distribute::node
