// Discovery: runs each backend under the retry policy, merges their answers into one peer set,
// reports the differences as events, and connects to the peers when asked to.
#include "distribute/discovery.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "node/access.hpp"
#include "support/event_queue.hpp"

namespace distribute {

namespace asio = net::asio;

namespace {

const char* message_of(DiscoveryErrc e) noexcept {
    switch (e) {
        case DiscoveryErrc::unreachable:
            return "the discovery source did not answer";
        case DiscoveryErrc::bad_answer:
            return "the discovery source gave an answer that makes no node names";
        case DiscoveryErrc::bad_config:
            return "the discovery backend is misconfigured";
    }
    return nullptr;
}

}  // namespace

const std::error_category& discovery_category() noexcept {
    static const ErrorCategory<DiscoveryErrc> category("distribute.discovery", message_of);
    return category;
}

std::error_code make_error_code(DiscoveryErrc e) noexcept {
    return {static_cast<int>(e), discovery_category()};
}

std::string_view to_string(BackendHealth health) {
    switch (health) {
        case BackendHealth::up:
            return "up";
        case BackendHealth::degraded:
            return "degraded";
        case BackendHealth::down:
            return "down";
    }
    return "?";
}

struct Discovery::State : std::enable_shared_from_this<State> {
    struct Slot {
        std::unique_ptr<DiscoveryBackend> backend;
        BackendStatus status;
        std::vector<FoundNode> last;  // the last good answer, kept while the backend is down
        bool running = false;
        bool again = false;  // asked to run while running: run once more when it ends
        RetryHandle retry;
    };

    State(std::shared_ptr<node::Runtime> runtime, DiscoveryOptions options)
        : runtime(std::move(runtime)),
          options(std::move(options)),
          strand(asio::make_strand(this->runtime->io())),
          timer(strand) {}

    void start() {
        std::weak_ptr<State> weak = weak_from_this();
        node_events = runtime->on_node_event([weak](const NodeEvent& e) {
            if (auto self = weak.lock()) self->on_node_event(e);
        });
        for (std::size_t i = 0; i < slots.size(); ++i)
            slots[i].backend->watch(runtime->io(), [weak, i] {
                if (auto self = weak.lock()) self->run(i);
            });
        asio::post(strand, [self = shared_from_this()] { self->tick(); });
    }

    // On the strand, which alone touches the timer.
    void tick() {
        for (std::size_t i = 0; i < slots.size(); ++i)
            run(i);
        connect_missing();
        std::lock_guard lock(mutex);
        if (stopped) return;
        timer.expires_after(options.interval);
        timer.async_wait([weak = weak_from_this()](const boost::system::error_code& e) {
            if (e) return;
            if (auto self = weak.lock()) self->tick();
        });
    }

    void run(std::size_t i) {
        std::lock_guard lock(mutex);
        auto& slot = slots[i];
        if (stopped) return;
        if (slot.running) {
            slot.again = true;
            return;
        }
        slot.running = true;
        auto result = std::make_shared<Expected<Found, DiscoveryError>>(
            unexpected(DiscoveryError{DiscoveryErrc::unreachable, "not asked"}));
        auto retried = std::make_shared<unsigned>(1);
        std::weak_ptr<State> weak = weak_from_this();
        asio::io_context& io = runtime->io();
        RetryHooks hooks;
        hooks.on_retry = [retried](unsigned attempt, std::chrono::milliseconds) {
            *retried = attempt;
        };
        slot.retry = async_retry(
            io, options.retry,
            [weak, i, result, &io](std::function<void(std::error_code)> done) {
                auto self = weak.lock();
                if (!self) return done(std::make_error_code(std::errc::operation_canceled));
                // The slots never change after start: the backend is there while `self` is.
                auto& backend = *self->slots[i].backend;
                backend.discover(io, [result, done](Expected<Found, DiscoveryError> found) {
                    const std::error_code ec =
                        found ? std::error_code() : make_error_code(found.error().code);
                    *result = std::move(found);
                    done(ec);
                });
            },
            [](const std::error_code& ec) { return ec != DiscoveryErrc::bad_config; },
            [weak, i, result, retried](std::error_code ec) {
                if (auto self = weak.lock()) self->finish_run(i, ec, *result, *retried);
            },
            std::move(hooks));
    }

    void finish_run(std::size_t i, std::error_code ec, const Expected<Found, DiscoveryError>& found,
                    unsigned attempts) {
        bool again = false;
        {
            std::lock_guard lock(mutex);
            auto& slot = slots[i];
            slot.running = false;
            if (stopped) return;
            again = std::exchange(slot.again, false);
            ++slot.status.runs;
            if (!ec && found) {
                slot.last = found->nodes;
                slot.status.nodes = found->nodes.size();
                if (!found->warning.empty()) {
                    slot.status.health = BackendHealth::degraded;
                    slot.status.detail = found->warning;
                } else if (attempts > 1) {
                    slot.status.health = BackendHealth::degraded;
                    slot.status.detail = "answered at attempt " + std::to_string(attempts);
                } else {
                    slot.status.health = BackendHealth::up;
                    slot.status.detail.clear();
                }
            } else {
                ++slot.status.failures;
                slot.status.health = BackendHealth::down;
                slot.status.detail = found ? ec.message() : found.error().detail;
                if (attempts > 1)
                    slot.status.detail += " (" + std::to_string(attempts) + " attempts)";
            }
            if (slot.status.health != BackendHealth::up)
                runtime->log(LogLevel::warning, "discovery: " + slot.status.name + " is " +
                                                    std::string(to_string(slot.status.health)) +
                                                    ": " + slot.status.detail);
            merge();
        }
        deliver();
        connect_missing();
        if (again) run(i);
    }

    // Under the mutex: the union of every backend's last answer against the peers known so far.
    void merge() {
        std::map<std::string, Peer> now;
        for (auto& slot : slots)
            for (auto& found : slot.last) {
                if (found.node == runtime->name()) continue;
                auto [it, fresh] = now.try_emplace(std::string(found.node.name()));
                Peer& peer = it->second;
                if (fresh) {
                    peer.node = found.node;
                    peer.host = found.host;
                    peer.port = found.port;
                }
                if (std::find(peer.sources.begin(), peer.sources.end(), slot.status.name) ==
                    peer.sources.end())
                    peer.sources.push_back(slot.status.name);
            }
        for (auto it = peers.begin(); it != peers.end();) {
            if (now.count(it->first)) {
                ++it;
                continue;
            }
            events.push({PeerEventKind::down, it->second});
            dialling.erase(it->first);
            it = peers.erase(it);
        }
        for (auto& [name, peer] : now) {
            auto known = peers.find(name);
            if (known == peers.end()) {
                peer.connected = is_connected(peer.node);
                events.push({PeerEventKind::up, peer});
                peers.emplace(name, peer);
                continue;
            }
            peer.connected = known->second.connected;
            if (!(peer == known->second)) {
                known->second = peer;
                events.push({PeerEventKind::update, peer});
            }
        }
    }

    bool is_connected(Atom node) const {
        for (bool hidden : {false, true})
            for (Atom up : runtime->connected(hidden))
                if (up == node) return true;
        return false;
    }

    void on_node_event(const NodeEvent& e) { set_connected(e.node, e.up); }

    void set_connected(Atom node, bool up) {
        {
            std::lock_guard lock(mutex);
            if (stopped) return;
            auto it = peers.find(std::string(node.name()));
            if (it == peers.end() || it->second.connected == up) return;
            it->second.connected = up;
            events.push({PeerEventKind::update, it->second});
        }
        deliver();
    }

    void connect_missing() {
        std::vector<Atom> targets;
        {
            std::lock_guard lock(mutex);
            if (stopped || !options.auto_connect) return;
            for (auto& [name, peer] : peers)
                if (!peer.connected && dialling.insert(name).second) targets.push_back(peer.node);
        }
        for (Atom node : targets)
            runtime->async_connect(
                node, [weak = weak_from_this(), node](const Expected<void, NodeError>& up) {
                    auto self = weak.lock();
                    if (!self) return;
                    {
                        std::lock_guard lock(self->mutex);
                        self->dialling.erase(std::string(node.name()));
                    }
                    if (up.has_value()) self->set_connected(node, true);
                });
    }

    void deliver() { events.deliver(); }

    void stop() {
        std::vector<RetryHandle> runs;
        {
            std::lock_guard lock(mutex);
            if (stopped) return;
            stopped = true;
            for (auto& slot : slots)
                runs.push_back(slot.retry);
        }
        for (auto& run : runs)
            run.cancel();
        for (auto& slot : slots)
            slot.backend->stop();
        runtime->unsubscribe(node_events);
        asio::post(strand, [self = shared_from_this()] { self->timer.cancel(); });
        events.close();
    }

    std::shared_ptr<node::Runtime> runtime;
    DiscoveryOptions options;
    asio::strand<asio::io_context::executor_type> strand;
    asio::steady_timer timer;
    std::uint64_t node_events = 0;

    mutable std::mutex mutex;
    std::vector<Slot> slots;
    std::map<std::string, Peer> peers;
    std::set<std::string> dialling;
    bool stopped = false;
    support::EventQueue<PeerEvent> events;  // pushed under `mutex`, in order
};

Discovery::Discovery(Node& node, std::vector<std::unique_ptr<DiscoveryBackend>> backends,
                     DiscoveryOptions options, std::function<void(const PeerEvent&)> on_event)
    : state_(std::make_shared<State>(node::Access::shared(node), std::move(options))) {
    if (on_event) state_->events.subscribe(std::move(on_event));
    for (auto& backend : backends) {
        State::Slot slot;
        slot.status.name = backend->name();
        slot.status.detail = "not asked yet";
        slot.backend = std::move(backend);
        state_->slots.push_back(std::move(slot));
    }
    state_->start();
}

Discovery::~Discovery() {
    stop();
}

std::uint64_t Discovery::subscribe(std::function<void(const PeerEvent&)> callback) {
    return state_->events.subscribe(std::move(callback));
}

void Discovery::unsubscribe(std::uint64_t id) {
    state_->events.unsubscribe(id);
}

std::vector<Peer> Discovery::snapshot() const {
    std::lock_guard lock(state_->mutex);
    std::vector<Peer> out;
    for (auto& [name, peer] : state_->peers)
        out.push_back(peer);
    return out;
}

std::optional<Peer> Discovery::lookup(Atom node) const {
    std::lock_guard lock(state_->mutex);
    auto it = state_->peers.find(std::string(node.name()));
    if (it == state_->peers.end()) return std::nullopt;
    return it->second;
}

std::vector<BackendStatus> Discovery::health() const {
    std::lock_guard lock(state_->mutex);
    std::vector<BackendStatus> out;
    for (auto& slot : state_->slots)
        out.push_back(slot.status);
    return out;
}

void Discovery::refresh() {
    for (std::size_t i = 0; i < state_->slots.size(); ++i)
        state_->run(i);
}

void Discovery::stop() {
    state_->stop();
}

}  // namespace distribute
