// Watching a file for changes by looking at it every `interval`: when its identity (device,
// inode), size or modification time moved, it is read again, and the callback runs when the
// content differs from the last content seen. Polling rather than inotify: it sees a file
// replaced by rename (what editors and Kubernetes ConfigMap volumes do, swapping a symbolic link)
// as well as one written in place, on every file system, and costs one stat() per interval.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "distribute/expected.hpp"
#include "support/asio.hpp"

namespace distribute::support {

// Reads a whole file; the error says why it cannot be read (missing, a directory, too large).
[[nodiscard]] Expected<std::string, std::string> read_text_file(const std::string& path,
                                                                std::size_t max_bytes = 1 << 20);

class FileWatch {
  public:
    // The content, or why the file cannot be read now. Runs on the io_context, never twice at
    // once, and again only when what it would report changed (a new content, a new error).
    using Changed = std::function<void(const Expected<std::string, std::string>& content)>;

    // Starts watching; the first look happens at once (the callback runs with what is there now).
    static std::shared_ptr<FileWatch> start(boost::asio::io_context& io, std::string path,
                                            std::chrono::milliseconds interval, Changed changed);
    ~FileWatch();
    // No callback starts after stop() returns; one already running on another thread finishes.
    void stop();

    struct State;

  private:
    explicit FileWatch(std::shared_ptr<State> state) : state_(std::move(state)) {}
    std::shared_ptr<State> state_;
};

}  // namespace distribute::support
