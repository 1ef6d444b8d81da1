#include "cli/stats_lines.hpp"

#include "distribute/codec.hpp"
#include "node/log_fields.hpp"

namespace distribute::cli {

std::string value_text(const Term& value) {
    if (value.is_binary()) return std::string(value.text());
    if (value.is_list() && !value.is_nil())
        if (auto text = decode<std::string>(value)) return *text;
    return to_string(value);
}

namespace {

// The map's entries but `skip`, as fields, in the map's key order.
std::string fields_of(const Term& map, std::string_view skip = {}) {
    std::string line;
    for (const MapEntry& entry : map.entries()) {
        const std::string key = value_text(entry.key);
        if (key == skip) continue;
        line += ' ' + node::log_field(key, value_text(entry.value));
    }
    return line;
}

}  // namespace

std::vector<std::string> stats_lines(const Term& stats) {
    std::vector<std::string> lines{"counters" + fields_of(stats, "connections")};
    if (const Term* connections = stats.find(Term(Atom::make("connections").value()));
        connections && connections->is_proper_list())
        for (const Term& connection : connections->elements())
            lines.push_back("connection" + fields_of(connection));
    return lines;
}

}  // namespace distribute::cli
