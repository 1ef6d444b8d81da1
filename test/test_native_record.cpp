// Native records (OTP 29): the term, its order, its text and RECORD_EXT (tag 67). Golden bytes are
// term_to_binary(T, [{minor_version, 2}]) on a real OTP 29.1 node, with T made by
// records:create/4.
#include <doctest/doctest.h>

#include <stdexcept>
#include <vector>

#include "distribute/etf.hpp"
#include "distribute/term.hpp"

using namespace distribute;
using Bytes = std::vector<std::uint8_t>;

namespace {

Term record(Atom module, Atom name, std::vector<std::pair<Atom, Term>> fields,
            bool exported = true) {
    NativeRecord r;
    r.module = module;
    r.name = name;
    r.exported = exported;
    for (auto& [field, value] : fields) {
        r.fields.push_back(field);
        r.values.push_back(value);
    }
    return Term(std::move(r));
}

// records:create(m, r, [{zeta, 1}, {alpha, <<"x">>}], #{is_exported => true})
const Bytes exported_bytes = {131, 67,  0,  0,   0,   2,   1,  119, 1, 109, 119, 1,
                              114, 119, 4,  122, 101, 116, 97, 119, 5, 97,  108, 112,
                              104, 97,  97, 1,   109, 0,   0,  0,   1, 120};
// records:create(m, r, [], #{is_exported => false})
const Bytes local_empty_bytes = {131, 67, 0, 0, 0, 0, 0, 119, 1, 109, 119, 1, 114};

etf::DecodeError failure(const Bytes& bytes) {
    auto term = etf::decode(bytes);
    if (term) FAIL("decoded: " << to_string(*term));
    return term.error();
}

}  // namespace

TEST_SUITE("native records") {
    TEST_CASE("RECORD_EXT from OTP 29 decodes to the record, fields in their own order") {
        auto term = etf::decode(exported_bytes);
        REQUIRE_MESSAGE(term, term.error().to_string());
        CHECK(term->kind() == TermKind::record);
        auto r = term->to<NativeRecord>();
        REQUIRE(r);
        CHECK(r->module == "m"_a);
        CHECK(r->name == "r"_a);
        CHECK(r->exported);
        CHECK(r->fields == std::vector<Atom>{"zeta"_a, "alpha"_a});
        CHECK(r->values == std::vector<Term>{Term(1), binary("x")});
        REQUIRE(r->get("alpha"_a) != nullptr);
        CHECK(*r->get("alpha"_a) == binary("x"));
        CHECK(r->get("beta"_a) == nullptr);

        auto local = etf::decode(local_empty_bytes);
        REQUIRE(local);
        CHECK(*local == record("m"_a, "r"_a, {}, false));
    }

    TEST_CASE("a record encodes to the bytes term_to_binary gives on OTP 29") {
        CHECK(etf::encode(record("m"_a, "r"_a, {{"zeta"_a, 1}, {"alpha"_a, binary("x")}})) ==
              exported_bytes);
        CHECK(etf::encode(record("m"_a, "r"_a, {}, false)) == local_empty_bytes);
    }

    TEST_CASE("records nest in records and other terms and survive a round trip") {
        const Term inner = record("m"_a, "inner"_a, {{"v"_a, binary("x")}});
        const Term outer =
            tuple("ok"_a,
                  record("m"_a, "r"_a, {{"b"_a, inner}, {"c"_a, list(inner, map({{1, inner}}))}}));
        auto back = etf::decode(etf::encode(outer));
        REQUIRE(back);
        CHECK(*back == outer);
        CHECK(to_string(*back) ==
              "{ok,#m:r{b = #m:inner{v = <<\"x\">>},c = [#m:inner{v = <<\"x\">>},#{1 => "
              "#m:inner{v = <<\"x\">>}}]}}");
    }

    TEST_CASE(
        "malformed RECORD_EXT is refused: unknown flags, a field twice, a field not an atom") {
        // Flags 2, as binary_to_term refuses it.
        CHECK(
            failure({131, 67, 0, 0, 0, 1, 2, 119, 1, 'm', 119, 1, 'r', 119, 1, 'a', 97, 1}).code ==
            etf::DecodeErrc::bad_record);
        // Field a twice.
        CHECK(failure({131, 67,  0, 0,   0,   2, 1,   119, 1, 'm', 119, 1,
                       'r', 119, 1, 'a', 119, 1, 'a', 97,  1, 97,  2})
                  .code == etf::DecodeErrc::bad_record);
        // A module that is a string, not an atom.
        CHECK(failure({131, 67, 0, 0, 0, 1, 1, 107, 0, 1, 'm', 119, 1, 'r', 119, 1, 'a', 97, 1})
                  .code == etf::DecodeErrc::bad_atom);
        // An arity the input cannot hold fails before anything is allocated for it.
        CHECK(failure({131, 67, 0xFF, 0xFF, 0xFF, 0xFF, 1, 119, 1, 'm', 119, 1, 'r'}).code ==
              etf::DecodeErrc::truncated);
        // Every truncation is an error, never a crash.
        for (std::size_t n = 1; n < exported_bytes.size(); ++n) {
            CAPTURE(n);
            CHECK_FALSE(etf::decode(std::span(exported_bytes).first(n)).has_value());
        }
    }

    TEST_CASE("building a record with a field twice or a value missing is refused") {
        const NativeRecord twice{"m"_a, "r"_a, {"a"_a, "a"_a}, {Term(1), Term(2)}};
        CHECK_THROWS_AS(Term{twice}, std::invalid_argument);
        const NativeRecord missing{"m"_a, "r"_a, {"a"_a, "b"_a}, {Term(1)}};
        CHECK_THROWS_AS(Term{missing}, std::invalid_argument);
    }

    TEST_CASE("records order between tuples and maps, and among themselves as OTP 29 orders them") {
        // The order OTP 29.1's lists:sort/1 gives these.
        const std::vector<Term> ascending = {
            tuple("z"_a, "z"_a, "z"_a, "z"_a, "z"_a, "z"_a),
            record("a"_a, "a"_a, {{"x"_a, 1}}, false),
            record("a"_a, "a"_a, {}),
            record("a"_a, "a"_a, {{"x"_a, 1}}),
            record("a"_a, "a"_a, {{"x"_a, 2}}),
            record("a"_a, "a"_a, {{"y"_a, 0}}),
            record("a"_a, "a"_a, {{"x"_a, 9}, {"y"_a, 5}}),
            record("a"_a, "a"_a, {{"x"_a, 1}, {"z"_a, 0}}),
            record("a"_a, "a"_a, {{"y"_a, 1}, {"x"_a, 1}}),
            record("a"_a, "b"_a, {{"x"_a, 1}}, false),
            record("b"_a, "a"_a, {{"x"_a, 1}}),
            map({}),
        };
        for (std::size_t i = 0; i + 1 < ascending.size(); ++i) {
            CAPTURE(i);
            CHECK(ascending[i] < ascending[i + 1]);
            CHECK(compare(ascending[i], ascending[i + 1]) < 0);
        }
        // == compares values by value, =:= exactly; `exported` belongs to the value.
        CHECK(equal(record("a"_a, "a"_a, {{"x"_a, 1}}), record("a"_a, "a"_a, {{"x"_a, 1.0}})));
        CHECK_FALSE(record("a"_a, "a"_a, {{"x"_a, 1}}) == record("a"_a, "a"_a, {{"x"_a, 1.0}}));
        CHECK_FALSE(record("a"_a, "a"_a, {{"x"_a, 1}}) ==
                    record("a"_a, "a"_a, {{"x"_a, 1}}, false));
        CHECK(hash(record("a"_a, "a"_a, {{"x"_a, 1}})) == hash(record("a"_a, "a"_a, {{"x"_a, 1}})));
    }

    TEST_CASE("records print as OTP 29's ~p prints them") {
        CHECK(to_string(record("test"_a, "point"_a, {{"x"_a, 1}, {"y"_a, 2}})) ==
              "#test:point{x = 1,y = 2}");
        CHECK(to_string(record("mymod"_a, "empty"_a, {})) == "#mymod:empty{}");
        CHECK(to_string(record("My.Mod"_a, "r"_a, {{"Field"_a, "ok"_a}})) ==
              "#'My.Mod':r{'Field' = ok}");
    }
}
