// The external term format against a real BEAM: a random corpus made by erl goes through our
// decoder and encoder and must come back =:= to the original; terms built in C++ and encoded by
// us must decode in erl to what an Erlang literal says they are.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "corpus_node.hpp"
#include "distribute/etf.hpp"
#include "distribute/term.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

// No pid, port, reference or fun anywhere inside: a term Erlang text can express.
bool is_data(const Term& root) {
    std::vector<const Term*> todo{&root};
    while (!todo.empty()) {
        const Term& t = *todo.back();
        todo.pop_back();
        if (t.is_pid() || t.is_port() || t.is_reference() || t.is_fun()) return false;
        for (const auto& e : t.elements())
            todo.push_back(&e);
        if (t.is_list() && !t.is_nil()) todo.push_back(&t.tail());
        for (const auto& entry : t.entries()) {
            todo.push_back(&entry.key);
            todo.push_back(&entry.value);
        }
    }
    return true;
}

struct Corpus {
    std::vector<Bytes> originals;
    std::vector<std::optional<Term>> terms;  // nullopt where we could not decode
    std::vector<std::string> failures;       // the first few of those, explained
};

Corpus decode_corpus(CorpusNode& erl, const std::string& path, std::size_t count) {
    const auto seed = corpus_seed();
    MESSAGE("corpus seed " << seed << " (set DISTRIBUTE_CORPUS_SEED to vary it)");
    REQUIRE(erl.node.eval("etf_corpus:generate(" + std::to_string(seed) + ", " +
                              std::to_string(count) + ", " + quoted(path) + ")",
                          180s) == std::to_string(count));
    Corpus corpus;
    corpus.originals = read_frames(path);
    REQUIRE(corpus.originals.size() == count);
    for (std::size_t i = 0; i < count; ++i) {
        auto decoded = etf::decode(corpus.originals[i]);
        if (decoded) {
            corpus.terms.emplace_back(std::move(*decoded));
            continue;
        }
        corpus.terms.emplace_back();
        if (corpus.failures.size() < 5)
            corpus.failures.push_back("term " + std::to_string(i + 1) + ": " +
                                      decoded.error().to_string() + "\n  " +
                                      erl.node.eval("etf_corpus:show(" + quoted(path) + ", " +
                                                    std::to_string(i + 1) + ")"));
    }
    return corpus;
}

}  // namespace

TEST_CASE("every term of a random erl corpus decodes and re-encodes to a term erl finds =:=") {
    CorpusNode erl;
    const auto originals = erl.dir.file("originals.etf");
    const auto ours = erl.dir.file("ours.etf");
    Corpus corpus = decode_corpus(erl, originals, 3000);
    for (const auto& failure : corpus.failures)
        FAIL_CHECK("we could not decode " << failure);

    std::vector<Bytes> encoded;
    std::size_t decoded_count = 0;
    for (std::size_t i = 0; i < corpus.terms.size(); ++i) {
        if (!corpus.terms[i]) {
            encoded.emplace_back();
            continue;
        }
        ++decoded_count;
        // Every seventh compressed, to exercise our zlib path on erl's side too.
        etf::EncodeOptions options;
        if (i % 7 == 3) options.compression = 6;
        encoded.push_back(etf::encode(*corpus.terms[i], options));
        // Our own bytes read back to the same term.
        auto again = etf::decode(encoded.back());
        CHECK_MESSAGE((again && *again == *corpus.terms[i]), "term " << i + 1);
    }
    write_frames(ours, encoded);
    CHECK(erl.node.eval("etf_corpus:check(" + quoted(originals) + ", " + quoted(ours) + ")",
                        120s) == "{ok," + std::to_string(decoded_count) + "}");
}

TEST_CASE("data terms of the erl corpus print as text that erl and our parser read back") {
    CorpusNode erl;
    const auto originals = erl.dir.file("originals.etf");
    const auto texts = erl.dir.file("texts.etf");
    Corpus corpus = decode_corpus(erl, originals, 1500);
    for (const auto& failure : corpus.failures)
        FAIL_CHECK("we could not decode " << failure);

    std::vector<Bytes> printed;
    std::size_t data_terms = 0;
    for (std::size_t i = 0; i < corpus.terms.size(); ++i) {
        if (!corpus.terms[i] || !is_data(*corpus.terms[i])) {
            printed.emplace_back();
            continue;
        }
        ++data_terms;
        const Term& t = *corpus.terms[i];
        const std::string text = to_string(t);
        printed.emplace_back(text.begin(), text.end());
        auto parsed = parse_term(text);
        CHECK_MESSAGE((parsed && *parsed == t),
                      "term " << i + 1 << " does not parse back: " << text.substr(0, 300));
    }
    MESSAGE(data_terms << " of " << corpus.terms.size() << " terms are data terms");
    CHECK(data_terms > 300);
    write_frames(texts, printed);
    CHECK(erl.node.eval("etf_corpus:check_text(" + quoted(originals) + ", " + quoted(texts) + ")",
                        120s) == "{ok," + std::to_string(data_terms) + "}");
}

namespace {

struct Expectation {
    Term term;
    std::string erlang;  // an Erlang expression for the same term
    int compression = -1;
};

Atom atom(std::string_view name) {
    return Atom::make(name).value();
}

std::string repeat(std::string_view text, std::size_t times) {
    std::string result;
    for (std::size_t i = 0; i < times; ++i)
        result += text;
    return result;
}

BigInt power_of_two(std::size_t bits) {
    std::string digits(bits + 1, '0');
    digits[0] = '1';
    return *BigInt::parse(digits, 2);
}

std::vector<Expectation> expectations() {
    const Atom node = atom("node@host");
    Reference ref{node, 7, 3, {1, 2, 3, 0, 0}};
    Reference long_ref{node, 7, 5, {1, 2, 3, 4, 5}};
    std::vector<Term> ints, bytes_70000, bytes_65535, records, squares, deep_items;
    for (int i = 1; i <= 1000; ++i)
        ints.emplace_back(i);
    for (int i = 1; i <= 70000; ++i)
        bytes_70000.emplace_back(i % 256);
    for (int i = 1; i <= 65535; ++i)
        bytes_65535.emplace_back(i % 256);
    for (int i = 1; i <= 1000; ++i)
        records.push_back(tuple("person"_a, binary("Ann"), i, binary("ann@example.com")));
    std::vector<MapEntry> map_entries;
    for (int i = 1; i <= 100; ++i)
        map_entries.push_back({Term(i), Term(i * i)});
    Term deep;
    for (int i = 0; i < 10000; ++i)
        deep = list(deep);
    const std::string ref_bytes = "119,9,\"node@host\"";

    return {
        {Term(0), "0"},
        {Term(255), "255"},
        {Term(256), "256"},
        {Term(-1), "-1"},
        {Term(std::int64_t{-2147483648}), "-2147483648"},
        {Term(2147483647), "2147483647"},
        {Term(std::int64_t{2147483648}), "2147483648"},
        {Term(std::numeric_limits<std::int64_t>::max()), "9223372036854775807"},
        {Term(std::numeric_limits<std::int64_t>::min()), "-9223372036854775808"},
        {Term(std::numeric_limits<std::uint64_t>::max()), "18446744073709551615"},
        {Term(power_of_two(64)), "1 bsl 64"},
        {Term(power_of_two(11111)), "1 bsl 11111"},
        {Term(-power_of_two(11111)), "-(1 bsl 11111)"},
        {Term(3.14), "3.14"},
        {Term(-0.5e-300), "-0.5e-300"},
        {Term(1.7976931348623157e308), "1.7976931348623157e308"},
        {Term(5e-324), "5.0e-324"},
        {Term(atoms::ok), "ok"},
        {Term(atoms::empty), "''"},
        {Term(true), "true"},
        {Term(atom("h\xc3\xa9llo \xe2\x98\x83")), "'h\xc3\xa9llo \xe2\x98\x83'"},
        {Term(atom(repeat("\xc3\xa9", 255))), "list_to_atom(lists:duplicate(255, 16#e9))"},
        {Term(atom(repeat("\xf0\x9f\x98\x80", 255))),
         "list_to_atom(lists:duplicate(255, 16#1f600))"},
        {Term(atom(std::string(255, 'z'))), "list_to_atom(lists:duplicate(255, $z))"},
        {tuple(), "{}"},
        {tuple("ok"_a, list(1, 2)), "{ok, [1, 2]}"},
        {list(), "[]"},
        {list_from(std::vector<Term>{Term(1), Term(2)}, Term(3)), "[1, 2 | 3]"},
        {*charlist("abc"), "\"abc\""},
        {*charlist("h\xc3\xa9llo \xe2\x98\x83"), "\"h\xc3\xa9llo \xe2\x98\x83\""},
        {list_from(ints), "lists:seq(1, 1000)"},
        {list_from(bytes_65535), "[X rem 256 || X <- lists:seq(1, 65535)]"},
        {list_from(bytes_70000), "[X rem 256 || X <- lists:seq(1, 70000)]"},
        {map({}), "#{}"},
        {map({{Term("a"_a), Term(1)}, {binary("b"), list()}, {Term(1.0), Term(2)}}),
         "#{a => 1, <<\"b\">> => [], 1.0 => 2}"},
        {map_from(map_entries), "maps:from_list([{I, I * I} || I <- lists:seq(1, 100)])"},
        {binary(""), "<<>>"},
        {binary("hello"), "<<\"hello\">>"},
        {binary(std::string(65536, '\x07')), "binary:copy(<<7>>, 65536)"},
        {bitstring(std::vector<std::uint8_t>{0xE0}, 3), "<<7:3>>"},
        {bitstring(std::vector<std::uint8_t>{1, 2, 0x80}, 1), "<<1, 2, 1:1>>"},
        {Term(Pid{node, 1, 2, 3}),
         "binary_to_term(<<131, 88, " + ref_bytes + ", 1:32, 2:32, 3:32>>)"},
        {Term(ref), "binary_to_term(<<131, 90, 3:16, " + ref_bytes + ", 7:32, 1:32, 2:32, 3:32>>)"},
        {Term(long_ref), "binary_to_term(<<131, 90, 5:16, " + ref_bytes +
                             ", 7:32, 1:32, 2:32, 3:32, 4:32, 5:32>>)"},
        {Term(Port{node, std::uint64_t{1} << 40, 5}),
         "binary_to_term(<<131, 120, " + ref_bytes + ", (1 bsl 40):64, 5:32>>)"},
        {Term(ExportFun{"lists"_a, atom("map"), 2}), "fun lists:map/2"},
        {deep, "lists:foldl(fun(_, A) -> [A] end, [], lists:seq(1, 10000))"},
        {list_from(records),
         "[{person, <<\"Ann\">>, I, <<\"ann@example.com\">>} || I <- lists:seq(1, 1000)]"},
        {binary(std::string(100000, '\0')), "binary:copy(<<0>>, 100000)", 6},
        {list_from(ints), "lists:seq(1, 1000)", 9},
        {list_from(records),
         "[{person, <<\"Ann\">>, I, <<\"ann@example.com\">>} || I <- lists:seq(1, 1000)]", 1},
    };
}

}  // namespace

TEST_CASE("terms built in C++ and encoded by us decode in erl to the terms Erlang literals make") {
    CorpusNode erl;
    const auto path = erl.dir.file("expected.etf");
    const auto cases = expectations();
    std::vector<Bytes> frames;
    std::string literals = "[";
    for (const auto& c : cases) {
        etf::EncodeOptions options;
        options.compression = c.compression;
        frames.push_back(etf::encode(c.term, options));
        if (c.compression >= 0) {
            // The BEAM keeps the compressed form only when it is smaller; these all shrink.
            CHECK_MESSAGE(frames.back().at(1) == 80, c.erlang << " was not compressed");
        }
        literals += (literals.size() > 1 ? ",\n" : "") + c.erlang;
    }
    literals += "]";
    write_frames(path, frames);
    CHECK(erl.node.eval("etf_corpus:expect_all(" + quoted(path) + ", " + literals + ")", 60s) ==
          "{ok," + std::to_string(cases.size()) + "}");
}
