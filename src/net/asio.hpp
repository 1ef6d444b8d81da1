// Asio's names as the socket layer and the layers above it spell them.
#pragma once

#include "support/asio.hpp"

namespace distribute::net {
namespace asio = boost::asio;
using tcp = boost::asio::ip::tcp;
using udp = boost::asio::ip::udp;
}  // namespace distribute::net
