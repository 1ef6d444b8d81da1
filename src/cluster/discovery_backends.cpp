// The backends that need no protocol of their own: a static list, a watched file, and the names
// the EPMDs of a list of hosts give.
#include <memory>
#include <mutex>

#include "cluster/discovery_file.hpp"
#include "cluster/found_nodes.hpp"
#include "distribute/discovery.hpp"
#include "net/asio.hpp"
#include "support/file_watch.hpp"

namespace distribute {

namespace asio = net::asio;

namespace {

class StaticBackend final : public DiscoveryBackend {
  public:
    explicit StaticBackend(std::vector<std::string> nodes) : nodes_(std::move(nodes)) {}
    std::string name() const override { return "static"; }
    void discover(asio::io_context& io, Done done) override {
        Found found;
        std::string bad;
        for (auto& text : nodes_)
            cluster::add_node(found, text, "static", bad);
        if (!bad.empty()) found.warning = bad;
        asio::post(io, [done = std::move(done), found = std::move(found)]() mutable {
            done(std::move(found));
        });
    }

  private:
    std::vector<std::string> nodes_;
};

class FileBackend final : public DiscoveryBackend {
  public:
    FileBackend(std::string path, std::chrono::milliseconds poll)
        : path_(std::move(path)), poll_(poll) {}
    ~FileBackend() override { FileBackend::stop(); }

    std::string name() const override { return "file " + path_; }

    void discover(asio::io_context& io, Done done) override {
        auto content = support::read_text_file(path_);
        Expected<Found, DiscoveryError> result =
            content
                ? Expected<Found, DiscoveryError>(cluster::parse_discovery_file(*content, path_))
                : unexpected(DiscoveryError{DiscoveryErrc::unreachable, content.error()});
        asio::post(io, [done = std::move(done), result = std::move(result)]() mutable {
            done(std::move(result));
        });
    }

    void watch(asio::io_context& io, std::function<void()> changed) override {
        std::lock_guard lock(mutex_);
        // The first look too: Discovery's own first run may have read the file before an edit
        // that came ahead of this look, which would otherwise wait for the next interval.
        watch_ = support::FileWatch::start(
            io, path_, poll_, [changed = std::move(changed)](const auto&) { changed(); });
    }

    void stop() override {
        std::lock_guard lock(mutex_);
        if (watch_) watch_->stop();
    }

  private:
    std::string path_;
    std::chrono::milliseconds poll_;
    std::mutex mutex_;
    std::shared_ptr<support::FileWatch> watch_;
};

class EpmdBackend final : public DiscoveryBackend {
  public:
    explicit EpmdBackend(EpmdBackendOptions options) : options_(std::move(options)) {}

    std::string name() const override {
        std::string out = "epmd";
        for (auto& host : options_.hosts)
            out += " " + host;
        return out;
    }

    void discover(asio::io_context& io, Done done) override {
        struct Gather {
            std::mutex mutex;
            Found found;
            std::string failures;
            std::size_t waiting = 0;
            std::size_t answered = 0;
            Done done;
        };
        auto gather = std::make_shared<Gather>();
        gather->waiting = options_.hosts.size();
        gather->done = std::move(done);
        if (options_.hosts.empty()) return asio::post(io, [gather] { gather->done(Found{}); });
        EpmdClientOptions client_options;
        client_options.timeout = options_.timeout;
        client_options.endpoint.port = options_.port;
        auto client = std::make_shared<EpmdClient>(io, client_options);
        for (auto& host : options_.hosts) {
            client->async_names(
                client->endpoint_for(host),
                [gather, client, host, prefix = options_.name_prefix](
                    Expected<std::vector<RegisteredName>, EpmdError> names) {
                    std::lock_guard lock(gather->mutex);
                    if (names) {
                        ++gather->answered;
                        std::string bad;
                        for (auto& entry : *names)
                            if (entry.name.rfind(prefix, 0) == 0)
                                cluster::add_node(gather->found, entry.name + "@" + host, host,
                                                  bad);
                        if (!bad.empty())
                            gather->failures += (gather->failures.empty() ? "" : "; ") + bad;
                    } else {
                        gather->failures += (gather->failures.empty() ? "" : "; ") + host + ": " +
                                            names.error().detail;
                    }
                    if (--gather->waiting != 0) return;
                    // No host answered: the backend failed. Some did: a partial answer.
                    if (gather->answered == 0)
                        return gather->done(unexpected(
                            DiscoveryError{DiscoveryErrc::unreachable, gather->failures}));
                    gather->found.warning = gather->failures;
                    gather->done(std::move(gather->found));
                });
        }
    }

  private:
    EpmdBackendOptions options_;
};

}  // namespace

std::unique_ptr<DiscoveryBackend> static_backend(std::vector<std::string> nodes) {
    return std::make_unique<StaticBackend>(std::move(nodes));
}

std::unique_ptr<DiscoveryBackend> file_backend(std::string path, std::chrono::milliseconds poll) {
    return std::make_unique<FileBackend>(std::move(path), poll);
}

std::unique_ptr<DiscoveryBackend> epmd_backend(EpmdBackendOptions options) {
    return std::make_unique<EpmdBackend>(std::move(options));
}

}  // namespace distribute
