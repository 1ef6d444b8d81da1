// The rows of the term codec benchmark: each term built as a Term for us and as a sequence of
// ei_x_encode_* calls for erl_interface, producing the same external format. The BEAM builds the
// same rows in erl/term_codec_bench.erl.
#pragma once

#include <ei.h>

#include <functional>
#include <string>
#include <vector>

#include "distribute/term.hpp"

namespace distribute::bench {

struct Row {
    std::string name;
    Term term;
    // Appends the term (no version byte) from plain C values prepared beforehand.
    std::function<void(ei_x_buff*)> ei_encode;
};

std::vector<Row> make_corpus();

}  // namespace distribute::bench
