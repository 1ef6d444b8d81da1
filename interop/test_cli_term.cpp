// `distribute term` on terms a BEAM made: every term survives --from etf --to etf, and every data
// term survives --from etf --to text and back, as erl judges with =:=.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "corpus_node.hpp"

using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

const std::string cli = DISTRIBUTE_BUILD_ROOT "/src/cli/distribute";

// The command's stdout for `input`; a failure is reported with its stderr and gives no bytes.
Bytes convert(const std::vector<std::string>& args, const Bytes& input, std::size_t index) {
    std::vector<std::string> argv = {cli, "term"};
    argv.insert(argv.end(), args.begin(), args.end());
    const RunResult result = run(
        argv, 20s, {}, std::string_view(reinterpret_cast<const char*>(input.data()), input.size()));
    if (result.exit_status != 0) {
        FAIL_CHECK("term " << index + 1 << ": distribute term exited with " << result.exit_status
                           << ": " << result.err.substr(0, 400));
        return {};
    }
    return Bytes(result.out.begin(), result.out.end());
}

}  // namespace

TEST_CASE("distribute term keeps every BEAM term through etf to etf, and data terms through text") {
    REQUIRE_MESSAGE(run({"test", "-x", cli}, 5s).exit_status == 0, cli << " is not built");
    CorpusNode erl;
    const auto originals = erl.dir.file("originals.etf");
    const auto via_etf = erl.dir.file("via_etf.etf");
    const auto via_text = erl.dir.file("via_text.etf");
    const std::size_t count = 400;
    REQUIRE(erl.node.eval("etf_corpus:generate(" + std::to_string(corpus_seed()) + ", " +
                              std::to_string(count) + ", " + quoted(originals) + ")",
                          120s) == std::to_string(count));
    // erl's own judgement of which terms have a text form: its ~p text, or an empty frame.
    const auto texts_path = erl.dir.file("theirs.txt");
    erl.node.eval("etf_corpus:write_texts(" + quoted(originals) + ", " + quoted(texts_path) + ")");
    const auto frames = read_frames(originals);
    const auto texts = read_frames(texts_path);
    REQUIRE(frames.size() == count);
    REQUIRE(texts.size() == count);

    std::vector<Bytes> etf_out, text_out;
    std::size_t etf_ok = 0, text_ok = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const std::vector<std::string> to_etf =
            i % 5 == 0 ? std::vector<std::string>{"--from", "etf", "--to", "etf", "--compressed"}
                       : std::vector<std::string>{"--from", "etf", "--to", "etf"};
        etf_out.push_back(convert(to_etf, frames[i], i));
        etf_ok += !etf_out.back().empty();
        if (texts[i].empty()) {
            text_out.emplace_back();
            continue;
        }
        const Bytes text = convert({"--from", "etf", "--to", "text"}, frames[i], i);
        text_out.push_back(text.empty() ? Bytes{}
                                        : convert({"--from", "text", "--to", "etf"}, text, i));
        text_ok += !text_out.back().empty();
    }
    MESSAGE(text_ok << " data terms went through text");
    CHECK(text_ok > 100);
    write_frames(via_etf, etf_out);
    write_frames(via_text, text_out);
    CHECK(erl.node.eval("etf_corpus:check(" + quoted(originals) + ", " + quoted(via_etf) + ")",
                        60s) == "{ok," + std::to_string(etf_ok) + "}");
    CHECK(erl.node.eval("etf_corpus:check(" + quoted(originals) + ", " + quoted(via_text) + ")",
                        60s) == "{ok," + std::to_string(text_ok) + "}");
}

TEST_CASE("distribute term takes a term nested as deep as the bound, in ETF and text, not deeper") {
    REQUIRE_MESSAGE(run({"test", "-x", cli}, 5s).exit_status == 0, cli << " is not built");
    CorpusNode erl;
    const auto deepest = erl.dir.file("deepest.etf");
    const auto deeper = erl.dir.file("deeper.etf");
    // N one-element lists around [] are N nested containers, in both forms.
    const std::string nest = "fun(N) -> lists:foldl(fun(_, A) -> [A] end, [], lists:seq(1, N)) end";
    REQUIRE(erl.node.eval(
                "file:write_file(" + quoted(deepest) + ", term_to_binary((" + nest + ")(2097152)))",
                120s) == "ok");
    REQUIRE(erl.node.eval(
                "file:write_file(" + quoted(deeper) + ", term_to_binary((" + nest + ")(2097153)))",
                120s) == "ok");

    const RunResult text = run({cli, "term", "--from", "etf", "--to", "text", deepest}, 120s);
    REQUIRE_MESSAGE(text.exit_status == 0, text.err);
    CHECK(text.out == std::string(2097152, '[') + "[]" + std::string(2097152, ']') + "\n");
    // Back to ETF: the very bytes erl wrote.
    const RunResult etf = run({cli, "term", "--from", "text", "--to", "etf"}, 120s, {}, text.out);
    REQUIRE_MESSAGE(etf.exit_status == 0, etf.err);
    std::ifstream written(deepest, std::ios::binary);
    const std::string theirs{std::istreambuf_iterator<char>(written), {}};
    CHECK(etf.out == theirs);

    const RunResult too_deep_etf =
        run({cli, "term", "--from", "etf", "--to", "text", deeper}, 120s);
    CHECK(too_deep_etf.exit_status == 1);
    CHECK(too_deep_etf.err.find("more than 2097152 nested containers") != std::string::npos);
    const RunResult too_deep_text =
        run({cli, "term", "--from", "text", "--to", "etf"}, 120s, {}, "[" + text.out + "]");
    CHECK(too_deep_text.exit_status == 1);
    CHECK(too_deep_text.err.find("column 2097153: containers nested more than 2097152 deep") !=
          std::string::npos);
}
