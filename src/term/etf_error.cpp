// What decode errors say: the category for std::error_code and the one-line description.
#include <string>

#include "distribute/etf.hpp"

namespace distribute::etf {
namespace {

const char* message_of(DecodeErrc e) noexcept {
    switch (e) {
        case DecodeErrc::truncated:
            return "the input ends inside a term";
        case DecodeErrc::bad_version:
            return "the term does not start with version byte 131";
        case DecodeErrc::unknown_tag:
            return "unknown tag";
        case DecodeErrc::unsupported_tag:
            return "tag not supported outside the node that made it";
        case DecodeErrc::bad_atom:
            return "invalid atom";
        case DecodeErrc::unknown_atom:
            return "atom does not exist (safe mode)";
        case DecodeErrc::atom_table_full:
            return "atom table is full";
        case DecodeErrc::too_deep:
            return "term nested too deeply";
        case DecodeErrc::too_large:
            return "term larger than the size limit";
        case DecodeErrc::bignum_too_large:
            return "integer larger than the bignum limit";
        case DecodeErrc::bad_float:
            return "invalid float";
        case DecodeErrc::bad_bitstring:
            return "invalid bitstring";
        case DecodeErrc::bad_reference:
            return "invalid reference";
        case DecodeErrc::duplicate_map_key:
            return "map with a duplicate key";
        case DecodeErrc::bad_compression:
            return "invalid compressed term";
        case DecodeErrc::trailing_bytes:
            return "bytes after the term";
        case DecodeErrc::bad_fun:
            return "invalid fun";
        case DecodeErrc::bad_record:
            return "invalid native record";
        case DecodeErrc::bad_atom_cache_ref:
            return "atom cache reference past the atoms of the distribution header";
        case DecodeErrc::too_many_atoms:
            return "more new atoms than the source's atom budget allows";
    }
    return nullptr;
}

}  // namespace

const std::error_category& decode_category() noexcept {
    static const ErrorCategory<DecodeErrc> category("distribute.etf", message_of);
    return category;
}

std::error_code make_error_code(DecodeErrc e) noexcept {
    return {static_cast<int>(e), decode_category()};
}

std::string DecodeError::to_string() const {
    std::string out = decode_category().message(static_cast<int>(code));
    out += " at byte ";
    out += std::to_string(offset);
    if (!detail.empty()) {
        out += ": ";
        out += detail;
    }
    return out;
}

}  // namespace distribute::etf
