#include "net/connector.hpp"

#include <memory>

namespace distribute::net {
namespace {

// Every step of a dial, the timeout included, runs on one strand: the timer and a connect that
// completes at the same moment cannot both finish it.
struct Dial : std::enable_shared_from_this<Dial> {
    Dial(asio::io_context& io, std::function<void(Expected<tcp::socket, std::string>)> done)
        : strand(asio::make_strand(io)),
          resolver(strand),
          socket(io),
          timer(strand),
          done(std::move(done)) {}

    void finish(Expected<tcp::socket, std::string> result) {
        if (!done) return;
        timer.cancel();
        resolver.cancel();
        auto callback = std::move(done);
        done = nullptr;
        callback(std::move(result));
    }
    void fail(std::string why) {
        boost::system::error_code ignored;
        socket.close(ignored);
        finish(unexpected(std::move(why)));
    }

    asio::strand<asio::io_context::executor_type> strand;
    tcp::resolver resolver;
    tcp::socket socket;
    asio::steady_timer timer;
    std::function<void(Expected<tcp::socket, std::string>)> done;
};

// On the dial's strand: the port is known (or not); resolve the host and connect.
void dial_port(const std::shared_ptr<Dial>& dial, const std::string& host,
               Expected<NodePort, EpmdError> port) {
    if (!dial->done) return;
    if (!port) return dial->fail("EPMD on " + host + ": " + port.error().detail);
    if (!port->speaks_v6())
        return dial->fail("the node speaks distribution versions " + std::to_string(port->lowest) +
                          ".." + std::to_string(port->highest) + ", not 6");
    dial->resolver.async_resolve(
        host, std::to_string(port->port),
        [dial, host](const boost::system::error_code& e,
                     const tcp::resolver::results_type& endpoints) {
            if (!dial->done) return;
            if (e) return dial->fail("cannot resolve " + host + ": " + e.message());
            asio::async_connect(
                dial->socket, endpoints,
                asio::bind_executor(
                    dial->strand, [dial](const boost::system::error_code& e, const tcp::endpoint&) {
                        if (!dial->done) return;
                        if (e) return dial->fail("connect: " + e.message());
                        dial->finish(std::move(dial->socket));
                    }));
        });
}

}  // namespace

void async_connect_node(asio::io_context& io, EpmdClient& epmd, const std::string& node,
                        std::chrono::milliseconds timeout,
                        std::function<void(Expected<tcp::socket, std::string>)> done) {
    auto at = node.find('@');
    if (at == std::string::npos || at == 0 || at + 1 == node.size()) {
        asio::post(io, [done = std::move(done), node] {
            done(unexpected("'" + node + "' is not a node name (alive@host)"));
        });
        return;
    }
    auto dial = std::make_shared<Dial>(io, std::move(done));
    dial->timer.expires_after(timeout);
    dial->timer.async_wait([dial, timeout](const boost::system::error_code& e) {
        if (!e) dial->fail("no connection within " + std::to_string(timeout.count()) + " ms");
    });
    std::string host = node.substr(at + 1);
    epmd.async_port_please(epmd.endpoint_for(host), node.substr(0, at),
                           [dial, host](Expected<NodePort, EpmdError> reply) {
                               asio::dispatch(dial->strand,
                                              [dial, host, port = std::move(reply)]() mutable {
                                                  dial_port(dial, host, std::move(port));
                                              });
                           });
}

}  // namespace distribute::net
