#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "distribute/term.hpp"
#include "term/heap.hpp"

using namespace distribute;

namespace {
Pid pid_on(std::string_view node, std::uint32_t id, std::uint32_t serial, std::uint32_t creation) {
    return Pid{*Atom::make(node), id, serial, creation};
}
}  // namespace

TEST_SUITE("atoms") {
    TEST_CASE("interning the same name twice gives the same atom") {
        auto a = Atom::make("hello_world");
        auto b = Atom::make("hello_world");
        REQUIRE(a);
        REQUIRE(b);
        CHECK(*a == *b);
        CHECK(a->name() == "hello_world");
    }

    TEST_CASE("well-known atoms have their names without a lookup") {
        CHECK(atoms::ok.name() == "ok");
        CHECK(atoms::gen_call.name() == "$gen_call");
        CHECK(atoms::nonode.name() == "nonode@nohost");
        CHECK("ok"_a == atoms::ok);
        CHECK(Atom().name().empty());
    }

    TEST_CASE("an atom of 255 characters is accepted and one of 256 is refused") {
        std::string name;
        for (int i = 0; i < 255; ++i)
            name += "\u00e9";  // two bytes each, one character
        CHECK(Atom::make(name));
        auto too_long = Atom::make(name + "x");
        REQUIRE_FALSE(too_long);
        CHECK(too_long.error() == AtomErrc::too_long);
    }

    TEST_CASE("invalid UTF-8 is refused") {
        CHECK(Atom::make("\xff").error() == AtomErrc::invalid_utf8);
        CHECK(Atom::make("\xc0\x80").error() == AtomErrc::invalid_utf8);      // overlong
        CHECK(Atom::make("\xed\xa0\x80").error() == AtomErrc::invalid_utf8);  // surrogate
    }

    TEST_CASE("existing finds only atoms somebody created") {
        CHECK_FALSE(Atom::existing("never_created_by_anyone_xyzzy_42"));
        auto made = Atom::make("created_for_existing_test");
        REQUIRE(made);
        CHECK(Atom::existing("created_for_existing_test") == *made);
    }

    TEST_CASE("atoms order by their text, not by creation") {
        auto z = *Atom::make("zzz_order_test");
        auto a = *Atom::make("aaa_order_test");
        CHECK(a < z);
        CHECK(Term(a) < Term(z));
    }

    TEST_CASE("the table limit refuses new atoms but keeps serving old ones") {
        auto before = AtomTable::limit();
        auto old = *Atom::make("made_before_the_limit");
        AtomTable::set_limit(AtomTable::size());
        CHECK(Atom::make("made_after_the_limit_xyz").error() == AtomErrc::table_full);
        CHECK(Atom::make("made_before_the_limit").value() == old);
        AtomTable::set_limit(before);
        CHECK(Atom::make("made_after_the_limit_xyz"));
    }

    TEST_CASE("threads interning the same names concurrently agree") {
        std::vector<std::vector<Atom>> seen(4);
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&, t] {
                for (int i = 0; i < 5000; ++i)
                    seen[t].push_back(*Atom::make("concurrent_" + std::to_string(i)));
            });
        for (auto& th : threads)
            th.join();
        for (int t = 1; t < 4; ++t)
            CHECK(seen[t] == seen[0]);
        CHECK(seen[0][4999].name() == "concurrent_4999");
    }
}

TEST_SUITE("building and reading terms") {
    TEST_CASE("{ok, [1, 2]} takes one line and reads back") {
        Term t = tuple(atoms::ok, list(1, 2));
        REQUIRE(t.is_tuple(2));
        CHECK(t[0].is_atom(atoms::ok));
        CHECK(t[1].to<std::vector<int>>() == std::vector<int>{1, 2});
    }

    TEST_CASE("tagged matches a gen_server style request and converts its fields") {
        Term request = tuple("put"_a, binary("key"), 42);
        auto put = request.tagged<std::string, int>("put"_a);
        REQUIRE(put);
        auto& [key, value] = *put;
        CHECK(key == "key");
        CHECK(value == 42);
        CHECK_FALSE(request.tagged<std::string, int>("get"_a));
        CHECK_FALSE(request.tagged<std::string>("put"_a));  // wrong arity
        CHECK_FALSE(request.tagged<int, int>("put"_a));     // wrong field type
        CHECK(request.unpack<Atom, Term, std::int64_t>());
    }

    TEST_CASE("integer conversions are range-checked") {
        CHECK(Term(300).to<std::uint8_t>() == std::nullopt);
        CHECK(Term(-1).to<unsigned>() == std::nullopt);
        CHECK(Term(255).to<std::uint8_t>() == 255);
        CHECK(Term(std::uint64_t{18446744073709551615ull}).to<std::uint64_t>() ==
              18446744073709551615ull);
        CHECK(Term(std::uint64_t{18446744073709551615ull}).to<std::int64_t>() == std::nullopt);
        CHECK(Term(1.5).to<int>() == std::nullopt);
    }

    TEST_CASE("a value that fits 64 bits is a small integer whatever way it was made") {
        BigInt small(false, std::vector<std::uint8_t>{5, 0, 0, 0, 0, 0, 0, 0, 0, 0});
        CHECK(Term(small) == Term(5));
        CHECK(Term(BigInt(INT64_MIN)) == Term(INT64_MIN));
        Term big = Term(std::uint64_t{1} << 63);
        CHECK(big.is_integer());
        CHECK(big.to<BigInt>()->to_string() == "9223372036854775808");
    }

    TEST_CASE("bignums parse, print and do arithmetic") {
        auto a = BigInt::parse("123456789012345678901234567890");
        REQUIRE(a);
        CHECK(a->to_string() == "123456789012345678901234567890");
        CHECK((*a + BigInt(10)).to_string() == "123456789012345678901234567900");
        CHECK((*a - *a).is_zero());
        CHECK((-*a).to_string() == "-123456789012345678901234567890");
        CHECK((*a * *a).to_string() ==
              "15241578753238836750495351562536198787501905199875019052100");
        CHECK(BigInt::parse("ff", 16)->to_string() == "255");
        CHECK(BigInt(255).to_string(16) == "FF");
        CHECK_FALSE(BigInt::parse("12a"));
        CHECK_FALSE(BigInt::parse("-"));
        CHECK(BigInt(-5) < BigInt(3));
        CHECK(*BigInt::parse("-100000000000000000000") < BigInt(INT64_MIN));
    }

    TEST_CASE("floats must be finite") {
        CHECK_THROWS_AS(Term(std::numeric_limits<double>::infinity()), std::domain_error);
        CHECK_THROWS_AS(Term(std::nan("")), std::domain_error);
    }

    TEST_CASE("text needs its kind said explicitly") {
        CHECK(binary("abc").is_binary());
        CHECK(binary("abc").text() == "abc");
        auto chars = charlist("h\u00e9");
        REQUIRE(chars);
        CHECK(*chars == list(104, 233));
        CHECK_FALSE(charlist("\xff"));
        CHECK(Term(true).is_atom(atoms::true_));
    }

    TEST_CASE("a list whose tail is a list is the same as the flat list") {
        Term flat = list(1, 2, 3);
        Term nested = list_from(std::vector<Term>{1}, list(2, 3));
        CHECK(nested == flat);
        CHECK(nested.is_proper_list());
        Term improper = list_from(std::vector<Term>{1, 2}, Term(3));
        CHECK_FALSE(improper.is_proper_list());
        CHECK(improper.tail() == Term(3));
        CHECK(improper.elements().size() == 2);
        CHECK(list_from({}, Term(7)) == Term(7));
    }

    TEST_CASE("maps keep one value per key, the last given, and find by exact key") {
        Term m = map({{"a"_a, 1}, {"b"_a, 2}, {"a"_a, 3}});
        CHECK(m.entries().size() == 2);
        REQUIRE(m.find("a"_a));
        CHECK(*m.find("a"_a) == Term(3));
        CHECK(m.find("c"_a) == nullptr);
        Term numeric = map({{1, "int"_a}, {1.0, "float"_a}});
        CHECK(numeric.entries().size() == 2);  // 1 and 1.0 are different keys
        CHECK(*numeric.find(1.0) == Term("float"_a));
    }

    TEST_CASE("bitstrings keep their bit count and zero their unused bits") {
        std::uint8_t bytes[] = {0xFF};
        Term bits = bitstring(bytes, 3);
        CHECK(bits.is_bitstring());
        CHECK_FALSE(bits.is_binary());
        CHECK(bits.tail_bits() == 3);
        CHECK(bits.bytes()[0] == 0xE0);
        CHECK_THROWS_AS(bitstring({}, 3), std::invalid_argument);
    }

    TEST_CASE("tuple indexing out of range is a programmer error") {
        CHECK_THROWS_AS(tuple(1)[1], std::out_of_range);
        CHECK_THROWS_AS(Term(1)[0], std::out_of_range);
    }

    TEST_CASE("terms are shared between copies and freed with the last one") {
        Term a = tuple(binary("payload"), list(1, 2, 3));
        Term b = a;
        a = Term();
        CHECK(b[0].text() == "payload");
    }

    TEST_CASE("a million-deep term is built, compared, hashed and freed without recursion") {
        Term deep;
        for (int i = 0; i < 1'000'000; ++i)
            deep = list(std::move(deep));
        Term other;
        for (int i = 0; i < 1'000'000; ++i)
            other = list(std::move(other));
        CHECK(deep == other);
        CHECK(hash(deep) == hash(other));
        Term t;
        for (int i = 0; i < 1'000'000; ++i)
            t = tuple(std::move(t));
        CHECK(t != deep);
    }

    TEST_CASE("freeing a tree keeps the subterms that other terms still hold") {
        Closure fun;
        fun.arity = 1;
        fun.module = "m"_a;
        fun.old_index = Term(0);
        fun.old_uniq = Term(0);
        fun.pid = Term(pid_on("a@b", 1, 0, 1));
        fun.free_vars = {tuple(1, list(2, 3)), binary("free")};
        std::vector<Term> records;
        for (int i = 0; i < 100; ++i)
            records.push_back(tuple("r"_a, binary(std::string(i, 'x')), i, map({{i, list(i)}})));
        Term root = tuple(list_from(records, Term(fun)), map({{"k"_a, records[7]}}));
        Term record = records[50];
        Term closure = root[0].tail();
        Term inner = closure.to<Closure>()->free_vars[0];
        records.clear();
        root = Term();
        CHECK(record == tuple("r"_a, binary(std::string(50, 'x')), 50, map({{50, list(50)}})));
        CHECK(inner == tuple(1, list(2, 3)));
        CHECK(closure.to<Closure>()->free_vars[1] == binary("free"));
    }

    TEST_CASE("a million-deep chain nested in first slots is freed without recursion") {
        // Each parent still has a slot to release after its child, unlike {1, {2, ...}}.
        Term t = Term(atoms::ok);
        for (int i = 0; i < 1'000'000; ++i)
            t = tuple(std::move(t), binary("x"));
        Term l;
        for (int i = 0; i < 1'000'000; ++i)
            l = list_from(std::vector<Term>{std::move(l), Term(i)});
        CHECK(t.is_tuple(2));
        CHECK(l.is_list());
    }

    TEST_CASE("terms made on one thread can be freed on another, and threads can end") {
        for (int round = 0; round < 4; ++round) {
            std::vector<Term> made;
            std::thread maker([&] {
                for (int i = 0; i < 20'000; ++i)
                    made.push_back(tuple(i, binary("payload"), list(i, "x"_a)));
            });
            maker.join();
            std::thread freer([&] {
                for (Term& t : made)
                    t = Term();
            });
            freer.join();
        }
        Term after = tuple(1, binary("still fine"));
        CHECK(after[1].text() == "still fine");
    }

    TEST_CASE("what one thread frees past its lists goes to a thread that allocates, in batches") {
        // A session decodes on one thread and a process frees the messages on another: the
        // freeing thread's full lists hand batches to the depot, the allocating thread takes them.
        std::vector<Term> made;
        std::thread maker([&] {
            for (int i = 0; i < 200'000; ++i)  // about 10 MB of tuples, over the 4 MB of a thread
                made.push_back(tuple(i, i));
        });
        maker.join();
        const std::size_t before = detail::heap::depot_held();
        std::thread freer([&] { made.clear(); });
        freer.join();
        const std::size_t given = detail::heap::depot_held();
        CHECK(given >= before + (std::size_t{1} << 20));
        std::size_t left = 0;
        std::thread taker([&] {
            for (int i = 0; i < 200'000; ++i)
                made.push_back(tuple(i, i));
            left = detail::heap::depot_held();
            made.clear();
        });
        taker.join();
        CHECK(left < given);
        CHECK(detail::heap::depot_held() <= detail::heap::depot_limit);
    }

    TEST_CASE("a thread reuses the memory of freed terms first and keeps a bounded amount") {
        using detail::TermAccess;
        using detail::TupleObject;
        Term a = tuple(1, 2);
        const void* memory = &TermAccess::object<TupleObject>(a);
        a = Term();
        Term b = tuple(3, 4);
        CHECK(&TermAccess::object<TupleObject>(b) == memory);
        std::vector<Term> many;
        for (int i = 0; i < 200'000; ++i)  // about 10 MB of tuples
            many.push_back(tuple(i, i));
        many.clear();
        CHECK(detail::heap::cache.bytes <= detail::heap::cache_limit);
    }

    TEST_CASE("binaries sliced from a shared buffer keep it alive") {
        Term slice;
        {
            SharedBuffer buffer(std::vector<std::uint8_t>{1, 2, 3, 4, 5});
            slice = detail::TermAccess::adopt(
                detail::TermAccess::slice_binary(buffer.object(), buffer.data() + 1, 3, 8));
        }
        CHECK(slice == binary(std::vector<std::uint8_t>{2, 3, 4}));
    }
}

TEST_SUITE("term order") {
    TEST_CASE("kinds follow Erlang's order") {
        Reference ref{"n@h"_a, 1, 3, {1, 2, 3}};
        std::vector<Term> ascending = {
            Term(1),
            Term("a"_a),
            Term(ref),
            Term(ExportFun{"m"_a, "f"_a, 1}),
            Term(Port{"n@h"_a, 1, 1}),
            Term(pid_on("n@h", 1, 0, 1)),
            tuple(1),
            map({{1, 2}}),
            Term(),
            list(1),
            binary("a"),
        };
        for (std::size_t i = 0; i + 1 < ascending.size(); ++i) {
            INFO("position " << i);
            CHECK(ascending[i] < ascending[i + 1]);
            CHECK(compare(ascending[i], ascending[i + 1]) < 0);
        }
    }

    TEST_CASE("== compares numbers by value and =:= by type too") {
        CHECK(equal(Term(1), Term(1.0)));
        CHECK_FALSE(Term(1) == Term(1.0));
        CHECK(equal(tuple(1, list(2)), tuple(1.0, list(2.0))));
        CHECK(compare(Term(1), Term(1.5)) < 0);
        CHECK(compare(Term(2), Term(1.5)) > 0);
        // OTP 27 on: -0.0 == 0.0, but not -0.0 =:= 0.0; in exact order -0.0 comes first.
        CHECK(equal(Term(0.0), Term(-0.0)));
        CHECK(compare(Term(-0.0), Term(0.0)) == 0);
        CHECK_FALSE(Term(0.0) == Term(-0.0));
        CHECK(Term(-0.0) < Term(0.0));
        CHECK(hash(Term(0.0)) == hash(Term(-0.0)));
    }

    TEST_CASE("in exact order every integer precedes every float, as map keys are sorted") {
        CHECK(Term(2) < Term(1.0));
        Term m = map({{2, "a"_a}, {1.0, "b"_a}});
        CHECK(m.entries()[0].key == Term(2));
    }

    TEST_CASE("bignums compare with small integers and floats by value") {
        Term huge = Term(*BigInt::parse("100000000000000000000000"));
        Term negative_huge = Term(*BigInt::parse("-100000000000000000000000"));
        CHECK(compare(Term(INT64_MAX), huge) < 0);
        CHECK(compare(negative_huge, Term(INT64_MIN)) < 0);
        CHECK(compare(huge, Term(1.0e23)) > 0);  // 1.0e23 is 99999999999999991611392
        CHECK(equal(Term(*BigInt::parse("99999999999999991611392")), Term(1.0e23)));
        CHECK(compare(huge, Term(9.0e22)) > 0);
        CHECK(compare(negative_huge, Term(-1.0e30)) > 0);
        CHECK(equal(Term(*BigInt::parse("9223372036854775808")), Term(9223372036854775808.0)));
    }

    TEST_CASE("lists compare element by element, improper tails included") {
        CHECK(list(1, 2) < list(1, 3));
        CHECK(list(1) < list(1, 2));
        CHECK(list_from(std::vector<Term>{1}, Term(2)) < list(1, 2));  // [1|2] < [1,2]
        CHECK(list_from(std::vector<Term>{1}, binary("x")) > list(1, 2));
    }

    TEST_CASE("tuples compare by size first, maps by size then keys then values") {
        CHECK(tuple(9, 9) < tuple(1, 1, 1));
        CHECK(map({{1, "a"_a}}) < map({{1.0, "a"_a}}));
        CHECK(map({{1, 9}}) < map({{1, 1}, {2, 2}}));
        CHECK(map({{1, "a"_a}}) < map({{1, "b"_a}}));
        CHECK(map({{2, "a"_a}, {1.0, "b"_a}}) > map({{1, "a"_a}, {3.0, "b"_a}}));
    }

    TEST_CASE("bitstrings compare bit by bit, a prefix first") {
        std::uint8_t one = 0x10;
        Term four_bits = bitstring(std::span(&one, 1), 4);  // <<1:4>>
        CHECK(four_bits > binary(std::vector<std::uint8_t>{1}));
        CHECK(binary("ab") < binary("abc"));
        CHECK(binary("") < binary("a"));
    }

    TEST_CASE("pids order by serial, then number, then node") {
        CHECK(pid_on("a@h", 10, 0, 1) < pid_on("a@h", 2, 1, 1));
        CHECK(pid_on("a@h", 1, 0, 1) < pid_on("b@h", 1, 0, 1));
        CHECK(pid_on("a@h", 1, 0, 1) < pid_on("a@h", 1, 0, 2));
    }

    TEST_CASE("references with high zero words equal shorter ones") {
        Reference three{"n@h"_a, 1, 3, {1, 2, 3}};
        Reference five{"n@h"_a, 1, 5, {1, 2, 3, 0, 0}};
        CHECK(Term(three) == Term(five));
        CHECK(hash(Term(three)) == hash(Term(five)));
    }

    TEST_CASE("terms work as keys of standard containers") {
        std::map<Term, int> ordered{{Term(1.0), 1}, {Term(1), 2}, {binary("x"), 3}};
        CHECK(ordered.size() == 3);
        std::unordered_set<Term> unique{tuple(1, 2), tuple(1, 2), tuple(2, 1)};
        CHECK(unique.size() == 2);
    }
}
