// Node names as the BEAM checks them: `alive@host`, both parts non-empty.
#pragma once

#include <string>
#include <string_view>

#include "distribute/expected.hpp"

namespace distribute::wire {

struct NodeName {
    std::string alive;
    std::string host;

    // nullopt-like failure with a reason when `full` is not alive@host.
    [[nodiscard]] static Expected<NodeName, std::string> parse(std::string_view full);
    std::string full() const { return alive + "@" + host; }
    // Long names (erl -name) have a dotted host; short names (erl -sname) do not.
    bool is_long() const { return host.find('.') != std::string::npos; }
};

}  // namespace distribute::wire
