// Term codec throughput: ours (etf::encode / etf::decode) against erl_interface (ei_x_encode_*,
// ei_decode_*) and the BEAM (term_to_binary / binary_to_term, timed by an erl run started from
// here), on the rows of corpus.cpp. Reports; asserts nothing.
//
//   term_codec [--ms N] [--no-beam] [--row TEXT] [--iterations N [--op OP]]   (--help says more)
#include <ei.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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
    double buffer_decode = 0;  // ours only: from a SharedBuffer, as a node decodes
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

// One row's four timed operations, with the buffers they reuse.
class Subject {
  public:
    explicit Subject(const Row& row) : row_(row) {
        etf::encode_to(out_, row.term);
        ours_ = out_;
        buffer_ = SharedBuffer(std::span<const std::uint8_t>(ours_));
        ei_x_new_with_version(&x_);
        row.ei_encode(&x_);
        ei_bytes_.assign(x_.buff, x_.buff + x_.index);
    }
    ~Subject() { ei_x_free(&x_); }
    Subject(const Subject&) = delete;
    Subject& operator=(const Subject&) = delete;

    const std::vector<std::uint8_t>& ours_bytes() const { return ours_; }
    bool same_bytes() const {
        return ei_bytes_.size() == ours_.size() &&
               std::memcmp(ei_bytes_.data(), ours_.data(), ours_.size()) == 0;
    }

    void ours_encode() {
        out_.clear();
        etf::encode_to(out_, row_.term);
        sink = sink + static_cast<std::int64_t>(out_.size());
    }
    void ours_decode() {
        auto term = etf::decode(ours_);
        sink = sink + term.has_value();
    }
    // As a node decodes a message: from the receive buffer, slicing binaries of 64 bytes or more
    // out of it instead of copying them.
    void ours_buffer_decode() {
        auto term = etf::decode(buffer_);
        sink = sink + term.has_value();
    }
    void ei_encode() {
        x_.index = 0;
        ei_x_encode_version(&x_);
        row_.ei_encode(&x_);
        sink = sink + x_.index;
    }
    void ei_decode() {
        int index = 0;
        int version = 0;
        ei_decode_version(ei_bytes_.data(), &index, &version);
        sink = sink + ei_walk(ei_bytes_.data(), &index);
    }

  private:
    const Row& row_;
    std::vector<std::uint8_t> out_;
    std::vector<std::uint8_t> ours_;
    SharedBuffer buffer_;
    ei_x_buff x_;
    std::vector<char> ei_bytes_;
};

Result measure(const Row& row, int ms) {
    Subject s(row);
    Result r;
    r.name = row.name;
    r.bytes = s.ours_bytes().size();
    r.same_bytes = s.same_bytes();
    r.ours.encode = rate([&] { s.ours_encode(); }, ms);
    r.ours.decode = rate([&] { s.ours_decode(); }, ms);
    r.ours.buffer_decode = rate([&] { s.ours_buffer_decode(); }, ms);
    r.ei.encode = rate([&] { s.ei_encode(); }, ms);
    r.ei.decode = rate([&] { s.ei_decode(); }, ms);
    return r;
}

// Runs bench/erl/term_codec_bench.erl and fills in the BEAM's rates, row by row.
void measure_beam(std::vector<Result>& results, int ms) {
    testing::TempDir dir;
    testing::compile_erl(BENCH_SOURCE_DIR "/erl/term_codec_bench.erl", dir.path());
    const auto timeout = std::chrono::milliseconds(60000 + 6L * ms * 3 * results.size());
    const std::string out = testing::run_erl_eval(
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
    std::printf("| %-26s | %8s | %9s | %9s | %9s | %9s | %7s | %9s |", "term", "bytes", "ours",
                "ours MB/s", "ei", "BEAM", "ours/ei", "ours/BEAM");
    // Decoding also from a SharedBuffer, the way a node decodes what it receives.
    if (!encode) std::printf(" %11s | %10s |", "ours buffer", "buffer/ei");
    std::printf("\n|%s|%s:|%s:|%s:|%s:|%s:|%s:|%s:|", std::string(28, '-').c_str(),
                std::string(9, '-').c_str(), std::string(10, '-').c_str(),
                std::string(10, '-').c_str(), std::string(10, '-').c_str(),
                std::string(10, '-').c_str(), std::string(8, '-').c_str(),
                std::string(10, '-').c_str());
    if (!encode)
        std::printf("%s:|%s:|", std::string(12, '-').c_str(), std::string(11, '-').c_str());
    std::printf("\n");
    for (const auto& r : results) {
        const Rates& ours = r.ours;
        const double mine = encode ? ours.encode : ours.decode;
        const double ei = encode ? r.ei.encode : r.ei.decode;
        const double beam = encode ? r.beam.encode : r.beam.decode;
        std::printf("| %-26s | %8zu | %9s | %9.0f | %9s | %9s | %7s | %9s |", r.name.c_str(),
                    r.bytes, human(mine).c_str(), mine * static_cast<double>(r.bytes) / 1e6,
                    human(ei).c_str(), beam > 0 ? human(beam).c_str() : "-",
                    ratio(mine, ei).c_str(), ratio(mine, beam).c_str());
        if (!encode)
            std::printf(" %11s | %10s |", human(ours.buffer_decode).c_str(),
                        ratio(ours.buffer_decode, ei).c_str());
        std::printf("\n");
    }
}

// Runs one operation of one row exactly `iterations` times, untimed: instruction counts under
// callgrind are repeatable on a loaded machine where wall-clock rates are not.
void run_fixed(const Row& row, const std::string& op, long iterations) {
    Subject s(row);
    void (Subject::*run)() = op == "ours-encode"          ? &Subject::ours_encode
                             : op == "ei-encode"          ? &Subject::ei_encode
                             : op == "ei-decode"          ? &Subject::ei_decode
                             : op == "ours-buffer-decode" ? &Subject::ours_buffer_decode
                                                          : &Subject::ours_decode;
    for (long i = 0; i < iterations; ++i)
        (s.*run)();
    std::fprintf(stderr, "%s: %s x %ld\n", row.name.c_str(), op.c_str(), iterations);
}

const char* const usage = R"(usage: term_codec [options]
  --ms N          milliseconds per timing run, best of three (200)
  --no-beam       skip the BEAM anchor
  --row TEXT      only the rows whose name contains TEXT (skips the BEAM, which runs all)
  --iterations N  no timing: run one operation N times on each selected row, for instruction
                  counts (valgrind --tool=callgrind term_codec --row ... --iterations ...)
  --op OP         with --iterations: ours-decode (default), ours-buffer-decode (from a
                  SharedBuffer, as a node decodes), ours-encode, ei-decode, ei-encode
)";

}  // namespace

int main(int argc, char** argv) {
    int ms = 200;
    bool beam = true;
    std::string only_row;
    long iterations = 0;
    std::string op = "ours-decode";
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--ms" && has_value) {
            ms = std::max(1, std::atoi(argv[++i]));
        } else if (arg == "--no-beam") {
            beam = false;
        } else if (arg == "--row" && has_value) {
            only_row = argv[++i];
        } else if (arg == "--iterations" && has_value) {
            iterations = std::max(1L, std::atol(argv[++i]));
        } else if (arg == "--op" && has_value) {
            op = argv[++i];
            if (op != "ours-decode" && op != "ours-buffer-decode" && op != "ours-encode" &&
                op != "ei-decode" && op != "ei-encode") {
                std::fprintf(stderr, "unknown --op %s\n%s", op.c_str(), usage);
                return 2;
            }
        } else {
            std::fprintf(stderr, "%s", usage);
            return arg == "--help" ? 0 : 2;
        }
    }
    ei_init();
    auto corpus = make_corpus();
    if (!only_row.empty()) {
        std::erase_if(corpus,
                      [&](const Row& row) { return row.name.find(only_row) == std::string::npos; });
        if (corpus.empty()) {
            std::fprintf(stderr, "no row matches '%s'\n", only_row.c_str());
            return 2;
        }
        // The BEAM script numbers all rows; a subset would misalign them.
        beam = false;
    }
    if (iterations > 0) {
        for (const auto& row : corpus)
            run_fixed(row, op, iterations);
        return static_cast<int>(sink & 0);
    }
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
