// The cookie file judged by a real erl and by us, case by case: erl reads HOME's .erlang.cookie
// when it starts distribution, and we read the same file (the library, `--cookie-file`, and HOME's
// file through the command). Both must accept the same files with the same cookie and refuse the
// same ones with the same message.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "cli_support.hpp"
#include "distribute/node.hpp"
#include "erl_fixture.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

enum class Kind { file, fifo, directory };

struct Case {
    const char* what;
    std::string content;
    mode_t mode = 0400;
    Kind kind = Kind::file;
};

// What erl makes of HOME's cookie file: the cookie it runs with, or its output when it refused.
struct ErlVerdict {
    bool accepted = false;
    std::string cookie;
    std::string output;
};

// HOME, and an XDG_CONFIG_HOME with nothing in it (erl's second place to look, and ours).
std::vector<std::string> environment(const std::string& home, std::uint16_t epmd_port) {
    return {"HOME=" + home, "XDG_CONFIG_HOME=" + home + "/xdg",
            "ERL_EPMD_PORT=" + std::to_string(epmd_port), "ERL_CRASH_DUMP_SECONDS=0"};
}

ErlVerdict erl_verdict(const std::string& home, std::uint16_t epmd_port) {
    const RunResult r =
        run({"erl", "-noshell", "-sname", unique_name("cookie"), "-start_epmd", "false", "-eval",
             "io:format(\"cookie:~s~n\", [erlang:get_cookie()]), halt()."},
            60s, environment(home, epmd_port));
    ErlVerdict v;
    v.output = r.out + r.err;
    const auto at = r.out.find("cookie:");
    if (r.exit_status == 0 && at != std::string::npos) {
        v.accepted = true;
        v.cookie = r.out.substr(at + 7, r.out.find('\n', at) - at - 7);
    }
    return v;
}

void make(const Case& c, const std::string& path) {
    switch (c.kind) {
        case Kind::file:
            std::ofstream(path, std::ios::binary) << c.content;
            REQUIRE(::chmod(path.c_str(), c.mode) == 0);
            break;
        case Kind::fifo:
            REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
            break;
        case Kind::directory:
            REQUIRE(::mkdir(path.c_str(), 0700) == 0);
            break;
    }
}

}  // namespace

TEST_CASE("erl and we accept and refuse the same cookie files, with the same cookie and message") {
    require_cli();
    EpmdProcess epmd(free_port());
    const std::string nobody = "nobody@" + short_host();
    const Case cases[] = {
        {"owner read-only", "SECRET", 0400},
        {"owner read-write, a final newline", "SECRET\n", 0600},
        {"spaces kept, line ends dropped", "AB CD  \r\n \n", 0400},
        {"readable by everyone", "SECRET", 0644},
        {"readable by the group", "SECRET", 0640},
        {"readable by others", "SECRET", 0604},
        {"a second line", "SECRET\nOTHER\n", 0400},
        {"a tab", "SE\tCRET", 0400},
        {"non-ASCII", "caf\xc3\xa9", 0400},
        {"empty", "", 0400},
        {"a FIFO", "", 0, Kind::fifo},
        {"a directory", "", 0, Kind::directory},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        TempDir home;
        const auto path = home.file(".erlang.cookie");
        make(c, path);
        const ErlVerdict erl = erl_verdict(home.path(), epmd.port());
        INFO("erl said: " << erl.output);
        auto ours = read_cookie_file(path);
        CHECK(ours.has_value() == erl.accepted);
        if (ours && erl.accepted) CHECK(ours->cookie == erl.cookie);
        if (!ours && !erl.accepted) {
            const std::string& message = ours.error().detail;
            if (c.kind == Kind::file) {
                CHECK(erl.output.find(message) != std::string::npos);  // erl's very words
            } else {
                // erl means the same (it prints the type after a list of character codes).
                const std::string type = c.kind == Kind::fifo ? "other" : "directory";
                CHECK(message == "Cookie file " + path + " is of type " + type);
                CHECK(erl.output.find("|" + type + "]") != std::string::npos);
            }
        }

        // The command: HOME's file by default, or the file given with --cookie-file. An accepted
        // cookie gets as far as EPMD (which does not know `nobody`); a refused one stops there.
        for (const auto& how : {std::vector<std::string>{"ping", nobody},
                                std::vector<std::string>{"ping", nobody, "--cookie-file", path}}) {
            const auto r = run_cli(how, environment(home.path(), epmd.port()));
            CHECK(r.exit_status == (erl.accepted ? 4 : 1));
            if (!ours) CHECK(r.err.find(ours.error().detail) != std::string::npos);
        }
    }
}

TEST_CASE("a cookie file we create is one erl accepts, and the command says it created it") {
    require_cli();
    EpmdProcess epmd(free_port());
    TempDir home;
    const auto r =
        run_cli({"ping", "nobody@" + short_host()}, environment(home.path(), epmd.port()));
    CHECK(r.exit_status == 4);
    const auto path = home.file(".erlang.cookie");
    CHECK(r.err.find("warning: created " + path) != std::string::npos);
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0400);
    auto ours = read_cookie_file(path);
    REQUIRE(ours.has_value());
    CHECK(ours->cookie.size() == 20);
    const ErlVerdict erl = erl_verdict(home.path(), epmd.port());
    INFO(erl.output);
    CHECK(erl.accepted);
    CHECK(erl.cookie == ours->cookie);
    // Once it exists, nothing more is said.
    const auto again =
        run_cli({"ping", "nobody@" + short_host()}, environment(home.path(), epmd.port()));
    CHECK(again.err.find("created") == std::string::npos);
}
