// What a node takes from the machine, as erl takes it: the host part of its name. (The cookie
// file is read by cookie_file.cpp, public in node.hpp.)
#pragma once

#include <string>

#include "distribute/expected.hpp"
#include "distribute/node.hpp"

namespace distribute::node {

// The host part erl uses: the short host name for -sname, the fully qualified name for -name.
// Without one: bad_name, saying why.
[[nodiscard]] Expected<std::string, NodeError> local_host_name(bool long_names);

}  // namespace distribute::node
