#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "distribute/codec.hpp"
#include "distribute/envelope.hpp"

using namespace distribute;

namespace {

struct Point {
    std::int64_t x = 0;
    std::int64_t y = 0;
    bool operator==(const Point&) const = default;
};

struct User {
    std::string name;
    std::optional<std::uint8_t> age;
    std::vector<Point> path;
    bool operator==(const User&) const = default;
};

}  // namespace

template <>
struct distribute::Codec<Point> {
    static constexpr auto shape = record("point", field("x", &Point::x), field("y", &Point::y));
};

template <>
struct distribute::Codec<User> {
    static constexpr auto shape =
        map_of(field("name", &User::name), field("age", &User::age), field("path", &User::path));
};

namespace {

Term parse(std::string_view text) {
    auto t = parse_term(text);
    REQUIRE(t);
    return *t;
}

template <class T>
void round_trip(const T& value, std::string_view erlang) {
    CHECK(encode(value) == parse(erlang));
    auto back = decode<T>(parse(erlang));
    REQUIRE(back);
    CHECK(*back == value);
}

}  // namespace

TEST_CASE("scalars encode as the terms Erlang programs use and decode back") {
    round_trip(true, "true");
    round_trip(std::int64_t{-5}, "-5");
    round_trip(std::uint64_t{18446744073709551615ull}, "18446744073709551615");
    round_trip(2.5, "2.5");
    round_trip(std::string("héllo"), "<<\"h\", 195, 169, \"llo\">>");
    round_trip(std::vector<std::uint8_t>{1, 2, 255}, "<<1, 2, 255>>");
    round_trip("ok"_a, "ok");
    round_trip(BigInt::parse("123456789012345678901234567890").value(),
               "123456789012345678901234567890");
}

TEST_CASE("integers are range-checked and say which range they needed") {
    auto small = decode<std::uint8_t>(Term(256));
    REQUIRE(!small);
    CHECK(small.error().expected == "an integer in 0..255");
    CHECK(small.error().found == "256");
    CHECK(!decode<std::int64_t>(parse("18446744073709551616")));
    CHECK(!decode<std::uint32_t>(Term(-1)));
    CHECK(*decode<std::int32_t>(Term(-2147483648LL)) == -2147483648LL);
}

TEST_CASE("a float decoder takes integers too, as Erlang arithmetic mixes them") {
    CHECK(*decode<double>(Term(3)) == 3.0);
    CHECK(!decode<double>(Term("x"_a)));
}

TEST_CASE("strings accept Erlang charlists and write Elixir-style binaries") {
    CHECK(*decode<std::string>(parse("\"abc\"")) == "abc");
    CHECK(*decode<std::string>(parse("[955, 128640]")) == "\xce\xbb\xf0\x9f\x9a\x80");
    CHECK(!decode<std::string>(parse("[16#D800]")));
    CHECK(!decode<std::string>(parse("[a]")));
}

TEST_CASE("containers: lists, optionals, tuples, pairs, maps") {
    round_trip(std::vector<std::int64_t>{1, 2, 3}, "[1, 2, 3]");
    round_trip(std::optional<std::int64_t>{}, "undefined");
    round_trip(std::optional<std::int64_t>{7}, "7");
    round_trip(std::tuple<Atom, std::int64_t>{"ok"_a, 1}, "{ok, 1}");
    round_trip(std::pair<std::string, double>{"a", 1.5}, "{<<\"a\">>, 1.5}");
    round_trip(std::map<Atom, std::int64_t>{{"a"_a, 1}, {"b"_a, 2}}, "#{a => 1, b => 2}");
}

TEST_CASE("a variant decodes as its first alternative that fits, and lists them all otherwise") {
    using V = std::variant<std::int64_t, std::string, Atom>;
    CHECK(std::get<std::int64_t>(*decode<V>(Term(1))) == 1);
    CHECK(std::get<std::string>(*decode<V>(parse("<<\"x\">>"))) == "x");
    CHECK(std::get<Atom>(*decode<V>(parse("x"))) == "x"_a);
    auto none = decode<V>(parse("1.5"));
    REQUIRE(!none);
    CHECK(none.error().expected.find("an atom") != std::string::npos);
    CHECK(encode(V{"y"_a}) == Term("y"_a));
}

TEST_CASE("structs encode as records or maps, and nest") {
    round_trip(Point{1, 2}, "{point, 1, 2}");
    User u{"ann", 42, {{0, 0}, {1, -1}}};
    round_trip(u, "#{name => <<\"ann\">>, age => 42, path => [{point, 0, 0}, {point, 1, -1}]}");
    round_trip(User{"bob", std::nullopt, {}},
               "#{name => <<\"bob\">>, age => undefined, path => []}");
}

TEST_CASE("a decode error names the field, the element and what was expected") {
    auto bad = decode<User>(
        parse("#{name => <<\"x\">>, age => 1, path => [{point, 0, 0}, {point, 1, foo}]}"));
    REQUIRE(!bad);
    CHECK(bad.error().path == "path[1].point.y");
    CHECK(bad.error().found == "foo");
    CHECK(bad.error().to_string().find("expected an integer") != std::string::npos);

    auto missing = decode<User>(parse("#{name => <<\"x\">>}"));
    REQUIRE(!missing);
    CHECK(missing.error().expected == "a map with the key age");

    auto wrong_record = decode<Point>(parse("{pt, 1, 2}"));
    REQUIRE(!wrong_record);
    CHECK(wrong_record.error().expected.find("{point, ...}") != std::string::npos);
}

TEST_CASE("an envelope carries tag, version and payload and opens at the current version") {
    Versioned<Point> points("point", 1);
    Term sealed = points.seal(Point{3, 4});
    CHECK(sealed == parse("{'$envelope', <<\"point\">>, 1, {point, 3, 4}}"));
    auto opened = points.open(sealed);
    REQUIRE(opened);
    CHECK(*opened == Point{3, 4});
}

TEST_CASE("old versions migrate step by step, or along the shortest path of a graph") {
    std::vector<std::string> steps;
    auto step = [&](std::string name, Term (*f)(const Term&)) {
        return [&steps, name, f](const Term& t) -> Expected<Term, EnvelopeError> {
            steps.push_back(name);
            return f(t);
        };
    };
    // v1: {X, Y}; v2: {point, X, Y}; v3 is v2; a direct 1 -> 3 jump also exists.
    Versioned<Point> points("point", 3);
    points.migrate(1, 2, step("1-2", [](const Term& t) { return tuple("point"_a, t[0], t[1]); }))
        .migrate(2, 3, step("2-3", [](const Term& t) { return t; }))
        .migrate(1, 3, step("1-3", [](const Term& t) { return tuple("point"_a, t[0], t[1]); }));
    auto from_v1 = points.open(seal("point", 1, tuple(5, 6)));
    REQUIRE(from_v1);
    CHECK(*from_v1 == Point{5, 6});
    CHECK(steps == std::vector<std::string>{"1-3"});
    steps.clear();
    auto from_v2 = points.open(seal("point", 2, parse("{point, 7, 8}")));
    REQUIRE(from_v2);
    CHECK(steps == std::vector<std::string>{"2-3"});
}

TEST_CASE("each way an envelope can fail has its own error") {
    Versioned<Point> points("point", 2);
    points.migrate(1, 2, [](const Term& t) -> Expected<Term, EnvelopeError> {
        if (!t.is_tuple(2)) return migration_failed("v1 points are pairs");
        return tuple("point"_a, t[0], t[1]);
    });
    CHECK(points.open(parse("{point, 1, 2}")).error().code == EnvelopeErrc::not_an_envelope);
    CHECK(points.open(seal("order", 2, Term())).error().code == EnvelopeErrc::tag_mismatch);
    CHECK(points.open(seal("point", 3, Term())).error().code == EnvelopeErrc::version_mismatch);
    CHECK(points.open(seal("point", 0, Term())).error().code == EnvelopeErrc::migration_missing);
    auto failed = points.open(seal("point", 1, Term("x"_a)));
    CHECK(failed.error().code == EnvelopeErrc::migration_failed);
    CHECK(failed.error().detail == "point 1 -> 2: v1 points are pairs");
    auto bad = points.open(seal("point", 2, parse("{point, a, 2}")));
    REQUIRE(!bad);
    CHECK(bad.error().code == EnvelopeErrc::bad_payload);
    REQUIRE(bad.error().payload);
    CHECK(bad.error().payload->path == "point.x");
    CHECK(make_error_code(EnvelopeErrc::tag_mismatch).message() == "envelope tag mismatch");
}

TEST_CASE("a migration's own error code comes back from open, its detail naming the step") {
    Versioned<Point> points("point", 2);
    points.migrate(1, 2, [](const Term& t) -> Expected<Term, EnvelopeError> {
        return unexpected(EnvelopeError{EnvelopeErrc::bad_payload, "not a v1 point",
                                        CodecError{"", "a pair", to_string(t)}});
    });
    auto failed = points.open(seal("point", 1, Term("x"_a)));
    REQUIRE_FALSE(failed.has_value());
    CHECK(failed.error().code == EnvelopeErrc::bad_payload);
    CHECK(failed.error().detail == "point 1 -> 2: not a v1 point");
    REQUIRE(failed.error().payload);
    CHECK(failed.error().payload->found == "x");
}

TEST_CASE("a migration must go forward and end at most at the current version") {
    Versioned<Point> points("point", 2);
    auto identity = [](const Term& t) -> Expected<Term, EnvelopeError> { return t; };
    CHECK_THROWS_AS(points.migrate(2, 1, identity), std::invalid_argument);
    CHECK_THROWS_AS(points.migrate(1, 3, identity), std::invalid_argument);
}
