// The external term format. Golden bytes come from a real OTP 25 term_to_binary (with
// {minor_version, 2} where atoms matter, since that is what a BEAM sends over distribution).
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "distribute/etf.hpp"
#include "distribute/term.hpp"

using namespace distribute;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

Bytes text_bytes(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

Term decoded(const Bytes& bytes, const etf::DecodeOptions& options = {}) {
    auto term = etf::decode(bytes, options);
    if (!term) FAIL("decode failed: " << term.error().to_string());
    return *term;
}

etf::DecodeError failure(const Bytes& bytes, const etf::DecodeOptions& options = {}) {
    auto term = etf::decode(bytes, options);
    if (term) FAIL("decode succeeded: " << to_string(*term));
    return term.error();
}

etf::DecodeErrc failure_code(const Bytes& bytes, const etf::DecodeOptions& options = {}) {
    return failure(bytes, options).code;
}

Pid remote_pid() {
    return Pid{"a@b.c"_a, 85, 3, 256};
}

struct Golden {
    const char* name;
    Term term;
    Bytes bytes;
};

// What term_to_binary(T, [{minor_version, 2}]) gives on OTP 25.
std::vector<Golden> golden_terms() {
    Reference ref{"a@b.c"_a, 2, 3, {9, 8, 7}};
    return {
        {"small integer", Term(42), {131, 97, 42}},
        {"negative integer", Term(-1), {131, 98, 255, 255, 255, 255}},
        {"integer above a byte", Term(256), {131, 98, 0, 0, 1, 0}},
        {"smallest int32", Term(-2147483648LL), {131, 98, 128, 0, 0, 0}},
        {"2^31", Term(2147483648LL), {131, 110, 4, 0, 0, 0, 0, 128}},
        {"2^64",
         Term(*BigInt::parse("18446744073709551616")),
         {131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
        {"-2^64",
         Term(*BigInt::parse("-18446744073709551616")),
         {131, 110, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
        {"-2^63",
         Term(std::numeric_limits<std::int64_t>::min()),
         {131, 110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128}},
        {"float", Term(1.5), {131, 70, 63, 248, 0, 0, 0, 0, 0, 0}},
        {"negative zero", Term(-0.0), {131, 70, 128, 0, 0, 0, 0, 0, 0, 0}},
        {"atom", Term(atoms::ok), {131, 119, 2, 111, 107}},
        {"unicode atom", Term("üñí"_a), {131, 119, 6, 195, 188, 195, 177, 195, 173}},
        {"empty tuple", tuple(), {131, 104, 0}},
        {"tuple",
         tuple(atoms::ok, 1, binary("x")),
         {131, 104, 3, 119, 2, 111, 107, 97, 1, 109, 0, 0, 0, 1, 120}},
        {"nil", Term(), {131, 106}},
        {"string", *charlist("abc"), {131, 107, 0, 3, 97, 98, 99}},
        {"list", list("a"_a, 300), {131, 108, 0, 0, 0, 2, 119, 1, 97, 98, 0, 0, 1, 44, 106}},
        {"improper list",
         list_from(std::vector<Term>{1, 2}, Term(3)),
         {131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 97, 3}},
        {"binary", binary(Bytes{1, 2, 3}), {131, 109, 0, 0, 0, 3, 1, 2, 3}},
        {"bitstring", bitstring(Bytes{1, 160}, 3), {131, 77, 0, 0, 0, 2, 3, 1, 160}},
        {"map",
         map({{"a"_a, 1}, {binary("b"), Term()}, {2, 2.0}}),
         {131, 116, 0,   0, 0,  3,  97, 2,   70, 64, 0, 0, 0,  0,  0,
          0,   0,   119, 1, 97, 97, 1,  109, 0,  0,  0, 1, 98, 106}},
        {"export fun",
         Term(ExportFun{"lists"_a, "map"_a, 2}),
         {131, 113, 119, 5, 108, 105, 115, 116, 115, 119, 3, 109, 97, 112, 97, 2}},
        {"pid", Term(remote_pid()), {131, 88, 119, 5, 97, 64, 98, 46, 99, 0, 0,
                                     0,   85, 0,   0, 0,  3,  0,  0,  1,  0}},
        {"port",
         Term(Port{"a@b.c"_a, 9, 2}),
         {131, 89, 119, 5, 97, 64, 98, 46, 99, 0, 0, 0, 9, 0, 0, 0, 2}},
        {"port beyond 32 bits",
         Term(Port{"a@b.c"_a, 0x100000005, 7}),
         {131, 120, 119, 5, 97, 64, 98, 46, 99, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 7}},
        {"reference", Term(ref), {131, 90, 0, 3, 119, 5, 97, 64, 98, 46, 99, 0, 0, 0,
                                  2,   0,  0, 0, 9,   0, 0,  0,  8,  0,  0,  0, 7}},
    };
}

// fun(X) -> {X, A, B} end with A = {tag, [1, 2]} and B = <<"free">>, from module gold2.
const Bytes closure_bytes = {
    131, 112, 0,   0,   0,   92,  1,   232, 144, 125, 128, 28,  222, 16,  122, 248, 176, 134, 149,
    90,  80,  75,  205, 0,   0,   0,   0,   0,   0,   0,   2,   119, 5,   103, 111, 108, 100, 50,
    97,  0,   98,  7,   68,  131, 236, 88,  119, 13,  110, 111, 110, 111, 100, 101, 64,  110, 111,
    104, 111, 115, 116, 0,   0,   0,   9,   0,   0,   0,   0,   0,   0,   0,   0,   104, 2,   119,
    3,   116, 97,  103, 107, 0,   2,   1,   2,   109, 0,   0,   0,   4,   102, 114, 101, 101};

// term_to_binary(lists:duplicate(20, {1000, <<"hello">>}), [compressed]).
const Bytes compressed_bytes = {131, 80,  0,  0,  1,  90,  120, 156, 203, 97,  96,  96,  16,  201,
                                96,  74,  98, 96, 96, 126, 145, 11,  100, 179, 102, 164, 230, 228,
                                228, 143, 10, 80, 44, 144, 5,   0,   28,  105, 85,  175};

Term compressed_term() {
    std::vector<Term> items(20, tuple(1000, binary("hello")));
    return list_from(items);
}

// A nested term: [[[...[]...]]] as LIST_EXT of one element each.
Bytes nested_lists(std::size_t depth) {
    Bytes out{131};
    out.reserve(1 + depth * 6 + 1);
    for (std::size_t i = 0; i < depth; ++i)
        out.insert(out.end(), {108, 0, 0, 0, 1});
    out.push_back(106);
    for (std::size_t i = 0; i < depth; ++i)
        out.push_back(106);
    return out;
}

// Terms whose every prefix and every corrupted byte the decoder must survive.
std::vector<Bytes> adversarial_inputs() {
    std::vector<Bytes> inputs;
    for (const Golden& g : golden_terms())
        inputs.push_back(g.bytes);
    inputs.push_back(closure_bytes);
    inputs.push_back(compressed_bytes);
    Term mixed = tuple(list(1, 2.5, "x"_a), map({{binary("k"), list(remote_pid())}}),
                       *BigInt::parse("123456789012345678901234567890"), bitstring(Bytes{7}, 2));
    inputs.push_back(etf::encode(mixed));
    inputs.push_back(etf::encode(mixed, {.compression = 6}));
    // A list continued by one-element LIST_EXT tails (it grows while it is decoded) ending in a
    // STRING_EXT, inside a map whose keys come out of order.
    Bytes chain{131, 116, 0, 0, 0, 2, 97, 9, 108, 0, 0, 0, 1, 97, 1};
    for (int i = 0; i < 12; ++i)
        chain.insert(chain.end(), {108, 0, 0, 0, 1, 104, 1, 97, static_cast<std::uint8_t>(i)});
    chain.insert(chain.end(), {107, 0, 2, 5, 6, 97, 1, 106});
    inputs.push_back(chain);
    return inputs;
}

}  // namespace

TEST_SUITE("etf") {
    TEST_CASE("every tag of a real term_to_binary decodes to the term it was made from") {
        for (const Golden& g : golden_terms()) {
            CAPTURE(g.name);
            CHECK(decoded(g.bytes) == g.term);
        }
    }

    TEST_CASE("encoding gives the bytes term_to_binary gives with UTF-8 atoms") {
        for (const Golden& g : golden_terms()) {
            CAPTURE(g.name);
            CHECK(etf::encode(g.term) == g.bytes);
        }
    }

    TEST_CASE("the old tags term_to_binary still emits decode, and encode as their new forms") {
        // term_to_binary(-1.5, [{minor_version, 0}])
        Bytes old_float =
            concat({{131, 99}, text_bytes("-1.50000000000000000000e+00"), {0, 0, 0, 0}});
        CHECK(decoded(old_float) == Term(-1.5));
        // term_to_binary(ok) and term_to_binary('é') on OTP 25: Latin-1 ATOM_EXT.
        CHECK(decoded({131, 100, 0, 2, 111, 107}) == Term(atoms::ok));
        CHECK(decoded({131, 100, 0, 1, 233}) == Term("é"_a));
        CHECK(etf::encode(Term("é"_a)) == Bytes{131, 119, 2, 195, 169});
        CHECK(decoded({131, 115, 2, 111, 107}) == Term(atoms::ok));
        // PID_EXT, PORT_EXT, REFERENCE_EXT and NEW_REFERENCE_EXT with 8-bit creation; the new
        // forms are what erl re-encodes them as.
        Bytes node = {100, 0, 5, 97, 64, 98, 46, 99};
        Term pid = decoded(concat({{131, 103}, node, {0, 0, 0, 9, 0, 0, 0, 3, 2}}));
        CHECK(etf::encode(pid) == concat({{131, 88, 119, 5, 97, 64, 98, 46, 99},
                                          {0, 0, 0, 9, 0, 0, 0, 3, 0, 0, 0, 2}}));
        Term port = decoded(concat({{131, 102}, node, {0, 0, 0, 9, 2}}));
        CHECK(port == Term(Port{"a@b.c"_a, 9, 2}));
        Term ref = decoded(concat({{131, 101}, node, {0, 0, 0, 9, 2}}));
        CHECK(etf::encode(ref) ==
              concat({{131, 90, 0, 1, 119, 5, 97, 64, 98, 46, 99}, {0, 0, 0, 2, 0, 0, 0, 9}}));
        Term ref3 =
            decoded(concat({{131, 114, 0, 3}, node, {2, 0, 0, 0, 9, 0, 0, 0, 8, 0, 0, 0, 7}}));
        CHECK(ref3 == Term(Reference{"a@b.c"_a, 2, 3, {9, 8, 7}}));
        // V4_PORT_EXT with a small id comes back as NEW_PORT_EXT, as erl does.
        Term v4 = decoded(concat({{131, 120}, node, {0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 7}}));
        CHECK(etf::encode(v4) ==
              concat({{131, 89, 119, 5, 97, 64, 98, 46, 99}, {0, 0, 0, 5, 0, 0, 0, 7}}));
    }

    TEST_CASE("a closure decodes to its fields and encodes back byte for byte") {
        Term fun = decoded(closure_bytes);
        auto c = fun.to<Closure>();
        REQUIRE(c);
        CHECK(c->arity == 1);
        CHECK(c->module == "gold2"_a);
        CHECK(c->pid.is_pid());
        REQUIRE(c->free_vars.size() == 2);
        CHECK(c->free_vars[0] == tuple("tag"_a, list(1, 2)));
        CHECK(c->free_vars[1] == binary("free"));
        CHECK(etf::encode(fun) == closure_bytes);
    }

    TEST_CASE("a closure whose Size disagrees with its fields is refused") {
        Bytes bad = closure_bytes;
        bad[5] += 1;
        CHECK(failure_code(bad) == etf::DecodeErrc::truncated);
        bad = concat({closure_bytes, {106}});
        bad[5] += 1;
        CHECK(failure_code(bad) == etf::DecodeErrc::bad_fun);
    }

    TEST_CASE("compressed terms decode, and encode like term_to_binary with the same level") {
        CHECK(decoded(compressed_bytes) == compressed_term());
        CHECK(etf::encode(compressed_term(), {.compression = 6}) == compressed_bytes);
        Bytes level9 = etf::encode(compressed_term(), {.compression = 9});
        CHECK(level9[7] == 218);  // the zlib header of level 9, as erl writes it
        CHECK(decoded(level9) == compressed_term());
    }

    TEST_CASE("compression is kept only when it makes the term smaller") {
        CHECK(etf::encode(Term(atoms::ok), {.compression = 6}) == Bytes{131, 119, 2, 111, 107});
        CHECK(etf::encode(compressed_term(), {.compression = 0}) == etf::encode(compressed_term()));
    }

    TEST_CASE("non-canonical forms decode to the term the BEAM makes of them") {
        CHECK(decoded({131, 107, 0, 0}) == Term());
        // LIST_EXT of length 0 is its tail.
        CHECK(decoded({131, 108, 0, 0, 0, 0, 100, 0, 1, 97}) == Term("a"_a));
        CHECK(decoded({131, 108, 0, 0, 0, 0, 106}) == Term());
        // [1 | [2]] and [1 | "\3\4"] are the flat lists erl sees.
        CHECK(decoded({131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 106}) == list(1, 2));
        CHECK(decoded({131, 108, 0, 0, 0, 1, 97, 1, 107, 0, 2, 3, 4}) == list(1, 3, 4));
        CHECK(decoded({131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 0, 97, 5}) ==
              list_from(std::vector<Term>{1}, Term(5)));
        // Bignums that fit 64 bits are small integers; the sign byte of zero does not matter.
        Term five = decoded({131, 110, 1, 0, 5});
        CHECK(five == Term(5));
        CHECK(etf::encode(five) == Bytes{131, 97, 5});
        CHECK(decoded({131, 110, 0, 1}) == Term(0));
        CHECK(decoded({131, 111, 0, 0, 0, 2, 1, 5, 0}) == Term(-5));
        // Unused bits of a bitstring are cleared, as erl does when it re-encodes.
        CHECK(etf::encode(decoded({131, 77, 0, 0, 0, 1, 3, 255})) ==
              Bytes{131, 77, 0, 0, 0, 1, 3, 224});
        CHECK(decoded({131, 77, 0, 0, 0, 0, 0}) == binary(""));
        // EXPORT_EXT with an INTEGER_EXT arity, which binary_to_term accepts.
        CHECK(decoded({131, 113, 100, 0, 1, 109, 100, 0, 1, 102, 98, 0, 0, 0, 2}) ==
              Term(ExportFun{"m"_a, "f"_a, 2}));
    }

    TEST_CASE("byte lists are STRING_EXT up to 65535 elements and LIST_EXT beyond") {
        std::vector<Term> bytes(65535, Term(7));
        Bytes s = etf::encode(list_from(bytes));
        CHECK(s.size() == 4 + 65535);
        CHECK(Bytes(s.begin(), s.begin() + 4) == Bytes{131, 107, 255, 255});
        bytes.push_back(Term(7));
        Bytes l = etf::encode(list_from(bytes));
        CHECK(Bytes(l.begin(), l.begin() + 6) == Bytes{131, 108, 0, 1, 0, 0});
        CHECK(decoded(l) == list_from(bytes));
        CHECK(etf::encode(list(1, 256)) == Bytes{131, 108, 0, 0, 0, 2, 97, 1, 98, 0, 0, 1, 0, 106});
        CHECK(etf::encode(list(1, -1))[1] == 108);
    }

    TEST_CASE("terms built in C++ survive an encode and decode round trip") {
        std::string long_name;
        for (int i = 0; i < 255; ++i)
            long_name += "\U0001F600";
        std::vector<Term> wide(300, Term(1.25));
        Term terms[] = {
            Term(*BigInt::parse("-" + std::string(3000, '9'))),
            Term(*Atom::make(long_name)),
            tuple_from(wide),
            map({{1, 2}, {1.0, 3}, {"k"_a, map({{list(), tuple()}})}}),
            list(binary(std::string(70000, 'z')), bitstring(Bytes{0xF0}, 4), Term(-0.0)),
            Term(Port{"n@h"_a, 0xFFFFFFFFFFFFFFFFull, 0xFFFFFFFF}),
            Term(Reference{"n@h"_a, 5, 5, {1, 2, 3, 4, 5}}),
            Term(Pid{"n@h"_a, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}),
            list_from(std::vector<Term>{tuple(), map({})}, binary("tail")),
        };
        for (const Term& t : terms) {
            CAPTURE(to_string(t).substr(0, 80));
            CHECK(decoded(etf::encode(t)) == t);
            CHECK(decoded(etf::encode(t, {.compression = 1})) == t);
        }
        Bytes long_atom = etf::encode(Term(*Atom::make(long_name)));
        CHECK(Bytes(long_atom.begin(), long_atom.begin() + 4) == Bytes{131, 118, 3, 252});
    }

    TEST_CASE("a map with both 0.0 and -0.0 as keys, which OTP 27 and later make, decodes") {
        // term_to_binary(#{0.0 => a, -0.0 => b}) on OTP 27.3 and 29.1.
        const Bytes otp27 = {131, 116, 0,  0,  0, 2, 70, 128, 0, 0, 0, 0, 0,   0, 0,
                             119, 1,   98, 70, 0, 0, 0,  0,   0, 0, 0, 0, 119, 1, 97};
        const Term m = decoded(otp27);
        REQUIRE(m.entries().size() == 2);
        CHECK(m.entries()[0].key == Term(-0.0));
        CHECK(m.entries()[1].key == Term(0.0));
        CHECK(etf::encode(m) == otp27);
        CHECK(etf::encode(map({{0.0, "a"_a}, {-0.0, "b"_a}})) == otp27);
    }

    TEST_CASE("a map with the same key twice is refused, as binary_to_term refuses it") {
        auto e = failure({131, 116, 0, 0, 0, 2, 97, 1, 97, 1, 97, 1, 97, 2});
        CHECK(e.code == etf::DecodeErrc::duplicate_map_key);
        // Keys out of order are fine: large maps arrive in hash order.
        CHECK(decoded({131, 116, 0, 0, 0, 2, 97, 2, 106, 97, 1, 106}) ==
              map({{1, Term()}, {2, Term()}}));
    }

    TEST_CASE("map keys that are atoms sharing a prefix, or with NUL in them, end up in order") {
        const std::vector<std::string> sorted = {std::string("a"),
                                                 std::string("a\0", 2),
                                                 "ab",
                                                 "abcdefgh",
                                                 "abcdefghi",
                                                 "abcdefgi",
                                                 "b"};
        std::vector<std::string> reversed(sorted.rbegin(), sorted.rend());
        std::vector<std::string> one_swap = sorted;  // only a pair that ties on its first 8 bytes
        std::swap(one_swap[0], one_swap[1]);
        std::vector<std::string> other_swap = sorted;
        std::swap(other_swap[3], other_swap[4]);
        for (const auto& names : {sorted, reversed, one_swap, other_swap}) {
            Bytes bytes{131, 116, 0, 0, 0, static_cast<std::uint8_t>(names.size())};
            std::vector<MapEntry> entries;
            for (std::size_t i = 0; i < names.size(); ++i) {
                bytes.insert(bytes.end(), {119, static_cast<std::uint8_t>(names[i].size())});
                bytes.insert(bytes.end(), names[i].begin(), names[i].end());
                bytes.insert(bytes.end(), {97, static_cast<std::uint8_t>(i)});
                entries.push_back({Term(*Atom::make(names[i])), Term(static_cast<int>(i))});
            }
            CAPTURE(names[0]);
            CHECK(decoded(bytes) == map_from(entries));
        }
    }

    TEST_CASE("tags a node must never receive are refused by name") {
        CHECK(failure_code({131, 82, 0}) == etf::DecodeErrc::unsupported_tag);
        CHECK(failure_code({131, 117, 0, 0, 0, 0}) == etf::DecodeErrc::unsupported_tag);
        CHECK(failure_code({131, 121, 0}) == etf::DecodeErrc::unsupported_tag);
        CHECK(failure_code({131, 1}) == etf::DecodeErrc::unknown_tag);
        CHECK(failure_code({130, 97, 1}) == etf::DecodeErrc::bad_version);
        CHECK(failure_code({}) == etf::DecodeErrc::truncated);
        CHECK(failure_code({131, 97, 1, 0}) == etf::DecodeErrc::trailing_bytes);
    }

    TEST_CASE("malformed scalars are refused with their own reason") {
        using etf::DecodeErrc;
        CHECK(failure_code({131, 70, 127, 248, 0, 0, 0, 0, 0, 0}) == DecodeErrc::bad_float);
        CHECK(failure_code({131, 70, 127, 240, 0, 0, 0, 0, 0, 0}) == DecodeErrc::bad_float);
        auto old_float = [](std::string_view text) {
            Bytes b = concat({{131, 99}, text_bytes(text)});
            b.resize(33, 0);
            return b;
        };
        CHECK(decoded(old_float("+1.5")) == Term(1.5));
        CHECK(failure_code(old_float("15")) == DecodeErrc::bad_float);
        CHECK(failure_code(old_float("1.5x")) == DecodeErrc::bad_float);
        CHECK(failure_code(old_float("1.0e999")) == DecodeErrc::bad_float);
        CHECK(failure_code(concat({{131, 99}, Bytes(31, '1')})) == DecodeErrc::bad_float);
        CHECK(failure_code({131, 77, 0, 0, 0, 0, 8}) == DecodeErrc::bad_bitstring);
        CHECK(failure_code({131, 77, 0, 0, 0, 1, 0, 255}) == DecodeErrc::bad_bitstring);
        CHECK(failure_code({131, 77, 0, 0, 0, 1, 9, 255}) == DecodeErrc::bad_bitstring);
        Bytes node = {119, 1, 97};
        CHECK(failure_code(concat({{131, 90, 0, 0}, node, {0, 0, 0, 1}})) ==
              DecodeErrc::bad_reference);
        CHECK(failure_code(concat({{131, 90, 0, 6}, node, Bytes(28, 1)})) ==
              DecodeErrc::bad_reference);
        CHECK(failure_code({131, 88, 104, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}) ==
              DecodeErrc::bad_atom);
        CHECK(failure_code({131, 113, 119, 1, 109, 119, 1, 102, 98, 0, 0, 1, 0}) ==
              DecodeErrc::bad_fun);
    }

    TEST_CASE("atoms are limited to 255 characters and must be valid text") {
        using etf::DecodeErrc;
        Bytes latin1_256 = concat({{131, 100, 1, 0}, Bytes(256, 'a')});
        CHECK(failure_code(latin1_256) == DecodeErrc::bad_atom);
        CHECK(decoded(concat({{131, 100, 0, 255}, Bytes(255, 233)})).is_atom());
        Bytes utf8_256 = concat({{131, 118, 1, 0}, Bytes(256, 'a')});
        CHECK(failure_code(utf8_256) == DecodeErrc::bad_atom);
        Bytes utf8_65000 = concat({{131, 118, 0xFD, 0xE8}, Bytes(65000, 'a')});
        CHECK(failure_code(utf8_65000) == DecodeErrc::bad_atom);
        CHECK(failure_code({131, 119, 1, 255}) == DecodeErrc::bad_atom);
        CHECK(failure_code({131, 119, 2, 0xC0, 0x80}) == DecodeErrc::bad_atom);  // overlong
    }

    TEST_CASE("a short atom is the same atom wherever it sits and whatever tag carries it") {
        // 'café' as SMALL_ATOM_EXT (Latin-1 é) and SMALL_ATOM_UTF8_EXT (é as two bytes), and
        // the Latin-1 bytes read as UTF-8, which they are not; each in a tuple, with 24 bytes
        // after it or at the very end of the input.
        const Bytes latin1 = {115, 4, 'c', 'a', 'f', 0xE9};
        const Bytes utf8 = {119, 5, 'c', 'a', 'f', 0xC3, 0xA9};
        const Bytes not_utf8 = {119, 4, 'c', 'a', 'f', 0xE9};
        const Term cafe = Term(Atom::make("caf\xC3\xA9").value());
        for (int round = 0; round < 2; ++round) {
            for (const Bytes& atom : {latin1, utf8}) {
                CHECK(decoded(concat({{131, 104, 2}, atom, {109, 0, 0, 0, 24}, Bytes(24, 0)})) ==
                      tuple(cafe, binary(Bytes(24, 0))));
                CHECK(decoded(concat({{131, 104, 2, 106}, atom})) == tuple(Term(), cafe));
            }
            CHECK(failure_code(concat({{131, 104, 2}, not_utf8, Bytes(24, 106)})) ==
                  etf::DecodeErrc::bad_atom);
            CHECK(decoded(concat({{131}, utf8})) == cafe);
            CHECK(failure_code(concat({{131, 119, 5, 'c', 'a', 'f', 0xC3}})) ==
                  etf::DecodeErrc::truncated);
        }
    }

    TEST_CASE("safe mode refuses atoms that do not exist and accepts those that do") {
        etf::DecodeOptions safe{.safe = true};
        Bytes unknown = concat({{131, 119, 24}, text_bytes("surely_not_an_atom_yet_9")});
        CHECK(failure_code(unknown, safe) == etf::DecodeErrc::unknown_atom);
        CHECK(!Atom::existing("surely_not_an_atom_yet_9"));
        CHECK(decoded({131, 119, 2, 111, 107}, safe) == Term(atoms::ok));
        CHECK(decoded({131, 100, 0, 2, 111, 107}, safe) == Term(atoms::ok));
        CHECK(failure_code({131, 119, 1, 255}, safe) == etf::DecodeErrc::bad_atom);
    }

    TEST_CASE("an atom budget lets a source make that many new atoms; existing ones are free") {
        etf::AtomBudget budget(2);
        etf::DecodeOptions options{.atom_budget = &budget};
        const auto fresh = [](int i) {
            return concat(
                {{131, 119, 21}, text_bytes("budget_atom_" + std::to_string(100000000 + i))});
        };
        CHECK(decoded(fresh(1), options).is_atom());
        CHECK(decoded(fresh(1), options).is_atom());  // exists now: costs nothing
        CHECK(decoded({131, 119, 2, 111, 107}, options) == Term(atoms::ok));
        CHECK(decoded(fresh(2), options).is_atom());
        CHECK(budget.left() == 0);
        CHECK(failure_code(fresh(3), options) == etf::DecodeErrc::too_many_atoms);
        CHECK(!Atom::existing("budget_atom_100000003"));
        CHECK(decoded(fresh(2), options).is_atom());
        // Another source has its own budget.
        etf::AtomBudget other(1);
        CHECK(decoded(fresh(3), {.atom_budget = &other}).is_atom());
    }

    TEST_CASE("a full atom table refuses new atoms from the wire") {
        std::size_t limit = AtomTable::limit();
        AtomTable::set_limit(AtomTable::size());
        Bytes fresh = concat({{131, 119, 20}, text_bytes("fresh_atom_for_limit")});
        auto code = failure_code(fresh);
        AtomTable::set_limit(limit);
        CHECK(code == etf::DecodeErrc::atom_table_full);
        CHECK(decoded(fresh).is_atom());
    }

    TEST_CASE("nesting deeper than max_depth is refused") {
        etf::DecodeOptions options{.max_depth = 10};
        CHECK(decoded(nested_lists(10), options).is_list());
        CHECK(failure_code(nested_lists(11), options) == etf::DecodeErrc::too_deep);
        Bytes tuples{131};
        for (int i = 0; i < 11; ++i)
            tuples.insert(tuples.end(), {104, 1});
        tuples.push_back(106);
        CHECK(failure_code(tuples, options) == etf::DecodeErrc::too_deep);
    }

    TEST_CASE("input beyond max_bytes is refused as too large") {
        etf::DecodeOptions options{.max_bytes = 100};
        CHECK(decoded(concat({{131, 109, 0, 0, 0, 90}, Bytes(90, 1)}), options).is_binary());
        auto e = failure(concat({{131, 109, 0, 0, 0, 100}, Bytes(100, 1)}), options);
        CHECK(e.code == etf::DecodeErrc::too_large);
        CHECK(failure_code(compressed_bytes, {.max_bytes = 345}) == etf::DecodeErrc::too_large);
        CHECK(decoded(compressed_bytes, {.max_bytes = 346}) == compressed_term());
    }

    TEST_CASE("bignums beyond max_bignum_bytes are refused before their digits are read") {
        Bytes big = concat({{131, 111, 0, 0, 0x40, 1, 0}, Bytes(16385, 1)});
        CHECK(failure_code(big) == etf::DecodeErrc::bignum_too_large);
        CHECK(failure_code({131, 111, 0xFF, 0xFF, 0xFF, 0xFF, 0}) ==
              etf::DecodeErrc::bignum_too_large);
        CHECK(failure_code({131, 110, 9, 0, 1}, {.max_bignum_bytes = 8}) ==
              etf::DecodeErrc::bignum_too_large);
        CHECK(decoded(concat({{131, 111, 0, 0, 0x40, 0, 0}, Bytes(16384, 1)})).is_integer());
    }

    TEST_CASE("compressed data must inflate to exactly the size it declares") {
        using etf::DecodeErrc;
        // A zip bomb: 4 GB declared in 40 bytes is refused before anything is allocated.
        Bytes bomb = compressed_bytes;
        bomb[2] = bomb[3] = bomb[4] = bomb[5] = 0xFF;
        CHECK(failure_code(bomb) == DecodeErrc::too_large);
        CHECK(failure_code(bomb, {.max_bytes = std::size_t{1} << 33}) ==
              DecodeErrc::bad_compression);
        Bytes more = compressed_bytes;
        more[5] -= 1;  // 345 declared, 346 inside
        CHECK(failure_code(more) == DecodeErrc::bad_compression);
        Bytes less = compressed_bytes;
        less[5] += 1;
        CHECK(failure_code(less) == DecodeErrc::bad_compression);
        Bytes corrupt = compressed_bytes;
        corrupt[12] ^= 0x55;
        CHECK(failure_code(corrupt) == DecodeErrc::bad_compression);
        CHECK(failure_code({131, 80, 0, 0, 0}) == DecodeErrc::truncated);
    }

    TEST_CASE("lengths near 2^32 fail fast as truncated without allocating") {
        for (std::uint32_t len = 0xFFFFFFF1; len != 0; ++len) {
            Bytes be = {static_cast<std::uint8_t>(len >> 24), static_cast<std::uint8_t>(len >> 16),
                        static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)};
            Bytes tail(10, 97);
            for (std::uint8_t t : {105, 108, 109, 77, 116, 112}) {
                CAPTURE(int(t));
                Bytes input = concat({{131, t}, be, {8}, tail});
                CHECK(failure_code(input) == etf::DecodeErrc::truncated);
            }
            CHECK(failure_code(concat({{131, 111}, be, {0}, tail}),
                               {.max_bignum_bytes = std::size_t{1} << 40}) ==
                  etf::DecodeErrc::truncated);
        }
        CHECK(failure_code(concat({{131, 118, 0xFF, 0xFF}, Bytes(10, 97)})) ==
              etf::DecodeErrc::truncated);
        CHECK(failure_code(concat({{131, 107, 0xFF, 0xFF}, Bytes(10, 97)})) ==
              etf::DecodeErrc::truncated);
    }

    TEST_CASE("errors say where: the offset of the problem and a detail") {
        auto e = failure({131, 104, 2, 97, 1, 108, 0, 0, 0, 3, 97, 1});
        CHECK(e.code == etf::DecodeErrc::truncated);
        CHECK(e.offset == 5);  // the list that claims 3 elements
        CHECK(!e.detail.empty());
        CHECK(e.to_string().find("at byte 5") != std::string::npos);
        auto bad = failure({131, 104, 2, 97, 1, 1});
        CHECK(bad.code == etf::DecodeErrc::unknown_tag);
        CHECK(bad.offset == 5);
        std::error_code code = bad.code;
        CHECK(code.category().name() == std::string("distribute.etf"));
    }

    TEST_CASE("every truncation of a term is an error, never a crash") {
        for (const Bytes& input : adversarial_inputs()) {
            for (std::size_t n = 0; n < input.size(); ++n) {
                Bytes cut(input.begin(), input.begin() + n);
                auto result = etf::decode(cut);
                CHECK_FALSE(result);
                if (!result && input[1] != 80)
                    CHECK(result.error().code == etf::DecodeErrc::truncated);
            }
        }
    }

    TEST_CASE("every byte xor-ed with a mask decodes to an error or a term that round-trips") {
        for (const Bytes& input : adversarial_inputs()) {
            for (std::size_t i = 0; i < input.size(); ++i) {
                for (std::uint8_t mask : {0x01, 0x02, 0x10, 0x80, 0x7F, 0xFF}) {
                    Bytes bent = input;
                    bent[i] ^= mask;
                    auto result = etf::decode(bent);
                    if (!result) continue;
                    auto again = etf::decode(etf::encode(*result));
                    REQUIRE(again);
                    CHECK(*again == *result);
                }
            }
        }
    }

    TEST_CASE("a million-deep term decodes and encodes without overflowing the stack") {
        Bytes lists = nested_lists(1'000'000);
        Term deep = decoded(lists);
        CHECK(etf::encode(deep) == lists);
        Bytes tuples{131};
        for (int i = 0; i < 1'000'000; ++i)
            tuples.insert(tuples.end(), {104, 2, 97, 1});
        tuples.push_back(106);
        Term nested = decoded(tuples);
        CHECK(etf::encode(nested) == tuples);
        Term built;
        for (int i = 0; i < 1'000'000; ++i)
            built = map({{atoms::ok, std::move(built)}});
        CHECK(decoded(etf::encode(built)) == built);
    }

    TEST_CASE("a list grown from LIST_EXT and STRING_EXT tails, in an unsorted map, decodes") {
        const Bytes chain = adversarial_inputs().back();
        std::vector<Term> items{Term(1)};
        for (int i = 0; i < 12; ++i)
            items.push_back(tuple(i));
        items.push_back(Term(5));
        items.push_back(Term(6));
        CHECK(decoded(chain) == map({{9, list_from(items)}, {1, Term()}}));
    }

    TEST_CASE("terms decoded on one thread can be dropped on another") {
        Bytes bytes = etf::encode(list(tuple("person"_a, binary("Ann"), 42), Term(remote_pid()),
                                       binary(std::string(100, 'b'))));
        for (int round = 0; round < 4; ++round) {
            std::vector<Term> decoded_terms;
            std::thread decoder([&] {
                for (int i = 0; i < 5'000; ++i)
                    if (auto t = etf::decode(bytes)) decoded_terms.push_back(std::move(*t));
            });
            decoder.join();
            CHECK(decoded_terms.size() == 5'000);
            std::thread dropper([&] { decoded_terms.clear(); });
            dropper.join();
        }
        CHECK(etf::encode(decoded(bytes)) == bytes);
    }

    TEST_CASE("a long chain of one-element list tails decodes to one flat list") {
        const std::size_t n = 200'000;
        Bytes chain{131};
        for (std::size_t i = 0; i < n; ++i)
            chain.insert(chain.end(), {108, 0, 0, 0, 1, 97, 3});
        chain.push_back(106);
        Term flat = decoded(chain);
        CHECK(flat.elements().size() == n);
        CHECK(flat.is_proper_list());
        CHECK(flat == list_from(std::vector<Term>(n, Term(3))));
    }

    TEST_CASE("decoding a shared buffer slices large binaries instead of copying them") {
        SharedBuffer buffer(concat(
            {{131, 104, 2, 109, 0, 0, 0, 64}, Bytes(64, 5), {109, 0, 0, 0, 63}, Bytes(63, 6)}));
        auto term = etf::decode(buffer);
        REQUIRE(term);
        const std::uint8_t* begin = buffer.data();
        const std::uint8_t* end = begin + buffer.size();
        const std::uint8_t* large = (*term)[0].bytes().data();
        const std::uint8_t* small = (*term)[1].bytes().data();
        CHECK((large >= begin && large < end));
        CHECK_FALSE((small >= begin && small < end));
        buffer = SharedBuffer();  // the slice keeps the bytes alive
        CHECK((*term)[0].bytes()[63] == 5);
    }

    TEST_CASE("concatenated terms decode one by one with decode_prefix") {
        Bytes stream =
            concat({etf::encode(Term(1)), compressed_bytes, etf::encode(Term(atoms::ok))});
        std::vector<Term> seen;
        std::span<const std::uint8_t> rest(stream);
        while (!rest.empty()) {
            auto next = etf::decode_prefix(rest);
            REQUIRE(next);
            seen.push_back(next->term);
            rest = rest.subspan(next->used);
        }
        REQUIRE(seen.size() == 3);
        CHECK(seen[0] == Term(1));
        CHECK(seen[1] == compressed_term());
        CHECK(seen[2] == Term(atoms::ok));
    }

    TEST_CASE("decode_body and encode_body work without the version byte") {
        Bytes out;
        etf::encode_body(out, tuple(atoms::ok, 1));
        CHECK(out == Bytes{104, 2, 119, 2, 111, 107, 97, 1});
        out.push_back(106);
        auto body = etf::decode_body(out);
        REQUIRE(body);
        CHECK(body->term == tuple(atoms::ok, 1));
        CHECK(body->used == 8);
        Bytes framed{1, 2};
        etf::encode_to(framed, Term(7));
        CHECK(framed == Bytes{1, 2, 131, 97, 7});
    }

    TEST_CASE("a small term appended to a large buffer takes room for itself, not for the buffer") {
        // A session's queue of a megabyte: the next small frame must not make the writer zero
        // (and reallocate) a fraction of the megabyte.
        Bytes queued(std::size_t{1} << 20, 0);
        queued.reserve(queued.size() + 4096);
        const auto* memory = queued.data();
        const std::size_t capacity = queued.capacity();
        etf::encode_to(queued, tuple("hello"_a, 42, 3.5, list(1, 2)));
        CHECK(queued.data() == memory);
        CHECK(queued.capacity() == capacity);
        auto back = etf::decode(std::span(queued).subspan(std::size_t{1} << 20));
        REQUIRE(back);
        CHECK(*back == tuple("hello"_a, 42, 3.5, list(1, 2)));
    }
}
