// Node key files and pinned peer keys (include/distribute/crypto.hpp): small text files, hex
// keys, the secret one guarded as erl guards a cookie file. Their content is parsed by
// crypto/key_text.cpp.
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "crypto/key_text.hpp"
#include "distribute/crypto.hpp"

namespace distribute {

namespace {

Unexpected<CryptoError> fail(CryptoErrc code, std::string detail) {
    return unexpected(CryptoError{code, std::move(detail)});
}

Unexpected<CryptoError> file_error(const std::string& path) {
    return fail(CryptoErrc::file_error, path + ": " + std::strerror(errno));
}

// Key files are small: a regular file of at most 1 MiB (some 13,000 pinned peers), so that a
// path naming a device or a pipe cannot make us read without end.
constexpr std::size_t max_key_file_bytes = std::size_t{1} << 20;

Expected<std::string, CryptoError> read_text(const std::string& path) {
    // Looked at before it is opened: opening a FIFO would wait for a writer.
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return file_error(path);
    if (!S_ISREG(info.st_mode)) return fail(CryptoErrc::file_error, path + ": not a regular file");
    if (static_cast<std::size_t>(info.st_size) > max_key_file_bytes)
        return fail(CryptoErrc::file_error, path + ": larger than 1 MiB");
    std::ifstream in(path, std::ios::binary);
    if (!in) return file_error(path);
    std::string text(max_key_file_bytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_key_file_bytes)
        return fail(CryptoErrc::file_error, path + ": larger than 1 MiB");
    return text;
}

}  // namespace

Expected<CryptoMode, CryptoError> parse_crypto_mode(const std::string& text) {
    if (text == "off") return CryptoMode::off;
    if (text == "prefer") return CryptoMode::prefer;
    if (text == "require") return CryptoMode::require;
    return fail(CryptoErrc::bad_mode, "'" + text + "' is not a crypto mode (off, prefer, require)");
}

const char* to_string(CryptoMode mode) {
    switch (mode) {
        case CryptoMode::off:
            return "off";
        case CryptoMode::prefer:
            return "prefer";
        case CryptoMode::require:
            return "require";
    }
    return "?";
}

std::string to_hex(const PublicKey& key) {
    char hex[2 * 32 + 1];
    sodium_bin2hex(hex, sizeof hex, key.data(), key.size());
    return hex;
}

NodeKey NodeKey::generate() {
    NodeKey key;
    crypto_box_keypair(key.public_key.data(), key.secret.data());
    return key;
}

Expected<void, CryptoError> write_node_key(const std::string& path, const NodeKey& key) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return file_error(path);
    const std::string text = "# distribute node key (X25519): keep secret\nsecret " +
                             to_hex(key.secret) + "\npublic " + to_hex(key.public_key) + "\n";
    const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!written) return fail(CryptoErrc::file_error, path + ": cannot write the key");
    return {};
}

Expected<NodeKey, CryptoError> read_node_key(const std::string& path) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return file_error(path);
    if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        return fail(CryptoErrc::exposed_key,
                    path + ": its group or others may access this node key: chmod 600 it");
    auto text = read_text(path);
    if (!text) return unexpected(text.error());
    return crypto::parse_node_key(*text, path);
}

Expected<std::map<std::string, PublicKey>, CryptoError> read_peer_keys(const std::string& path) {
    auto text = read_text(path);
    if (!text) return unexpected(text.error());
    return crypto::parse_peer_keys(*text, path);
}

}  // namespace distribute
