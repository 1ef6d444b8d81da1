// Term codec throughput: ours (etf::encode / etf::decode) against erl_interface (ei_x_encode_*,
// ei_decode_*) and the BEAM (term_to_binary / binary_to_term, timed by an erl run started from
// here), on the rows of corpus.cpp. Reports; asserts nothing.
//
//   term_codec [--ms N] [--no-beam]     N: milliseconds per timing run (best of three; 200)
#include <ei.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "corpus.hpp"
#include "distribute/etf.hpp"
#include "ei_walk.hpp"
#include "erl_fixture.hpp"

using namespace distribute;
using namespace distribute::bench;
using Clock = std::chrono::steady_clock;

namespace {

struct Rates {
    double encode = 0;  // operations per second
    double decode = 0;
};

struct Result {
    std::string name;
    std::size_t bytes = 0;    // our encoding
    bool same_bytes = false;  // erl_interface made exactly our bytes
    Rates ours, ei, beam;
    std::size_t beam_bytes = 0;
};

volatile std::int64_t sink = 0;

// Best of three runs of at least `ms` each, in operations per second.
template <class Op>
double rate(Op&& op, int ms) {
    double best = 0;
    for (int run = 0; run < 3; ++run) {
        std::size_t count = 0;
        std::size_t batch = 1;
        const auto start = Clock::now();
        const auto deadline = start + std::chrono::milliseconds(ms);
        auto now = start;
        do {
            for (std::size_t i = 0; i < batch; ++i)
                op();
            count += batch;
            batch = std::min<std::size_t>(batch * 2, 4096);
            now = Clock::now();
        } while (now < deadline);
        best = std::max(
            best, static_cast<double>(count) / std::chrono::duration<double>(now - start).count());
    }
    return best;
}

Result measure(const Row& row, int ms) {
    Result r;
    r.name = row.name;
    std::vector<std::uint8_t> out;
    etf::encode_to(out, row.term);
    r.bytes = out.size();
    const std::vector<std::uint8_t> ours = out;

    ei_x_buff x;
    ei_x_new_with_version(&x);
    row.ei_encode(&x);
    r.same_bytes = static_cast<std::size_t>(x.index) == ours.size() &&
                   std::memcmp(x.buff, ours.data(), ours.size()) == 0;

    r.ours.encode = rate(
        [&] {
            out.clear();
            etf::encode_to(out, row.term);
            sink = sink + static_cast<std::int64_t>(out.size());
        },
        ms);
    r.ours.decode = rate(
        [&] {
            auto term = etf::decode(ours);
            sink = sink + term.has_value();
        },
        ms);
    r.ei.encode = rate(
        [&] {
            x.index = 0;
            ei_x_encode_version(&x);
            row.ei_encode(&x);
            sink = sink + x.index;
        },
        ms);
    const std::vector<char> ei_bytes(x.buff, x.buff + x.index);
    r.ei.decode = rate(
        [&] {
            int index = 0;
            int version = 0;
            ei_decode_version(ei_bytes.data(), &index, &version);
            sink = sink + ei_walk(ei_bytes.data(), &index);
        },
        ms);
    ei_x_free(&x);
    return r;
}

// Runs bench/erl/term_codec_bench.erl and fills in the BEAM's rates, row by row.
void measure_beam(std::vector<Result>& results, int ms) {
    interop::TempDir dir;
    interop::compile_erl(BENCH_SOURCE_DIR "/erl/term_codec_bench.erl", dir.path());
    const auto timeout = std::chrono::milliseconds(60000 + 6L * ms * 3 * results.size());
    const std::string out = interop::run_erl_eval(
        "term_codec_bench:main(" + std::to_string(ms) + ")", timeout, {"-pa", dir.path()});
    std::istringstream lines(out);
    std::string tag;
    std::size_t index = 0, bytes = 0;
    double encode = 0, decode = 0;
    while (lines >> tag >> index >> bytes >> encode >> decode) {
        if (tag != "row" || index < 1 || index > results.size()) continue;
        results[index - 1].beam = {encode, decode};
        results[index - 1].beam_bytes = bytes;
    }
}

std::string human(double ops) {
    char text[32];
    if (ops >= 1e6)
        std::snprintf(text, sizeof text, "%.2fM", ops / 1e6);
    else if (ops >= 1e3)
        std::snprintf(text, sizeof text, "%.1fk", ops / 1e3);
    else
        std::snprintf(text, sizeof text, "%.0f", ops);
    return text;
}

std::string ratio(double ours, double other) {
    if (other <= 0) return "-";
    char text[32];
    std::snprintf(text, sizeof text, "%.2fx", ours / other);
    return text;
}

void print_table(const std::vector<Result>& results, bool encode) {
    std::printf("\n%s (ops/s; MB/s of our encoding)\n\n", encode ? "Encode" : "Decode");
    std::printf("| %-26s | %8s | %9s | %9s | %9s | %9s | %7s | %9s |\n", "term", "bytes", "ours",
                "ours MB/s", "ei", "BEAM", "ours/ei", "ours/BEAM");
    std::printf("|%s|%s:|%s:|%s:|%s:|%s:|%s:|%s:|\n", std::string(28, '-').c_str(),
                std::string(9, '-').c_str(), std::string(10, '-').c_str(),
                std::string(10, '-').c_str(), std::string(10, '-').c_str(),
                std::string(10, '-').c_str(), std::string(8, '-').c_str(),
                std::string(10, '-').c_str());
    for (const auto& r : results) {
        const Rates& ours = r.ours;
        const double mine = encode ? ours.encode : ours.decode;
        const double ei = encode ? r.ei.encode : r.ei.decode;
        const double beam = encode ? r.beam.encode : r.beam.decode;
        std::printf("| %-26s | %8zu | %9s | %9.0f | %9s | %9s | %7s | %9s |\n", r.name.c_str(),
                    r.bytes, human(mine).c_str(), mine * static_cast<double>(r.bytes) / 1e6,
                    human(ei).c_str(), beam > 0 ? human(beam).c_str() : "-",
                    ratio(mine, ei).c_str(), ratio(mine, beam).c_str());
    }
}

}  // namespace

int main(int argc, char** argv) {
    int ms = 200;
    bool beam = true;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--ms") == 0 && i + 1 < argc) {
            ms = std::max(1, std::atoi(argv[++i]));
        } else if (std::strcmp(argv[i], "--no-beam") == 0) {
            beam = false;
        } else {
            std::fprintf(stderr, "usage: %s [--ms N] [--no-beam]\n", argv[0]);
            return 2;
        }
    }
    ei_init();
    const auto corpus = make_corpus();
    std::vector<Result> results;
    for (const auto& row : corpus) {
        std::fprintf(stderr, "measuring %s...\n", row.name.c_str());
        results.push_back(measure(row, ms));
    }
    if (beam) {
        std::fprintf(stderr, "measuring the BEAM...\n");
        try {
            measure_beam(results, ms);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "BEAM run failed, its column stays empty: %s\n", e.what());
        }
    }
    print_table(results, true);
    print_table(results, false);
    std::printf("\n");
    for (const auto& r : results) {
        if (!r.same_bytes)
            std::printf("note: erl_interface's bytes differ from ours for '%s'\n", r.name.c_str());
        if (r.beam_bytes != 0 && r.beam_bytes != r.bytes)
            std::printf("note: the BEAM's term_to_binary is %zu bytes for '%s' (ours %zu)\n",
                        r.beam_bytes, r.name.c_str(), r.bytes);
    }
    return static_cast<int>(sink & 0);
}
