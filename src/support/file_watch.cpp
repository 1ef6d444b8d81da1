// A polling file watcher on a strand of the io_context.
#include "support/file_watch.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

namespace distribute::support {

namespace asio = boost::asio;

namespace {

struct Identity {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    std::int64_t modified_ns = 0;
    bool operator==(const Identity&) const = default;
};

std::optional<Identity> identity_of(const std::string& path) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return std::nullopt;
    return Identity{info.st_dev, info.st_ino, info.st_size,
                    std::int64_t{info.st_mtim.tv_sec} * 1'000'000'000 + info.st_mtim.tv_nsec};
}

}  // namespace

Expected<std::string, std::string> read_text_file(const std::string& path, std::size_t max_bytes) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0)
        return unexpected(path + ": " + std::string(std::strerror(errno)));
    // A FIFO or a device would block or never end: only regular files are read.
    if (!S_ISREG(info.st_mode)) return unexpected(path + ": not a regular file");
    if (static_cast<std::size_t>(info.st_size) > max_bytes)
        return unexpected(path + ": larger than " + std::to_string(max_bytes) + " bytes");
    std::ifstream in(path, std::ios::binary);
    if (!in) return unexpected(path + ": cannot be opened");
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

struct FileWatch::State : std::enable_shared_from_this<State> {
    State(asio::io_context& io, std::string path, std::chrono::milliseconds interval,
          Changed changed)
        : strand(asio::make_strand(io)),
          timer(strand),
          path(std::move(path)),
          interval(interval),
          changed(std::move(changed)) {}

    void look() {
        std::unique_lock lock(mutex);
        if (stopped) return;
        auto now = identity_of(path);
        if (!first && now == last_identity) return schedule();
        first = false;
        last_identity = now;
        auto content = read_text_file(path);
        const bool same = content ? (last_content && *last_content == *content)
                                  : (last_error && *last_error == content.error());
        if (!same) {
            if (content) {
                last_content = *content;
                last_error.reset();
            } else {
                last_error = content.error();
                last_content.reset();
            }
            // The callback runs under the mutex: stop() waits for it, so nothing it uses dies
            // under it. It runs on the strand, so never twice at once.
            changed(content);
        }
        schedule();
    }

    void schedule() {
        timer.expires_after(interval);
        timer.async_wait([weak = weak_from_this()](const boost::system::error_code& e) {
            if (e) return;
            if (auto self = weak.lock()) self->look();
        });
    }

    asio::strand<asio::io_context::executor_type> strand;
    asio::steady_timer timer;
    std::string path;
    std::chrono::milliseconds interval;
    Changed changed;
    std::recursive_mutex mutex;  // stop() may be called from the callback
    bool stopped = false;
    bool first = true;
    std::optional<Identity> last_identity;
    std::optional<std::string> last_content;
    std::optional<std::string> last_error;
};

std::shared_ptr<FileWatch> FileWatch::start(asio::io_context& io, std::string path,
                                            std::chrono::milliseconds interval, Changed changed) {
    auto state = std::make_shared<State>(io, std::move(path), interval, std::move(changed));
    asio::dispatch(state->strand, [state] { state->look(); });
    return std::shared_ptr<FileWatch>(new FileWatch(state));
}

FileWatch::~FileWatch() {
    stop();
}

void FileWatch::stop() {
    std::lock_guard lock(state_->mutex);
    state_->stopped = true;
    asio::post(state_->strand, [state = state_] { state->timer.cancel(); });
}

}  // namespace distribute::support
