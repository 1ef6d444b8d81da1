// `distribute term`: converts one term between the external term format and Erlang text.
//
//   distribute term --from etf|text --to etf|text [--compressed[=LEVEL]] [FILE]
//
// Reads FILE (or stdin when FILE is absent or `-`) as bytes, writes the result to stdout. Text
// output ends with a newline; text input may end with a `.`. Errors go to stderr with the
// position the decoder or parser reported, and the exit status is 1.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "distribute/etf.hpp"
#include "distribute/term.hpp"

namespace distribute::cli {
namespace {

struct TermOptions {
    std::string from;         // etf or text
    std::string to;           // etf or text
    std::string compression;  // empty: none; "true" (a bare --compressed): level 6; else 0..9
    std::string file;
};

// Prints `message` to stderr and makes CLI11 exit with status 1 without a message of its own.
[[noreturn]] void fail(const std::string& message) {
    std::fprintf(stderr, "distribute term: %s\n", message.c_str());
    throw CLI::RuntimeError(1);
}

std::vector<std::uint8_t> read_all(std::FILE* in, const std::string& name) {
    std::vector<std::uint8_t> bytes;
    std::uint8_t chunk[64 * 1024];
    while (std::size_t n = std::fread(chunk, 1, sizeof chunk, in))
        bytes.insert(bytes.end(), chunk, chunk + n);
    if (std::ferror(in)) fail(name + ": " + std::strerror(errno));
    return bytes;
}

std::vector<std::uint8_t> read_input(const std::string& file) {
    if (file.empty() || file == "-") return read_all(stdin, "stdin");
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(std::fopen(file.c_str(), "rb"),
                                                       &std::fclose);
    if (!in) fail(file + ": " + std::strerror(errno));
    return read_all(in.get(), file);
}

Term read_term(const TermOptions& options) {
    std::vector<std::uint8_t> input = read_input(options.file);
    if (options.from == "etf") {
        auto term = etf::decode(input);
        if (!term) fail("not a valid external term: " + term.error().to_string());
        return std::move(*term);
    }
    std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
    auto term = parse_term(text);
    if (!term) fail("not a valid Erlang term: " + term.error().to_string());
    return std::move(*term);
}

void write_term(const Term& term, const TermOptions& options) {
    std::vector<std::uint8_t> out;
    if (options.to == "etf") {
        etf::EncodeOptions encode;
        // Level 6 is what term_to_binary(T, [compressed]) uses.
        if (!options.compression.empty())
            encode.compression = options.compression == "true" ? 6 : options.compression[0] - '0';
        out = etf::encode(term, encode);
    } else {
        std::string text = to_string(term);
        text += '\n';
        out.assign(text.begin(), text.end());
    }
    if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0)
        fail(std::string("stdout: ") + std::strerror(errno));
}

}  // namespace

void add_term_command(CLI::App& app) {
    auto options = std::make_shared<TermOptions>();
    CLI::App* term = app.add_subcommand(
        "term", "Convert a term between the external term format (etf) and Erlang text");
    term->add_option("--from", options->from, "Input format")
        ->required()
        ->check(CLI::IsMember({"etf", "text"}));
    term->add_option("--to", options->to, "Output format")
        ->required()
        ->check(CLI::IsMember({"etf", "text"}));
    // A flag that may carry a value (--compressed=9) but never takes the next argument as one.
    term->add_flag("--compressed", options->compression,
                   "Compress ETF output with zlib, at LEVEL 0..9 (default 6, as term_to_binary)")
        ->option_text("[=LEVEL]")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
        ->check(
            [](const std::string& level) -> std::string {
                bool ok =
                    level == "true" || (level.size() == 1 && level[0] >= '0' && level[0] <= '9');
                return ok ? "" : "the level must be 0..9, not " + level;
            },
            "LEVEL 0..9");
    term->add_option("FILE", options->file, "Input file (default: stdin)");
    term->footer(
        "Text input may end with a '.'; text output ends with a newline. Terms nested deeper\n"
        "than 2097152 levels are refused, in text as in ETF.\n"
        "\n"
        "Examples:\n"
        "  echo '{ok, <<\"hi\">>}.' | distribute term --from text --to etf > t.etf\n"
        "  distribute term --from etf --to text t.etf          # prints {ok,<<\"hi\">>}\n"
        "\n"
        "Exit status: 0 done, 1 the input does not decode (stderr says where), 2 bad command "
        "line.");

    term->callback([options] {
        if (!options->compression.empty() && options->to != "etf")
            fail("--compressed applies only to --to etf");
        write_term(read_term(*options), *options);
    });
}

}  // namespace distribute::cli
