// Where a node listens and how it is found: the distribution port, the EPMD it starts when none
// answers (bound where the node listens), and its registration there, which gives the creation;
// or, EPMD-less, the one port every node of the cluster listens on, and a random creation.
#include <sodium.h>

#include <future>

#include "node/runtime.hpp"

namespace distribute::node {

namespace {

// An empty listen address, 0.0.0.0 or ::.
bool listens_everywhere(const std::string& address) {
    boost::system::error_code bad;
    const auto ip = asio::ip::make_address(address, bad);
    return address.empty() || (!bad && ip.is_unspecified());
}

}  // namespace

Expected<void, NodeError> Runtime::listen_and_register(const std::string& alive,
                                                       const std::string& default_cookie_path) {
    const std::uint16_t epmdless = options_.epmdless_port;
    if (epmdless && (options_.port_min || options_.port_max) &&
        (options_.port_min != epmdless || options_.port_max != epmdless))
        return unexpected(NodeError{
            NodeErrc::listen_failed,
            "EPMD-less port " + std::to_string(epmdless) + " and port range " +
                std::to_string(options_.port_min) + "-" + std::to_string(options_.port_max) +
                " disagree: an EPMD-less node listens on its EPMD-less port, where peers dial it"});
    auto acceptor = net::Acceptor::listen(io(), options_.listen_address,
                                          epmdless ? epmdless : options_.port_min,
                                          epmdless ? epmdless : options_.port_max);
    if (!acceptor) return unexpected(NodeError{NodeErrc::listen_failed, acceptor.error()});
    acceptor_ = std::move(*acceptor);
    if (!default_cookie_path.empty() && listens_everywhere(options_.listen_address))
        log(LogLevel::warning,
            "listening on every interface (port " + std::to_string(acceptor_->port()) +
                ") with the cookie of " + default_cookie_path +
                ": whoever reaches this port with that cookie can run code here; set "
                "listen_address (distribute node --listen 127.0.0.1, erl's "
                "inet_dist_use_interface) to keep the node on one address");

    if (epmdless) {
        // As a BEAM whose EPMD did not register it: net_kernel picks a random creation.
        creation_ = wrap_creation(randombytes_random());
        log(LogLevel::info,
            "EPMD-less: no EPMD is started or asked; every peer is dialled at port " +
                std::to_string(epmdless));
        return {};
    }

    auto server_options = EpmdServerOptions::from_environment();
    server_options.port = options_.epmd.endpoint.port;
    // Started for this node, the EPMD listens where embedded_epmd_addresses says, else where
    // ERL_EPMD_ADDRESS does, else where the node does; plus loopback, as epmd's -address.
    if (!options_.embedded_epmd_addresses.empty()) {
        server_options.addresses = options_.embedded_epmd_addresses;
        server_options.add_loopback();
    } else if (server_options.addresses.empty() && !listens_everywhere(options_.listen_address)) {
        server_options.addresses = {options_.listen_address};
        server_options.add_loopback();
    }
    server_options.log = [this](const std::string& line) { log(LogLevel::debug, "epmd: " + line); };
    auto server = EpmdServer::ensure_running(io(), options_.epmd_mode, server_options);
    if (!server) return unexpected(NodeError{NodeErrc::epmd_failed, server.error().detail});
    epmd_server_ = std::move(*server);
    if (epmd_server_) {
        std::string where;
        for (const auto& address : epmd_server_->addresses())
            where += (where.empty() ? "" : ", ") + address;
        log(LogLevel::info, "no EPMD answered on port " + std::to_string(server_options.port) +
                                ": started one on " + where);
    }

    auto registered = std::make_shared<std::promise<Expected<std::uint32_t, EpmdError>>>();
    auto first = std::make_shared<std::atomic<bool>>(true);
    RegistrationEvents events;
    events.registered = [this, registered, first](std::uint32_t creation, unsigned count) {
        if (first->exchange(false)) {
            registered->set_value(creation);
        } else {
            // Pids, ports and references already handed out carry the first creation, so the
            // node keeps it; peers learn a node's creation in the handshake, not from EPMD.
            log(LogLevel::warning, "registered with EPMD again (registration " +
                                       std::to_string(count) + "); keeping creation " +
                                       std::to_string(creation_));
        }
    };
    events.lost = [this](const EpmdError& e) {
        log(LogLevel::warning, "lost the EPMD registration (" + e.detail + "): registering again");
    };
    events.failed = [this, registered, first](const EpmdError& e) {
        if (first->exchange(false))
            registered->set_value(unexpected(e));
        else
            log(LogLevel::error, "gave up registering with EPMD: " + e.detail);
    };
    registration_ = epmd_client_->register_node(
        NodeRegistration{alive, acceptor_->port(),
                         options_.hidden ? NodeType::hidden : NodeType::normal, 6, 6, epmd_extra()},
        std::move(events));
    auto creation = registered->get_future().get();
    if (!creation)
        return unexpected(NodeError{NodeErrc::epmd_failed,
                                    "EPMD refused '" + alive + "': " + creation.error().detail});
    creation_ = *creation;

    return {};
}

}  // namespace distribute::node
