// The external term format: the bytes term_to_binary/1 makes and every distribution message
// carries. Decoding treats its input as hostile: every length is checked against the bytes that
// are really there, nesting is handled without recursion, and limits bound what a peer can make
// us allocate.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "distribute/error.hpp"
#include "distribute/expected.hpp"
#include "distribute/term.hpp"

namespace distribute::etf {

inline constexpr std::uint8_t version_magic = 131;

enum class DecodeErrc {
    truncated = 1,       // the input ends inside a term
    bad_version,         // the first byte is not 131
    unknown_tag,         // a tag this format does not have
    unsupported_tag,     // LOCAL_EXT, FUN_EXT or an atom cache reference outside a dist header
    bad_atom,            // not valid UTF-8 or Latin-1, or longer than 255 characters
    unknown_atom,        // safe mode: the atom does not exist yet
    atom_table_full,     // the atom table reached its limit
    too_deep,            // nesting beyond DecodeOptions::max_depth
    too_large,           // more than DecodeOptions::max_bytes of input or decompressed data
    bignum_too_large,    // more digits than DecodeOptions::max_bignum_bytes
    bad_float,           // inf, NaN or an unreadable old-style float
    bad_bitstring,       // BIT_BINARY_EXT with a bit count outside 1..8, or 0 bytes and bits
    bad_reference,       // a reference with 0 or more than 5 words
    duplicate_map_key,   // MAP_EXT with the same key twice
    bad_compression,     // zlib data that is corrupt or does not inflate to the declared size
    trailing_bytes,      // decode() was given bytes after the term
    bad_fun,             // NEW_FUN_EXT whose size or fields do not add up
    bad_record,          // RECORD_EXT with unknown flags or a field named twice
    bad_atom_cache_ref,  // ATOM_CACHE_REF past the atoms its distribution header names
    too_many_atoms,      // a new atom past the source's AtomBudget
};
const std::error_category& decode_category() noexcept;
std::error_code make_error_code(DecodeErrc e) noexcept;

struct DecodeError {
    DecodeErrc code{};
    std::size_t offset = 0;  // where in the input the problem was found
    std::string detail;      // a human-readable explanation
    std::string to_string() const;
};

// How many new atoms the terms of one source (a peer's connection) may add to the process-wide
// table, which never frees one: a source that keeps sending new atoms spends its own budget, not
// the table that the program and every other connection share. Any thread.
class AtomBudget {
  public:
    explicit AtomBudget(std::size_t atoms) noexcept : left_(atoms) {}
    // One atom from the budget; false when it is spent.
    bool take() noexcept;
    std::size_t left() const noexcept { return left_.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::size_t> left_;
};

struct DecodeOptions {
    // Like binary_to_term(B, [safe]): refuse atoms that do not exist yet.
    bool safe = false;
    // Not null: atoms that do not exist yet are made only while this budget lasts (it outlives
    // the decode, and is shared by every decode of the same source).
    AtomBudget* atom_budget = nullptr;
    // The bound of every term parser (parse_term's too): deep enough for a 1,000,000-deep term.
    // The decoder does not recurse, so this bounds only the memory of its explicit stack.
    std::size_t max_depth = max_term_depth;
    // Input size, and the declared uncompressed size of compressed terms (no zip bombs).
    std::size_t max_bytes = std::size_t{1} << 30;
    // 16 KiB of digits is an integer of about 39,000 decimal digits.
    std::size_t max_bignum_bytes = 16 * 1024;
};

// The atom `utf8` names in input decoded with `options`: only looked up in safe mode, made
// within the atom budget otherwise. The one rule for atoms from input, terms and distribution
// headers alike; the error's offset is 0 (the caller knows where the atom was).
[[nodiscard]] Expected<Atom, DecodeError> atom_from_input(std::string_view utf8,
                                                          const DecodeOptions& options);

struct EncodeOptions {
    // -1: not compressed; 0..9: zlib level, like term_to_binary(T, [{compressed, Level}]). The
    // compressed form is kept only when it is smaller, as the BEAM does.
    int compression = -1;
};

// A whole term: 131, the term, and nothing after it.
[[nodiscard]] Expected<Term, DecodeError> decode(std::span<const std::uint8_t> bytes,
                                                 const DecodeOptions& options = {});
// The same, slicing binaries of 64 bytes or more out of `buffer` instead of copying them.
[[nodiscard]] Expected<Term, DecodeError> decode(const SharedBuffer& buffer,
                                                 const DecodeOptions& options = {});

// One term from the front of `bytes` (131 first); `used` tells where the next one starts.
struct Decoded {
    Term term;
    std::size_t used = 0;
};
[[nodiscard]] Expected<Decoded, DecodeError> decode_prefix(std::span<const std::uint8_t> bytes,
                                                           const DecodeOptions& options = {});

// A term without the leading 131, as terms follow a distribution header.
[[nodiscard]] Expected<Decoded, DecodeError> decode_body(std::span<const std::uint8_t> bytes,
                                                         const DecodeOptions& options = {});

// The same two, for bytes inside `owner` (a receive buffer holding a whole frame): binaries of 64
// bytes or more are sliced out of it instead of copied.
[[nodiscard]] Expected<Decoded, DecodeError> decode_prefix(const SharedBuffer& owner,
                                                           std::span<const std::uint8_t> bytes,
                                                           const DecodeOptions& options = {});
[[nodiscard]] Expected<Decoded, DecodeError> decode_body(const SharedBuffer& owner,
                                                         std::span<const std::uint8_t> bytes,
                                                         const DecodeOptions& options = {});

// A term after a distribution header (no 131), where ATOM_CACHE_REF i stands for `header_atoms[i]`,
// the atoms that header named: what a peer sends once DIST_HDR_ATOM_CACHE is agreed.
[[nodiscard]] Expected<Decoded, DecodeError> decode_body(const SharedBuffer& owner,
                                                         std::span<const std::uint8_t> bytes,
                                                         std::span<const Atom> header_atoms,
                                                         const DecodeOptions& options = {});

// 131 followed by the term, as a current BEAM encodes it over distribution.
std::vector<std::uint8_t> encode(const Term& term, const EncodeOptions& options = {});
// Appends 131 and the term to `out`: encode straight into an outgoing buffer.
void encode_to(std::vector<std::uint8_t>& out, const Term& term, const EncodeOptions& options = {});
// Appends the term without 131.
void encode_body(std::vector<std::uint8_t>& out, const Term& term);

}  // namespace distribute::etf

template <>
struct std::is_error_code_enum<distribute::etf::DecodeErrc> : std::true_type {};
