// Where the BEAM's environment says EPMD is (ERL_EPMD_PORT, ERL_EPMD_ADDRESS), read as erl and
// epmd read them, and the embedded server's usual addresses.
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "distribute/epmd.hpp"

namespace distribute {

namespace {

std::optional<std::uint16_t> env_port() {
    const char* text = std::getenv("ERL_EPMD_PORT");
    if (!text) return std::nullopt;
    const std::string_view s(text);
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size() || value == 0 || value > 65535)
        return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

}  // namespace

EpmdEndpoint EpmdEndpoint::from_environment() {
    EpmdEndpoint e;
    if (const auto port = env_port()) e.port = *port;
    return e;
}

EpmdServerOptions EpmdServerOptions::from_environment() {
    EpmdServerOptions o;
    if (const auto port = env_port()) o.port = *port;
    if (const char* list = std::getenv("ERL_EPMD_ADDRESS")) {
        std::string_view rest(list);
        while (!rest.empty()) {
            const auto cut = rest.find_first_of(", ");
            const auto item = rest.substr(0, cut);
            if (!item.empty()) o.addresses.emplace_back(item);
            rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
        }
        o.add_loopback();
    }
    return o;
}

void EpmdServerOptions::add_loopback() {
    if (addresses.empty()) return;
    for (const char* loopback : {"127.0.0.1", "::1"})
        if (std::find(addresses.begin(), addresses.end(), loopback) == addresses.end())
            addresses.emplace_back(loopback);
}

EpmdServerOptions EpmdServerOptions::loopback(std::uint16_t port) {
    EpmdServerOptions o;
    o.addresses = {"127.0.0.1"};
    o.port = port;
    return o;
}

}  // namespace distribute
