#include "corpus_node.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>

namespace distribute::testing {

// Frames as etf_corpus.erl reads and writes them: <<Size:32, Bytes:Size/binary>>.
std::vector<Bytes> read_frames(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    const Bytes all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<Bytes> frames;
    std::size_t at = 0;
    while (at + 4 <= all.size()) {
        const std::size_t size = (std::size_t{all[at]} << 24) | (std::size_t{all[at + 1]} << 16) |
                                 (std::size_t{all[at + 2]} << 8) | all[at + 3];
        at += 4;
        if (size > all.size() - at) throw FixtureError("truncated frame in " + path);
        frames.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(at),
                            all.begin() + static_cast<std::ptrdiff_t>(at + size));
        at += size;
    }
    return frames;
}

void write_frames(const std::string& path, const std::vector<Bytes>& frames) {
    std::ofstream out(path, std::ios::binary);
    for (const auto& frame : frames) {
        const auto size = static_cast<std::uint32_t>(frame.size());
        const char header[4] = {static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                                static_cast<char>(size >> 8), static_cast<char>(size)};
        out.write(header, 4);
        out.write(reinterpret_cast<const char*>(frame.data()),
                  static_cast<std::streamsize>(frame.size()));
    }
    if (!out) throw FixtureError("cannot write " + path);
}

std::string quoted(const std::string& path) {
    return "\"" + path + "\"";
}

ErlNodeOptions CorpusNode::options(const TempDir& dir, const EpmdProcess& epmd) {
    compile_erl(INTEROP_SOURCE_DIR "/erl/etf_corpus.erl", dir.path());
    ErlNodeOptions o;
    o.name_prefix = "etf_corpus";
    o.epmd_port = epmd.port();
    o.extra_args = {"-pa", dir.path()};
    return o;
}

std::uint64_t corpus_seed() {
    const char* text = std::getenv("DISTRIBUTE_CORPUS_SEED");
    return text != nullptr ? std::strtoull(text, nullptr, 10) : 20240611;
}

}  // namespace distribute::testing
