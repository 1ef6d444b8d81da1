// Shared by the corpus tests: an erl node with etf_corpus.erl loaded, and the framed files
// (<<Size:32, Bytes:Size/binary>>, repeated) through which it exchanges terms with us.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "erl_fixture.hpp"

namespace distribute::testing {

using Bytes = std::vector<std::uint8_t>;

std::vector<Bytes> read_frames(const std::string& path);
void write_frames(const std::string& path, const std::vector<Bytes>& frames);

// "path", as an Erlang string literal.
std::string quoted(const std::string& path);

// The corpus seed: DISTRIBUTE_CORPUS_SEED, or a fixed default so that runs repeat.
std::uint64_t corpus_seed();

// A node that has etf_corpus loaded, on its own epmd; `dir` is scratch space for the files.
struct CorpusNode {
    TempDir dir;
    EpmdProcess epmd{free_port()};
    ErlNode node{options(dir, epmd)};

  private:
    static ErlNodeOptions options(const TempDir& dir, const EpmdProcess& epmd);
};

}  // namespace distribute::testing
