// The embedded EPMD server's I/O: listeners, one connection object per socket on its own strand,
// and the shared name table under a mutex (EPMD traffic is a few requests per node start, so a
// lock costs nothing that matters). A bad request closes its own connection and nothing else.
#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "distribute/epmd.hpp"
#include "net/asio.hpp"
#include "net/close_on_exec.hpp"
#include "net/epmd_gate.hpp"
#include "net/epmd_registry.hpp"
#include "wire/epmd_codec.hpp"

namespace distribute {

namespace asio = net::asio;
namespace codec = wire::epmd;
using net::tcp;
using ConnectionId = net::EpmdRegistry::ConnectionId;

namespace net {
class EpmdConnection;
}

namespace {

std::uint32_t time_seed() {
    using namespace std::chrono;
    return static_cast<std::uint32_t>(
        duration_cast<seconds>(system_clock::now().time_since_epoch()).count());
}

std::vector<std::uint8_t> text_bytes(std::string_view s) {
    return {s.begin(), s.end()};
}

}  // namespace

// One listening socket, with the timer that paces accepting again after an accept error.
struct Listener {
    explicit Listener(const asio::strand<asio::io_context::executor_type>& strand)
        : acceptor(strand), retry_timer(strand) {}
    tcp::acceptor acceptor;
    asio::steady_timer retry_timer;
};

struct EpmdServer::Core : std::enable_shared_from_this<EpmdServer::Core> {
    Core(asio::io_context& context, EpmdServerOptions opts)
        : io(context),
          options(std::move(opts)),
          strand(asio::make_strand(context)),
          registry(time_seed()) {}

    // Never called with `mutex` held: a log callback may ask the server for its names.
    void log(const std::string& line) {
        if (options.log) gate.call([&] { options.log(line); });
    }
    void accept(Listener& listener);
    void stop();
    void forget(ConnectionId id, bool registered);

    asio::io_context& io;
    const EpmdServerOptions options;
    net::CallbackGate gate;                                // closed by ~EpmdServer
    asio::strand<asio::io_context::executor_type> strand;  // listeners
    std::vector<std::unique_ptr<Listener>> listeners;      // on the strand only
    std::atomic<std::uint16_t> port{0};
    std::vector<std::string> bound;  // the addresses listened on; under `mutex`

    mutable std::mutex mutex;  // everything below
    net::EpmdRegistry registry;
    std::unordered_map<ConnectionId, std::weak_ptr<net::EpmdConnection>> connections;
    ConnectionId next_id = 1;
    bool started = false;
    bool stopped = false;
    bool limit_logged = false;
};

namespace net {

using Core = EpmdServer::Core;

class EpmdConnection : public std::enable_shared_from_this<EpmdConnection> {
  public:
    EpmdConnection(std::shared_ptr<Core> core, tcp::socket socket, ConnectionId id)
        : core_(std::move(core)),
          socket_(std::move(socket)),
          timer_(socket_.get_executor()),
          id_(id) {}

    // The idle timer runs until the connection becomes a registration or closes: it bounds both
    // a peer that never finishes its request and one that never reads the reply.
    void start() {
        asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
            self->local_ = self->is_local_peer();
            self->timer_.expires_after(self->core_->options.idle_timeout);
            self->timer_.async_wait([self](boost::system::error_code ec) {
                if (!ec) self->close("no request and reply within the idle timeout");
            });
            self->read_request();
        });
    }

    // From any thread.
    void close_soon(std::string why) {
        asio::dispatch(socket_.get_executor(),
                       [self = shared_from_this(), why = std::move(why)] { self->close(why); });
    }

  private:
    bool is_local_peer() {
        boost::system::error_code ec;
        const auto remote = socket_.remote_endpoint(ec).address();
        if (ec) return false;
        const auto local = socket_.local_endpoint(ec).address();
        return remote.is_loopback() || (!ec && remote == local);
    }

    void read_request() {
        auto space = asio::buffer(buffer_.data() + filled_, buffer_.size() - filled_);
        socket_.async_read_some(
            space, [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                if (ec) return self->close(ec == asio::error::eof ? "" : "read: " + ec.message());
                self->filled_ += n;
                self->on_bytes();
            });
    }

    void on_bytes() {
        auto parsed = codec::parse_request({buffer_.data(), filled_});
        if (!parsed) {
            const auto& e = parsed.error();
            return close("malformed request: " + codec::make_error_code(e.code).message() +
                         " at byte " + std::to_string(e.offset));
        }
        if (!*parsed) return read_request();
        if ((*parsed)->used != filled_) return close("bytes after the request");
        std::visit([this](auto& request) { handle(request); }, (*parsed)->value);
    }

    bool require_local(const char* what) {
        if (local_) return true;
        close(std::string(what) + " from a non-local address");
        return false;
    }

    void handle(codec::Alive2Request& request) {
        if (!require_local("ALIVE2_REQ")) return;
        const bool extended = request.node.highest >= 6;
        const std::string name = request.node.name;
        const std::uint16_t port = request.node.port;
        std::optional<std::uint32_t> creation;
        {
            std::lock_guard lock(core_->mutex);
            if (!core_->stopped) creation = core_->registry.add(id_, std::move(request.node));
        }
        registered_ = creation.has_value();
        if (registered_) {
            core_->log("registered " + name + " at port " + std::to_string(port) + ", creation " +
                       std::to_string(*creation));
        } else {
            core_->log("refused to register " + name + ": name taken");
        }
        // epmd's reply for a refusal: result 1 and creation 99.
        write(codec::encode_alive2_reply({registered_ ? std::uint8_t{0} : std::uint8_t{1},
                                          creation.value_or(99), extended}),
              registered_);
    }

    void handle(const codec::PortPlease2Request& request) {
        std::optional<codec::NodeRecord> node;
        {
            std::lock_guard lock(core_->mutex);
            if (const auto* found = core_->registry.find(request.name)) node = *found;
        }
        write(codec::encode_port2_reply(node), false);
    }

    void handle(const codec::NamesRequest&) {
        std::vector<codec::NameEntry> names;
        {
            std::lock_guard lock(core_->mutex);
            for (const auto& e : core_->registry.entries())
                names.push_back({e.node.name, e.node.port});
        }
        write(codec::encode_names_reply(core_->port, names), false);
    }

    void handle(const codec::DumpRequest&) {
        if (!require_local("DUMP_REQ")) return;
        std::vector<codec::DumpEntry> active, unused;
        {
            std::lock_guard lock(core_->mutex);
            for (const auto& e : core_->registry.entries())
                active.push_back({e.node.name, e.node.port, e.owner});
            for (const auto& l : core_->registry.remembered())
                unused.push_back({l.name, l.port, l.owner});
        }
        write(codec::encode_dump_reply(core_->port, active, unused), false);
    }

    void handle(const codec::KillRequest&) {
        if (!require_local("KILL_REQ")) return;
        bool allowed = core_->options.relaxed;
        if (!allowed) {
            std::lock_guard lock(core_->mutex);
            allowed = core_->registry.empty();
        }
        if (!allowed) {
            core_->log("refused KILL_REQ: nodes are registered (not relaxed)");
            return write(text_bytes("NO"), false);
        }
        core_->log("KILL_REQ: stopping");
        stop_after_write_ = true;
        write(text_bytes("OK"), false);
    }

    void handle(const codec::StopRequest& request) {
        if (!require_local("STOP_REQ")) return;
        if (!core_->options.relaxed) return close("refused STOP_REQ (not relaxed)");
        std::shared_ptr<EpmdConnection> owner;
        bool found = false;
        {
            std::lock_guard lock(core_->mutex);
            if (const auto id = core_->registry.remove_name(request.name)) {
                found = true;
                if (const auto it = core_->connections.find(*id); it != core_->connections.end())
                    owner = it->second.lock();
            }
        }
        if (owner) owner->close_soon("stopped by STOP_REQ");
        if (found) core_->log("STOP_REQ: unregistered " + request.name);
        write(text_bytes(found ? "STOPPED" : "NOEXIST"), false);
    }

    // Sends a reply; then either keeps the socket as a registration or closes it.
    void write(std::vector<std::uint8_t> bytes, bool keep) {
        out_ = std::move(bytes);
        asio::async_write(
            socket_, asio::buffer(out_),
            [self = shared_from_this(), keep](boost::system::error_code ec, std::size_t) {
                if (ec) return self->close("write: " + ec.message());
                if (keep) {
                    self->timer_.cancel();
                    return self->watch_registration();
                }
                self->close("");
                // After our own close, so that stop() does not report closing this connection.
                if (self->stop_after_write_) self->core_->stop();
            });
    }

    // A registration lasts as long as its socket: EOF, an error or any byte ends it.
    void watch_registration() {
        socket_.async_read_some(
            asio::buffer(buffer_),
            [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                self->close(ec ? "" : "bytes on a registration socket");
            });
    }

    void close(const std::string& why) {
        if (closed_) return;
        closed_ = true;
        if (!why.empty()) core_->log("closing connection " + std::to_string(id_) + ": " + why);
        timer_.cancel();
        boost::system::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
        core_->forget(id_, registered_);
    }

    std::shared_ptr<Core> core_;
    tcp::socket socket_;
    asio::steady_timer timer_;
    ConnectionId id_;
    std::array<std::uint8_t, codec::max_request_bytes + 2> buffer_{};
    std::size_t filled_ = 0;
    std::vector<std::uint8_t> out_;
    bool local_ = false;
    bool registered_ = false;
    bool stop_after_write_ = false;
    bool closed_ = false;
};

}  // namespace net

using net::EpmdConnection;

void EpmdServer::Core::forget(ConnectionId id, bool registered) {
    std::string name;
    {
        std::lock_guard lock(mutex);
        connections.erase(id);
        if (registered) {
            for (const auto& e : registry.entries())
                if (e.owner == id) name = e.node.name;
            registry.remove_connection(id);
        }
    }
    if (!name.empty()) log("unregistered " + name);
}

// On the strand. `listener` lives as long as the core, which the handlers hold.
void EpmdServer::Core::accept(Listener& listener) {
    listener.acceptor.async_accept(
        asio::make_strand(io),
        [self = shared_from_this(), &listener](boost::system::error_code ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted) return;
            if (ec) {
                // Out of descriptors and the like: wait a little rather than spin.
                self->log("accept: " + ec.message());
                listener.retry_timer.expires_after(std::chrono::milliseconds(100));
                listener.retry_timer.async_wait([self, &listener](boost::system::error_code wait) {
                    if (!wait && listener.acceptor.is_open()) self->accept(listener);
                });
                return;
            }
            net::close_on_exec(socket.native_handle());
            std::shared_ptr<EpmdConnection> connection;
            bool log_limit = false;
            {
                std::lock_guard lock(self->mutex);
                if (self->stopped) return;
                if (self->connections.size() < self->options.max_connections) {
                    const ConnectionId id = self->next_id++;
                    connection = std::make_shared<EpmdConnection>(self, std::move(socket), id);
                    self->connections.emplace(id, connection);
                    self->limit_logged = false;
                } else {
                    log_limit = !std::exchange(self->limit_logged, true);
                }
            }
            if (log_limit) self->log("connection limit reached: closing new connections");
            if (connection) connection->start();
            self->accept(listener);
        });
}

void EpmdServer::Core::stop() {
    std::vector<std::shared_ptr<EpmdConnection>> open;
    {
        std::lock_guard lock(mutex);
        if (std::exchange(stopped, true)) return;
        for (auto& [id, weak] : connections)
            if (auto c = weak.lock()) open.push_back(std::move(c));
    }
    asio::dispatch(strand, [self = shared_from_this()] {
        boost::system::error_code ignored;
        for (auto& l : self->listeners) {
            l->retry_timer.cancel();
            l->acceptor.close(ignored);
        }
        if (self->options.on_stopped) self->gate.call([&] { self->options.on_stopped(); });
    });
    for (auto& c : open)
        c->close_soon("server stopping");
}

EpmdServer::EpmdServer(asio::io_context& io, EpmdServerOptions options)
    : core_(std::make_shared<Core>(io, std::move(options))) {}

EpmdServer::~EpmdServer() {
    stop();
    core_->gate.close();
}

Expected<void, EpmdError> EpmdServer::start() {
    {
        std::lock_guard lock(core_->mutex);
        if (core_->started || core_->stopped)
            throw std::logic_error("EpmdServer::start: already started or stopped");
        core_->started = true;
    }
    // A start() that fails may be tried again (a port another process holds for a while).
    auto failed = [this](EpmdError error) {
        std::lock_guard lock(core_->mutex);
        core_->started = false;
        return unexpected(std::move(error));
    };
    std::vector<std::string> addresses = core_->options.addresses;
    if (addresses.empty()) addresses = {"0.0.0.0", "::"};
    std::uint16_t port = core_->options.port;
    // Bound here, on the caller's thread, and handed to the core only once all of them listen.
    std::vector<std::unique_ptr<Listener>> listeners;
    std::vector<std::string> bound;
    std::vector<std::string> skipped;
    for (const auto& text : addresses) {
        boost::system::error_code ec;
        const auto address = asio::ip::make_address(text, ec);
        if (ec) return failed({EpmdErrc::bad_address, text + ": " + ec.message()});
        auto listener = std::make_unique<Listener>(core_->strand);
        auto& acceptor = listener->acceptor;
        const tcp::endpoint endpoint(address, port);
        acceptor.open(endpoint.protocol(), ec);
        if (!ec) net::close_on_exec(acceptor.native_handle());
        // IPv6 sockets take IPv6 alone, so that :: and 0.0.0.0 can share the port.
        if (!ec && address.is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
        if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) acceptor.bind(endpoint, ec);
        if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
        const bool no_ipv6 = address.is_v6() && (ec == asio::error::address_family_not_supported ||
                                                 ec == boost::system::errc::address_not_available);
        if (no_ipv6) {
            skipped.push_back(text + " (" + ec.message() + ")");
            continue;
        }
        if (ec) {
            const auto code = ec == asio::error::address_in_use ? EpmdErrc::address_in_use
                                                                : EpmdErrc::bad_address;
            return failed({code, text + ":" + std::to_string(port) + ": " + ec.message()});
        }
        // With port 0 the first listener picks the port and the others follow it.
        port = acceptor.local_endpoint().port();
        listeners.push_back(std::move(listener));
        bound.push_back(text);
    }
    if (listeners.empty())
        return failed({EpmdErrc::bad_address, "no address could be bound: " + skipped.front()});
    for (const auto& address : skipped)
        core_->log("not listening on " + address);
    {
        std::lock_guard lock(core_->mutex);
        core_->bound = std::move(bound);
    }
    core_->port = port;
    asio::dispatch(core_->strand, [core = core_, listeners = std::move(listeners)]() mutable {
        // A stop() that came first found no listeners to close: these close as they go.
        {
            std::lock_guard lock(core->mutex);
            if (core->stopped) return;
        }
        for (auto& l : listeners) {
            core->accept(*l);
            core->listeners.push_back(std::move(l));
        }
    });
    return {};
}

void EpmdServer::stop() {
    core_->stop();
}

std::uint16_t EpmdServer::port() const {
    return core_->port;
}

std::vector<std::string> EpmdServer::addresses() const {
    std::lock_guard lock(core_->mutex);
    return core_->bound;
}

std::vector<RegisteredName> EpmdServer::names() const {
    std::lock_guard lock(core_->mutex);
    std::vector<RegisteredName> out;
    for (const auto& e : core_->registry.entries())
        out.push_back({e.node.name, e.node.port});
    return out;
}

std::size_t EpmdServer::connections() const {
    std::lock_guard lock(core_->mutex);
    return core_->connections.size();
}

Expected<std::unique_ptr<EpmdServer>, EpmdError> EpmdServer::ensure_running(
    asio::io_context& io, EpmdMode mode, EpmdServerOptions options,
    std::chrono::milliseconds probe_timeout) {
    const EpmdEndpoint local{"127.0.0.1", options.port};
    auto answers = [&] { return epmd_names(local, probe_timeout); };
    if (mode != EpmdMode::embedded) {
        auto probe = answers();
        if (probe) return std::unique_ptr<EpmdServer>();
        if (mode == EpmdMode::use_running) return unexpected(std::move(probe).error());
    }
    auto server = std::make_unique<EpmdServer>(io, std::move(options));
    auto started = server->start();
    if (started) return server;
    // Another process may have started one between our probe and our bind: use it.
    if (mode == EpmdMode::automatic && started.error().code == EpmdErrc::address_in_use &&
        answers())
        return std::unique_ptr<EpmdServer>();
    return unexpected(started.error());
}

}  // namespace distribute
