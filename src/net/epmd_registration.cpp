// ALIVE2 registration kept for the node's life: register under a retry policy, hold the socket,
// and when it drops (EPMD restarted or killed) register again under the re-registration policy.

#include <array>
#include <atomic>

#include "distribute/epmd.hpp"
#include "net/asio.hpp"
#include "net/close_on_exec.hpp"
#include "net/epmd_exchange.hpp"
#include "net/epmd_gate.hpp"
#include "wire/epmd_codec.hpp"

namespace distribute {

namespace asio = net::asio;
namespace codec = wire::epmd;
using net::ExchangeStep;
using net::tcp;

namespace {

bool transient(const std::error_code& ec) {
    return ec == EpmdErrc::unreachable || ec == EpmdErrc::timed_out ||
           ec == EpmdErrc::connection_lost;
}

}  // namespace

struct EpmdRegistration::State : std::enable_shared_from_this<EpmdRegistration::State> {
    State(asio::io_context& context, EpmdClientOptions opts, NodeRegistration what,
          RegistrationEvents ev)
        : io(context),
          strand(asio::make_strand(context)),
          options(std::move(opts)),
          node(std::move(what)),
          events(std::move(ev)) {}

    // On the strand from here on.
    void begin(const RetryPolicy& policy) {
        // Weak: this state holds the retry run, and the run holds these callables until it ends,
        // which a destroyed io_context never lets it do.
        const std::weak_ptr<State> weak = shared_from_this();
        retry = async_retry(
            io, policy,
            [weak](auto done) {
                if (const auto self = weak.lock())
                    self->attempt(std::move(done));
                else
                    done(make_error_code(EpmdErrc::cancelled));
            },
            transient,
            [weak](std::error_code ec) {
                if (const auto self = weak.lock())
                    asio::dispatch(self->strand, [self, ec] { self->attempts_over(ec); });
            },
            {options.random, {}});
    }

    void attempt(std::function<void(std::error_code)> done) {
        codec::NodeRecord record{node.port,   static_cast<std::uint8_t>(node.type),
                                 0,           node.highest,
                                 node.lowest, node.name,
                                 node.extra};
        auto creation_slot = std::make_shared<std::uint32_t>(0);
        auto parser = [creation_slot](std::span<const std::uint8_t> bytes, bool) {
            auto parsed = codec::parse_alive2_reply(bytes);
            if (!parsed)
                return ExchangeStep::fail(
                    EpmdErrc::malformed_reply,
                    "not an ALIVE2 reply: first byte " + std::to_string(bytes.front()));
            if (!*parsed) return ExchangeStep::need_more();
            if ((*parsed)->value.result != 0)
                return ExchangeStep::fail(EpmdErrc::name_taken,
                                          "result " + std::to_string((*parsed)->value.result));
            *creation_slot = (*parsed)->value.creation;
            return ExchangeStep::complete();
        };
        auto self = shared_from_this();
        net::start_exchange(
            io, options.endpoint, codec::encode_request(codec::Alive2Request{std::move(record)}),
            options.timeout, std::move(parser),
            [self, creation_slot, done = std::move(done)](std::optional<EpmdError> error,
                                                          tcp::socket socket) mutable {
                asio::dispatch(self->strand,
                               [self, creation_slot, done = std::move(done),
                                error = std::move(error), socket = std::move(socket)]() mutable {
                                   if (self->closed)
                                       return done(make_error_code(EpmdErrc::cancelled));
                                   if (error) {
                                       self->last_error = *error;
                                       return done(make_error_code(error->code));
                                   }
                                   // A child holding it would keep the name registered.
                                   net::close_on_exec(socket.native_handle());
                                   self->socket.emplace(std::move(socket));
                                   self->creation = *creation_slot;
                                   done({});
                               });
            });
    }

    void attempts_over(std::error_code ec) {
        if (closed) return;
        if (ec) return fail(last_error.value_or(EpmdError{EpmdErrc::cancelled, ec.message()}));
        registered = true;
        ++registrations;
        gate.call([&] {
            if (events.registered) events.registered(creation, registrations);
        });
        if (!closed) watch();  // the callback may have closed the registration
    }

    // EPMD never writes on a registration socket: EOF or an error means the registration ended.
    void watch() {
        socket->async_read_some(
            asio::buffer(sink),
            asio::bind_executor(
                strand, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                    if (self->closed) return;
                    self->registered = false;
                    boost::system::error_code ignored;
                    self->socket->close(ignored);
                    self->socket.reset();
                    const EpmdError lost{EpmdErrc::connection_lost,
                                         ec ? "registration socket: " + ec.message()
                                            : "unexpected bytes on the registration socket"};
                    self->gate.call([&] {
                        if (self->events.lost) self->events.lost(lost);
                    });
                    if (!self->closed) self->begin(self->options.reregister_retry);
                }));
    }

    void fail(const EpmdError& error) {
        closed = true;
        gate.call([&] {
            if (events.failed) events.failed(error);
        });
    }

    void close() {
        if (std::exchange(closed, true)) return;
        registered = false;
        retry.cancel();
        boost::system::error_code ignored;
        if (socket) socket->close(ignored);
    }

    asio::io_context& io;
    asio::strand<asio::io_context::executor_type> strand;
    const EpmdClientOptions options;
    const NodeRegistration node;
    const RegistrationEvents events;
    net::CallbackGate gate;
    RetryHandle retry;
    std::optional<tcp::socket> socket;
    std::optional<EpmdError> last_error;
    std::array<std::uint8_t, 64> sink{};
    std::atomic<std::uint32_t> creation{0};
    std::atomic<bool> registered{false};
    unsigned registrations = 0;
    bool closed = false;
};

EpmdRegistration::EpmdRegistration(std::shared_ptr<State> state) : state_(std::move(state)) {}

EpmdRegistration::~EpmdRegistration() {
    close();
    state_->gate.close();
}

std::optional<std::uint32_t> EpmdRegistration::creation() const {
    if (!state_->registered) return std::nullopt;
    return state_->creation.load();
}

void EpmdRegistration::close() {
    asio::dispatch(state_->strand, [state = state_] { state->close(); });
}

std::unique_ptr<EpmdRegistration> EpmdClient::register_node(NodeRegistration node,
                                                            RegistrationEvents events) {
    auto state = std::make_shared<EpmdRegistration::State>(io_, options_, std::move(node),
                                                           std::move(events));
    if (!codec::valid_name(state->node.name) || state->node.name.find('@') != std::string::npos) {
        asio::post(state->strand, [state] { state->fail({EpmdErrc::bad_name, state->node.name}); });
    } else if (state->node.extra.size() > codec::max_extra_bytes) {
        asio::post(state->strand, [state] {
            state->fail({EpmdErrc::bad_extra, std::to_string(state->node.extra.size()) + " bytes"});
        });
    } else {
        asio::post(state->strand, [state] { state->begin(state->options.register_retry); });
    }
    return std::make_unique<EpmdRegistration>(state);
}

}  // namespace distribute
