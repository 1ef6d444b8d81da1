// libFuzzer target for the Erlang term parser: no input may crash, hang or leak, and every term
// it accepts must print to text that parses back to the same term.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "distribute/term.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace distribute;
    auto term = parse_term(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!term) return 0;
    // Size fields let a few bytes ask for megabytes; re-reading those would only cost time.
    std::string printed = to_string(*term);
    if (printed.size() > (std::size_t{1} << 20)) return 0;
    auto again = parse_term(printed);
    if (!again || !(*again == *term)) __builtin_trap();
    return 0;
}
