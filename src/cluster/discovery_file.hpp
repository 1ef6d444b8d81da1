// The discovery file's format, apart from the file: one node name per line, blank lines and
// lines starting with '#' skipped, blanks around a name ignored. The file backend
// (discovery_backends.cpp) reads and watches the file; this turns its text into found nodes.
#pragma once

#include <string>
#include <string_view>

#include "distribute/discovery.hpp"

namespace distribute::cluster {

// The nodes named, each once, in file order; lines that are not node names go into the warning
// (with `path` and their line number), the others are still used.
Found parse_discovery_file(std::string_view content, const std::string& path);

}  // namespace distribute::cluster
