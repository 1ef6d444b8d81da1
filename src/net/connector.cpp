#include "net/connector.hpp"
#include "net/close_on_exec.hpp"

#include <memory>
#include <vector>

namespace distribute::net {
namespace {

// Every step of a dial, the timeout included, runs on one strand: the timer and a connect that
// completes at the same moment cannot both finish it.
struct Dial : std::enable_shared_from_this<Dial> {
    Dial(asio::io_context& io, EpmdClient& epmd, std::string alive, std::string host,
         std::uint16_t known_port, std::function<void(Expected<Dialled, DialError>)> done)
        : strand(asio::make_strand(io)),
          epmd(epmd),
          alive(std::move(alive)),
          host(std::move(host)),
          known_port(known_port),
          resolver(strand),
          socket(io),
          timer(strand),
          done(std::move(done)) {}

    void finish(Expected<Dialled, DialError> result) {
        if (!done) return;
        timer.cancel();
        resolver.cancel();
        auto callback = std::move(done);
        done = nullptr;
        callback(std::move(result));
    }
    void fail(DialErrc code, std::string why) {
        boost::system::error_code ignored;
        socket.close(ignored);
        finish(unexpected(DialError{code, std::move(why)}));
    }
    std::string node() const { return alive + "@" + host; }
    std::string epmd_address() const {
        return host + ":" + std::to_string(epmd.options().endpoint.port);
    }

    asio::strand<asio::io_context::executor_type> strand;
    EpmdClient& epmd;
    const std::string alive;
    const std::string host;
    const std::uint16_t known_port;  // EPMD-less: where the node listens; 0: ask its EPMD
    tcp::resolver resolver;
    std::vector<tcp::endpoint> addresses;  // of the host, in the resolver's order
    std::vector<std::uint8_t> epmd_extra;  // what the node registered with its port
    tcp::socket socket;
    asio::steady_timer timer;
    std::function<void(Expected<Dialled, DialError>)> done;
};

using DialPtr = std::shared_ptr<Dial>;

// Runs `step` on the dial's strand, whatever thread the EPMD client answered on.
template <class Step>
auto on_strand(const DialPtr& dial, Step step) {
    return [dial, step = std::move(step)](auto result) mutable {
        asio::dispatch(dial->strand,
                       [dial, step = std::move(step), result = std::move(result)]() mutable {
                           if (dial->done) step(std::move(result));
                       });
    };
}

void connect_port(const DialPtr& dial, std::uint16_t port) {
    std::vector<tcp::endpoint> targets;
    for (auto endpoint : dial->addresses) {
        endpoint.port(port);
        targets.push_back(endpoint);
    }
    asio::async_connect(
        dial->socket, targets,
        asio::bind_executor(
            dial->strand, [dial, port](const boost::system::error_code& e, const tcp::endpoint&) {
                if (!dial->done) return;
                if (e)
                    return dial->fail(DialErrc::unreachable,
                                      dial->node() + " is unreachable: " + dial->host + " port " +
                                          std::to_string(port) + ": " + e.message());
                close_on_exec(dial->socket.native_handle());
                dial->finish(Dialled{std::move(dial->socket), std::move(dial->epmd_extra)});
            }));
}

// The name is not registered: say which are, so that a typo shows.
void report_missing(const DialPtr& dial) {
    dial->epmd.async_names(
        dial->epmd.endpoint_for(dial->host),
        on_strand(dial, [dial](Expected<std::vector<RegisteredName>, EpmdError> names) {
            std::string listed;
            if (!names) {
                listed = "the names could not be listed: " + names.error().detail;
            } else if (names->empty()) {
                listed = "EPMD lists no names";
            } else {
                listed = "EPMD lists: ";
                for (std::size_t i = 0; i < names->size(); ++i)
                    listed += (i ? ", " : "") + (*names)[i].name;
            }
            dial->fail(DialErrc::not_registered,
                       dial->alive + " is not registered on " + dial->host + " (" + listed + ")");
        }));
}

void ask_epmd(const DialPtr& dial) {
    dial->epmd.async_port_please(
        dial->epmd.endpoint_for(dial->host), dial->alive,
        on_strand(dial, [dial](Expected<NodePort, EpmdError> port) {
            if (!port && port.error().code == EpmdErrc::not_found) return report_missing(dial);
            if (!port) {
                // The EPMD client's detail starts with the address this message already names.
                std::string why = port.error().detail;
                if (why.starts_with(dial->epmd_address() + ": "))
                    why.erase(0, dial->epmd_address().size() + 2);
                return dial->fail(DialErrc::no_epmd,
                                  "no EPMD on " + dial->epmd_address() + " (" + why + ")");
            }
            // The range is a hint, as it is to a BEAM: an OTP 23+ node started with
            // ERL_EPMD_DIST_HIGH=5 registers 5..5 and still speaks 'N'. Only a range below
            // version 5 (nodes older than R6) rules the handshake out.
            if (port->highest < 5)
                return dial->fail(DialErrc::old_version,
                                  dial->node() + " speaks distribution versions " +
                                      std::to_string(port->lowest) + ".." +
                                      std::to_string(port->highest) + ", not 5 or 6");
            dial->epmd_extra = std::move(port->extra);
            connect_port(dial, port->port);
        }));
}

}  // namespace

void async_connect_node(asio::io_context& io, EpmdClient& epmd, const std::string& node,
                        std::uint16_t port, std::chrono::milliseconds timeout,
                        std::function<void(Expected<Dialled, DialError>)> done) {
    auto at = node.find('@');
    if (at == std::string::npos || at == 0 || at + 1 == node.size()) {
        asio::post(io, [done = std::move(done), node] {
            done(unexpected(
                DialError{DialErrc::bad_name, "'" + node + "' is not a node name (alive@host)"}));
        });
        return;
    }
    auto dial = std::make_shared<Dial>(io, epmd, node.substr(0, at), node.substr(at + 1), port,
                                       std::move(done));
    asio::dispatch(dial->strand, [dial, timeout] {
        dial->timer.expires_after(timeout);
        dial->timer.async_wait([dial, timeout](const boost::system::error_code& e) {
            if (!e)
                dial->fail(DialErrc::unreachable, dial->node() +
                                                      " is unreachable: no connection within " +
                                                      std::to_string(timeout.count()) + " ms");
        });
        // Resolved first, so that a host that does not exist is told from one without an EPMD.
        dial->resolver.async_resolve(
            dial->host, "0",
            [dial](const boost::system::error_code& e, const tcp::resolver::results_type& found) {
                if (!dial->done) return;
                if (e)
                    return dial->fail(DialErrc::unreachable,
                                      dial->node() + " is unreachable: cannot resolve " +
                                          dial->host + ": " + e.message());
                for (const auto& entry : found)
                    dial->addresses.push_back(entry.endpoint());
                if (dial->known_port) return connect_port(dial, dial->known_port);
                ask_epmd(dial);
            });
    });
}

}  // namespace distribute::net
