// The cookie file read as erl reads it (OTP's auth.erl): which files are refused and with which
// message, what counts as the cookie, and where the default file is looked for and created.
// interop/test_cookie_file.cpp holds the same cases against a real erl.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "distribute/node.hpp"

using namespace distribute;

namespace {

// A scratch directory, removed with what it holds.
struct Scratch {
    Scratch() {
        std::string pattern = (std::filesystem::temp_directory_path() / "cookieXXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~Scratch() { std::filesystem::remove_all(path); }
    std::string file(const std::string& name) const { return path + "/" + name; }
    std::string path;
};

void write_file(const std::string& path, const std::string& content, mode_t mode) {
    std::ofstream(path, std::ios::binary) << content;
    REQUIRE(::chmod(path.c_str(), mode) == 0);
}

// The error of reading `content` with `mode`, or the cookie read, as one string.
std::string verdict(const std::string& content, mode_t mode = 0400) {
    Scratch dir;
    const auto path = dir.file("cookie");
    write_file(path, content, mode);
    auto read = read_cookie_file(path);
    if (!read) return "error: " + read.error().detail;
    return read->cookie;
}

// Sets an environment variable for the scope of a test, and puts back what was there.
struct ScopedEnv {
    ScopedEnv(const char* name, const std::optional<std::string>& value) : name(name) {
        if (const char* old = std::getenv(name)) previous = old;
        if (value)
            ::setenv(name, value->c_str(), 1);
        else
            ::unsetenv(name);
    }
    ~ScopedEnv() {
        if (previous)
            ::setenv(name, previous->c_str(), 1);
        else
            ::unsetenv(name);
    }
    const char* name;
    std::optional<std::string> previous;
};

}  // namespace

TEST_SUITE("cookie file") {
    TEST_CASE("a file that group or others may access is refused with erl's message") {
        for (mode_t mode : {0644, 0640, 0604, 0440, 0404, 0410, 0401}) {
            Scratch dir;
            const auto path = dir.file(".erlang.cookie");
            write_file(path, "SECRET", mode);
            auto read = read_cookie_file(path);
            REQUIRE_FALSE(read.has_value());
            CHECK(read.error().code == NodeErrc::no_cookie);
            CHECK(read.error().detail ==
                  "Cookie file " + path + " must be accessible by owner only");
        }
        CHECK(verdict("SECRET", 0400) == "SECRET");
        CHECK(verdict("SECRET", 0600) == "SECRET");
        CHECK(verdict("SECRET", 0700) == "SECRET");
    }

    TEST_CASE("a directory, a FIFO or a device is refused by its type, and a FIFO never blocks") {
        Scratch dir;
        const auto directory = dir.file("dir");
        REQUIRE(::mkdir(directory.c_str(), 0700) == 0);
        auto read = read_cookie_file(directory);
        REQUIRE_FALSE(read.has_value());
        CHECK(read.error().detail == "Cookie file " + directory + " is of type directory");

        const auto fifo = dir.file("fifo");
        REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
        read = read_cookie_file(fifo);  // a blocking open would wait here for a writer forever
        REQUIRE_FALSE(read.has_value());
        CHECK(read.error().detail == "Cookie file " + fifo + " is of type other");

        read = read_cookie_file("/dev/null");
        REQUIRE_FALSE(read.has_value());
        CHECK(read.error().detail == "Cookie file /dev/null is of type device");
    }

    TEST_CASE("a symbolic link is followed to the file it names, as erl follows it") {
        Scratch dir;
        write_file(dir.file("real"), "LINKED", 0400);
        REQUIRE(::symlink(dir.file("real").c_str(), dir.file("link").c_str()) == 0);
        auto read = read_cookie_file(dir.file("link"));
        REQUIRE(read.has_value());
        CHECK(read->cookie == "LINKED");
    }

    TEST_CASE("the cookie is the printable characters up to the first other one") {
        CHECK(verdict("ABC\n") == "ABC");
        CHECK(verdict("ABC\r\n") == "ABC");
        CHECK(verdict("ABC\n\n  \r\n") == "ABC");
        // Spaces are printable: inside, before and after the cookie they belong to it, as in erl.
        CHECK(verdict("AB CD  \n") == "AB CD  ");
        CHECK(verdict("  AB") == "  AB");
        CHECK(verdict("!~{}'\"") == "!~{}'\"");
    }

    TEST_CASE("a second line, control characters or non-ASCII bytes are bad characters") {
        CHECK(verdict("ABC\nDEF") == "error: Bad characters in cookie");
        CHECK(verdict("ABC\nDEF\n") == "error: Bad characters in cookie");
        CHECK(verdict("AB\tCD") == "error: Bad characters in cookie");
        CHECK(verdict(std::string("AB\0CD", 5)) == "error: Bad characters in cookie");
        CHECK(verdict("caf\xc3\xa9") == "error: Bad characters in cookie");
        CHECK(verdict("ABC\n\x7f") == "error: Bad characters in cookie");
    }

    TEST_CASE(
        "a cookie longer than an atom's 255 characters is refused, as erl cannot start on it") {
        CHECK(verdict(std::string(255, 'A') + "\n") == std::string(255, 'A'));
        CHECK(verdict(std::string(256, 'A') + "\n") ==
              "error: Cookie of 256 characters: erl's cookie is an atom, at most 255");
    }

    TEST_CASE("an empty file, or one of line ends alone, is too short") {
        CHECK(verdict("") == "error: Too short cookie string");
        CHECK(verdict("\n") == "error: Too short cookie string");
        CHECK(verdict("\r\n \n") == "error: Too short cookie string");
    }

    TEST_CASE("a missing or unreadable file names the file and erl's reason") {
        Scratch dir;
        auto read = read_cookie_file(dir.file("missing"));
        REQUIRE_FALSE(read.has_value());
        CHECK(read.error().detail == "Error when reading " + dir.file("missing") + ": enoent");
        read = read_cookie_file(dir.file("missing/below"));
        REQUIRE_FALSE(read.has_value());
        CHECK(read.error().detail ==
              "Error when reading " + dir.file("missing/below") + ": enoent");
    }

    TEST_CASE("the default file is HOME's, then XDG_CONFIG_HOME's, else a new one in HOME") {
        Scratch home;
        ScopedEnv set_home("HOME", home.path);
        ScopedEnv no_xdg("XDG_CONFIG_HOME", std::nullopt);

        // Neither exists: created in HOME, 20 capital letters, mode 0400.
        auto created = default_cookie_file();
        REQUIRE(created.has_value());
        CHECK(created->created);
        CHECK(created->path == home.file(".erlang.cookie"));
        CHECK(created->cookie.size() == 20);
        CHECK(created->cookie.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") == std::string::npos);
        struct stat info {};
        REQUIRE(::stat(created->path.c_str(), &info) == 0);
        CHECK((info.st_mode & 0777) == 0400);
        // Read again, it is the same cookie and not created.
        auto again = default_cookie_file();
        REQUIRE(again.has_value());
        CHECK_FALSE(again->created);
        CHECK(again->cookie == created->cookie);

        // Without HOME's file, ~/.config/erlang/.erlang.cookie is used.
        std::filesystem::remove(created->path);
        std::filesystem::create_directories(home.file(".config/erlang"));
        write_file(home.file(".config/erlang/.erlang.cookie"), "FROMXDG\n", 0400);
        auto xdg = default_cookie_file();
        REQUIRE(xdg.has_value());
        CHECK(xdg->cookie == "FROMXDG");
        CHECK(xdg->path == home.file(".config/erlang/.erlang.cookie"));
        CHECK_FALSE(xdg->created);
        {
            Scratch config;
            ScopedEnv set_xdg("XDG_CONFIG_HOME", config.path);
            std::filesystem::create_directories(config.file("erlang"));
            write_file(config.file("erlang/.erlang.cookie"), "OTHERXDG", 0600);
            auto other = default_cookie_file();
            REQUIRE(other.has_value());
            CHECK(other->cookie == "OTHERXDG");
        }
        // The same checks apply to it: a readable XDG file is refused, not skipped.
        REQUIRE(::chmod(home.file(".config/erlang/.erlang.cookie").c_str(), 0644) == 0);
        auto refused = default_cookie_file();
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().detail.find("must be accessible by owner only") != std::string::npos);
    }

    TEST_CASE("a node refuses to start on a refused cookie file, with the file's message") {
        Scratch dir;
        write_file(dir.file("cookie"), "SECRET", 0644);
        NodeOptions options;
        options.name = "refused";
        options.cookie_file = dir.file("cookie");
        auto node = Node::start(options);
        REQUIRE_FALSE(node.has_value());
        CHECK(node.error().code == NodeErrc::no_cookie);
        CHECK(node.error().detail ==
              "Cookie file " + dir.file("cookie") + " must be accessible by owner only");
    }
}
