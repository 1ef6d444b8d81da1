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
    // Long names (erl -name) have a dotted host or an IP address (127.0.0.1, ::1); short names
    // (erl -sname) have neither.
    bool is_long() const;
    // The host is an IPv4 or IPv6 address, as inet:parse_address reads one.
    bool host_is_address() const;
};

}  // namespace distribute::wire
