// The counters of a node as key=value lines, the same in `distribute stats NODE` and in the
// summary `distribute node` prints on SIGUSR1 and at exit: easy to read, and to grep or parse.
#pragma once

#include <string>
#include <vector>

#include "distribute/term.hpp"

namespace distribute::cli {

// `stats` as distribute:stats/0 answers it (otp::stats_to_term): a line "counters k=v ..." for
// the node, then one "connection k=v ..." per connection (node::log_field's quoting).
std::vector<std::string> stats_lines(const Term& stats);

// A term as a field value: integers and atoms as they print, binaries and charlists as text.
std::string value_text(const Term& value);

}  // namespace distribute::cli
