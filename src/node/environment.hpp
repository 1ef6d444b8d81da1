// What a node takes from the machine, as erl takes it: the host part of its name and the cookie
// in ~/.erlang.cookie.
#pragma once

#include <string>

#include "distribute/expected.hpp"

namespace distribute::node {

// The host part erl uses: the short host name for -sname, the fully qualified name for -name.
[[nodiscard]] Expected<std::string, std::string> local_host_name(bool long_names);

// The cookie of ~/.erlang.cookie (trailing whitespace removed). When the file is missing it is
// created as erl creates it: 20 random capital letters, mode 0400.
[[nodiscard]] Expected<std::string, std::string> home_cookie();

}  // namespace distribute::node
