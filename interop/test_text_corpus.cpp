// Erlang text of terms, both ways: erl prints a random corpus of data terms, we parse and print
// them, and erl reads our printing back as the same terms.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "corpus_node.hpp"
#include "distribute/term.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace std::chrono_literals;

TEST_CASE("erl's text of random data terms parses in C++, and erl reads our printing back") {
    CorpusNode erl;
    const auto originals = erl.dir.file("originals.etf");
    const auto theirs = erl.dir.file("theirs.txt");
    const auto ours = erl.dir.file("ours.txt");
    const auto count = 1500;
    REQUIRE(erl.node.eval("etf_corpus:generate(" + std::to_string(corpus_seed()) + ", " +
                              std::to_string(count) + ", " + quoted(originals) + ")",
                          180s) == std::to_string(count));
    const auto written =
        erl.node.eval("etf_corpus:write_texts(" + quoted(originals) + ", " + quoted(theirs) + ")");
    std::vector<Bytes> printed;
    std::size_t parsed_count = 0, failures = 0;
    const auto texts = read_frames(theirs);
    for (std::size_t i = 0; i < texts.size(); ++i) {
        const std::string text(texts[i].begin(), texts[i].end());
        if (text.empty()) {
            printed.emplace_back();
            continue;
        }
        auto parsed = parse_term(text);
        if (!parsed) {
            if (++failures <= 5)
                FAIL_CHECK("term " << i + 1 << ": " << parsed.error().to_string() << "\n  "
                                   << text.substr(0, 400));
            printed.emplace_back();
            continue;
        }
        ++parsed_count;
        const std::string again = to_string(*parsed);
        printed.emplace_back(again.begin(), again.end());
        auto reparsed = parse_term(again);
        CHECK_MESSAGE(
            (reparsed && *reparsed == *parsed),
            "term " << i + 1 << " prints as text we cannot read back: " << again.substr(0, 400));
    }
    CHECK(failures == 0);
    MESSAGE(written << " data terms of " << count);
    CHECK(std::stoul(written) > 300);
    write_frames(ours, printed);
    CHECK(erl.node.eval("etf_corpus:check_text(" + quoted(originals) + ", " + quoted(ours) + ")",
                        120s) == "{ok," + std::to_string(parsed_count) + "}");
}
