// Settings while the node runs: the watched config file, what may change and what may not, and a
// node started from settings that applies the changes.
#include <mutex>

#include "cluster/settings_load.hpp"
#include "cluster/settings_table.hpp"
#include "support/event_queue.hpp"
#include "support/file_watch.hpp"

namespace distribute {

namespace {

std::map<std::string, std::string> shown(const LoadedSettings& loaded) {
    std::map<std::string, std::string> out;
    for (auto& s : show_settings(loaded))
        out[s.key] = s.value;
    return out;
}

// The cookie shows as "(set)": compared by value, not by what is shown.
bool same(const std::string& key, const LoadedSettings& a, const LoadedSettings& b,
          const std::map<std::string, std::string>& shown_a,
          const std::map<std::string, std::string>& shown_b) {
    if (key == "node.cookie") return a.settings.node.cookie == b.settings.node.cookie;
    return shown_a.at(key) == shown_b.at(key);
}

}  // namespace

struct SettingsWatch::State : std::enable_shared_from_this<State> {
    SettingsSources sources;
    std::vector<cluster::SettingItem> first_items;  // the file as the node started with it
    mutable std::mutex mutex;
    LoadedSettings current;
    support::EventQueue<SettingsUpdate> updates;
    std::shared_ptr<support::FileWatch> watch;

    // On the io_context (the file watch's strand): one look at the file, the first one or a
    // change; a look that finds every setting as it is reports nothing.
    void changed() {
        SettingsUpdate update;
        auto items = cluster::read_config_file(sources.config_file);
        if (!items) {
            update.errors.push_back(items.error());
        } else {
            auto full = cluster::load_from(*items, sources);
            if (!full) {
                update.errors = std::move(full).error();
            } else {
                // What may change comes from the new file; the rest stays as the node started.
                std::vector<cluster::SettingItem> effective;
                for (auto& item : *items) {
                    auto* d = cluster::find_descriptor(item.key);
                    if (d && d->changeable) effective.push_back(item);
                }
                for (auto& item : first_items) {
                    auto* d = cluster::find_descriptor(item.key);
                    if (d && !d->changeable) effective.push_back(item);
                }
                auto kept = cluster::load_from(effective, sources);
                std::lock_guard lock(mutex);
                const auto before = shown(current);
                const auto wanted = shown(*full);
                for (const auto& d : cluster::descriptors()) {
                    if (same(d.key, current, *full, before, wanted)) continue;
                    SettingChange change{d.key, d.secret ? "(hidden)" : before.at(d.key),
                                         d.secret ? "(hidden)" : wanted.at(d.key)};
                    (d.changeable ? update.applied : update.refused).push_back(std::move(change));
                }
                if (kept) current = std::move(*kept);
            }
        }
        if (update.applied.empty() && update.refused.empty() && update.errors.empty()) return;
        {
            std::lock_guard lock(mutex);
            update.settings = current.settings;
            updates.push(std::move(update));
        }
        updates.deliver();
    }
};

SettingsWatch::SettingsWatch(boost::asio::io_context& io, SettingsSources sources,
                             LoadedSettings current, std::chrono::milliseconds poll)
    : SettingsWatch(io, std::move(sources), std::move(current), nullptr, poll) {}

SettingsWatch::SettingsWatch(boost::asio::io_context& io, SettingsSources sources,
                             LoadedSettings current,
                             std::function<void(const SettingsUpdate&)> on_update,
                             std::chrono::milliseconds poll)
    : state_(std::make_shared<State>()) {
    if (on_update) state_->updates.subscribe(std::move(on_update));
    state_->sources = std::move(sources);
    state_->current = std::move(current);
    if (auto items = cluster::read_config_file(state_->sources.config_file))
        state_->first_items = std::move(*items);
    std::weak_ptr<State> weak = state_;
    state_->watch = support::FileWatch::start(io, state_->sources.config_file, poll,
                                              [weak](const Expected<std::string, std::string>&) {
                                                  auto state = weak.lock();
                                                  // The first look too: the file may have
                                                  // changed since the settings were loaded, and
                                                  // a look that finds nothing new says nothing.
                                                  if (state) state->changed();
                                              });
}

SettingsWatch::~SettingsWatch() {
    state_->watch->stop();
    state_->updates.close();
}

std::uint64_t SettingsWatch::subscribe(std::function<void(const SettingsUpdate&)> callback) {
    return state_->updates.subscribe(std::move(callback));
}

void SettingsWatch::unsubscribe(std::uint64_t id) {
    state_->updates.unsubscribe(id);
}

LoadedSettings SettingsWatch::current() const {
    std::lock_guard lock(state_->mutex);
    return state_->current;
}

// ---------------------------------------------------------------------------------------------

namespace {

// Discovery as the settings describe it, feeding its peers to the cluster.
Expected<std::unique_ptr<Discovery>, DiscoveryError> start_discovery(
    Node& node, const DiscoverySettings& settings, Cluster* cluster) {
    if (!settings.any()) return std::unique_ptr<Discovery>();
    auto backends = settings.backends();
    if (!backends) return unexpected(backends.error());
    std::function<void(const PeerEvent&)> feed;
    if (cluster)
        feed = [cluster](const PeerEvent& e) {
            if (e.kind == PeerEventKind::up) cluster->add_member(e.peer.node);
        };
    return std::make_unique<Discovery>(node, std::move(*backends), settings.options,
                                       std::move(feed));
}

const char* message_of(StartupErrc e) noexcept {
    switch (e) {
        case StartupErrc::node_failed:
            return "the node did not start";
        case StartupErrc::discovery_failed:
            return "discovery did not start";
    }
    return nullptr;
}

}  // namespace

const std::error_category& startup_category() noexcept {
    static const ErrorCategory<StartupErrc> category("distribute.startup", message_of);
    return category;
}

std::error_code make_error_code(StartupErrc e) noexcept {
    return {static_cast<int>(e), startup_category()};
}

Expected<RunningNode, StartupError> start_from_settings(const Settings& settings, LogSink log) {
    auto level = std::make_shared<std::atomic<LogLevel>>(settings.log_level);
    NodeOptions options = settings.node;
    if (log)
        options.log = [level, log](LogLevel l, std::string_view line) {
            if (static_cast<int>(l) >= static_cast<int>(level->load())) log(l, line);
        };
    auto node = Node::start(std::move(options));
    if (!node)
        return unexpected(StartupError{StartupErrc::node_failed, node.error().code,
                                       std::move(node).error().detail});
    RunningNode running{std::move(*node), nullptr, nullptr, level};
    if (!settings.cluster.seeds.empty() || settings.discovery.any()) {
        running.cluster = std::make_unique<Cluster>(running.node, settings.cluster);
        for (const auto& seed : settings.cluster.seeds)
            if (auto atom = Atom::make(seed)) running.cluster->add_member(*atom);
    }
    auto discovery = start_discovery(running.node, settings.discovery, running.cluster.get());
    if (!discovery)
        return unexpected(StartupError{StartupErrc::discovery_failed, discovery.error().code,
                                       std::move(discovery).error().detail});
    running.discovery = std::move(*discovery);
    return running;
}

void RunningNode::apply(const SettingsUpdate& update) {
    bool discovery_changed = false;
    bool limits_changed = false;
    for (const auto& change : update.applied) {
        if (change.key == "log.level") log_level->store(update.settings.log_level);
        if (change.key.rfind("discovery.", 0) == 0) discovery_changed = true;
        if (change.key.rfind("limits.", 0) == 0) limits_changed = true;
    }
    if (limits_changed) node.set_limits(update.settings.node.limits);
    if (discovery_changed) {
        if (discovery) discovery->stop();
        discovery.reset();
        if (!cluster && update.settings.discovery.any())
            cluster = std::make_unique<Cluster>(node, update.settings.cluster);
        if (auto started = start_discovery(node, update.settings.discovery, cluster.get()))
            discovery = std::move(*started);
    }
}

}  // namespace distribute
