// The cookie file as erl guards it (OTP's auth.erl is the reference): a regular file that only
// its owner may access; its content is checked by cookie_content.cpp.
// The messages are erl's, so that a user who meets one of them finds the same advice for both.
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "distribute/node.hpp"
#include "node/cookie_content.hpp"

namespace distribute {
namespace {

NodeError cookie_error(std::string detail) {
    return {NodeErrc::no_cookie, std::move(detail)};
}

// The POSIX name erl prints for an errno value (eacces, eloop, ...).
std::string posix_name(int error) {
    const char* name = strerrorname_np(error);
    std::string text = name ? name : "errno " + std::to_string(error);
    for (char& c : text)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

// file:read_file_info's type for what is not a regular file.
const char* file_type(mode_t mode) {
    if (S_ISDIR(mode)) return "directory";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "device";
    if (S_ISLNK(mode)) return "symlink";
    return "other";  // FIFO, socket
}

// The attributes erl checks before it reads a byte: a FIFO would block the read, and a file
// others can read gives the cookie, which lets anyone run code on every node that shares it, to
// every local user.
std::optional<NodeError> check_attributes(const std::string& path, const struct stat& info) {
    if (!S_ISREG(info.st_mode))
        return cookie_error("Cookie file " + path + " is of type " + file_type(info.st_mode));
    if ((info.st_mode & 077) != 0)
        return cookie_error("Cookie file " + path + " must be accessible by owner only");
    return std::nullopt;
}

// Not found (nullopt), or the file read with erl's checks.
std::optional<Expected<std::string, NodeError>> read_checked(const std::string& path) {
    // Non-blocking, so that opening a FIFO returns at once; the type is checked on what was
    // opened, so nothing can be swapped in between the check and the read.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        const int error = errno;
        if (error == ENOENT) return std::nullopt;
        struct stat info {};
        if (::stat(path.c_str(), &info) == 0)
            if (auto refused = check_attributes(path, info)) return unexpected(std::move(*refused));
        return unexpected(cookie_error("Error when reading " + path + ": " + posix_name(error)));
    }
    struct stat info {};
    std::optional<NodeError> refused;
    if (::fstat(fd, &info) != 0)
        refused = cookie_error("Error when reading " + path + ": " + posix_name(errno));
    else
        refused = check_attributes(path, info);
    std::string text;
    char chunk[4096];
    while (!refused) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n == 0) break;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            refused = cookie_error("Error when reading " + path + ": " + posix_name(errno));
        else
            text.append(chunk, static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (refused) return unexpected(std::move(*refused));
    return node::parse_cookie_content(text);
}

// A new file of 20 random capital letters, mode 0400, as erl creates one. Nullopt when another
// process created it first (its cookie is the one to read).
std::optional<Expected<void, NodeError>> create_cookie_file(const std::string& path) {
    std::string cookie;
    for (int i = 0; i < 20; ++i)
        cookie += static_cast<char>('A' + randombytes_uniform(26));
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
    if (fd < 0) {
        if (errno == EEXIST) return std::nullopt;
        return unexpected(
            cookie_error("Failed to create cookie file '" + path + "': " + posix_name(errno)));
    }
    const bool written =
        ::write(fd, cookie.data(), cookie.size()) == static_cast<ssize_t>(cookie.size());
    const int error = errno;
    ::close(fd);
    if (!written)
        return unexpected(
            cookie_error("Failed to write to cookie file '" + path + "': " + posix_name(error)));
    return Expected<void, NodeError>{};
}

std::string environment(const char* name) {
    const char* value = std::getenv(name);
    return value ? value : "";
}

// filename:basedir(user_config, "erlang") ++ "/.erlang.cookie".
std::string xdg_cookie_path(const std::string& home) {
    std::string config = environment("XDG_CONFIG_HOME");
    if (config.empty()) {
        if (home.empty()) return "";
        config = home + "/.config";
    }
    return config + "/erlang/.erlang.cookie";
}

}  // namespace

Expected<CookieFile, NodeError> read_cookie_file(const std::string& path) {
    auto read = read_checked(path);
    if (!read)
        return unexpected(cookie_error("Error when reading " + path + ": " + posix_name(ENOENT)));
    if (!*read) return unexpected(read->error());
    return CookieFile{std::move(**read), path, false};
}

Expected<CookieFile, NodeError> default_cookie_file() {
    const std::string home = environment("HOME");
    const std::string home_path = home.empty() ? "" : home + "/.erlang.cookie";
    const std::string xdg_path = xdg_cookie_path(home);
    if (home_path.empty() && xdg_path.empty())
        return unexpected(cookie_error("No home for cookie file"));
    for (const auto& path : {home_path, xdg_path}) {
        if (path.empty()) continue;
        if (auto read = read_checked(path)) {
            if (!*read) return unexpected(read->error());
            return CookieFile{std::move(**read), path, false};
        }
    }
    // Neither exists: erl creates the one in HOME, or without a HOME the XDG one.
    const std::string path = home_path.empty() ? xdg_path : home_path;
    auto created = create_cookie_file(path);
    if (created && !*created) return unexpected(created->error());
    auto read = read_cookie_file(path);
    if (read && created) read->created = true;
    return read;
}

}  // namespace distribute
