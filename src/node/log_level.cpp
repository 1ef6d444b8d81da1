// The names of log levels, as settings, the command line and log lines spell them.
#include "distribute/node.hpp"

namespace distribute {

std::string_view to_string(LogLevel level) {
    switch (level) {
        case LogLevel::debug:
            return "debug";
        case LogLevel::info:
            return "info";
        case LogLevel::warning:
            return "warning";
        case LogLevel::error:
            return "error";
    }
    return "info";
}

}  // namespace distribute
