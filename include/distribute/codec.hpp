// Typed messages: Codec<T> turns a C++ value into the term an Erlang or Elixir program expects and
// back, so handlers work with C++ types and terms appear only at the edge. Built in for integers
// (range-checked, bignums included), floats, bool, strings and byte vectors (binaries), atoms,
// pids, references, vectors (lists), optionals, variants, maps and tuples; composable for structs
// as Erlang records ({point, X, Y}) or maps (#{x => X, y => Y}). A failed decode says which field
// and what was expected, and shows what came instead.
//
//   struct Point { std::int64_t x, y; };
//   template <> struct distribute::Codec<Point> {
//       static constexpr auto shape = record("point", field("x", &Point::x), field("y",
//       &Point::y));
//   };
//   Term t = encode(Point{1, 2});                     // {point, 1, 2}
//   Expected<Point, CodecError> p = decode<Point>(t);
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "distribute/expected.hpp"
#include "distribute/term.hpp"

namespace distribute {

struct CodecError {
    std::string path;      // where, from the outside in: "point.y", "[3]", "#{name}"
    std::string expected;  // what the codec wanted: "an integer in 0..255"
    std::string found;     // what was there, in Erlang syntax (cut to 200 bytes)
    std::string to_string() const;
};

template <class T>
struct Codec;

namespace codec_detail {

CodecError mismatch(const Term& found, std::string expected);
// Prefixes `inner`'s path with `step` ("y", "[3]", ...).
CodecError nested(CodecError inner, std::string_view step);

template <class T, class = void>
struct has_shape : std::false_type {};
template <class T>
struct has_shape<T, std::void_t<decltype(Codec<T>::shape)>> : std::true_type {};

template <class S, class M>
struct Field {
    std::string_view name;
    M S::*member;
};

template <class S, class... Fs>
struct Record {
    std::string_view tag;
    std::tuple<Fs...> fields;
    bool as_map;
};

template <class T>
Term encode_value(const T& value);
template <class T>
Expected<T, CodecError> decode_value(const Term& term);

}  // namespace codec_detail

// A struct member with the name errors (and map keys) use.
template <class S, class M>
constexpr codec_detail::Field<S, M> field(std::string_view name, M S::*member) {
    return {name, member};
}
// {tag, Field1, Field2...}: an Erlang record.
template <class S, class... Ms>
constexpr auto record(std::string_view tag, codec_detail::Field<S, Ms>... fields) {
    return codec_detail::Record<S, codec_detail::Field<S, Ms>...>{tag, {fields...}, false};
}
// #{field1 => ..., field2 => ...} with atom keys: what Elixir maps and structs look like.
template <class S, class... Ms>
constexpr auto map_of(codec_detail::Field<S, Ms>... fields) {
    return codec_detail::Record<S, codec_detail::Field<S, Ms>...>{{}, {fields...}, true};
}

// ---------------------------------------------------------------------------------------------
// Built-in codecs

template <>
struct Codec<Term> {
    static Term encode(const Term& t) { return t; }
    static Expected<Term, CodecError> decode(const Term& t) { return t; }
};

template <>
struct Codec<bool> {
    static Term encode(bool b) { return Term(b); }
    static Expected<bool, CodecError> decode(const Term& t) {
        if (auto b = t.to<bool>()) return *b;
        return unexpected(codec_detail::mismatch(t, "true or false"));
    }
};

template <std::integral I>
requires(!std::same_as<I, bool>) struct Codec<I> {
    static Term encode(I v) { return Term(v); }
    static Expected<I, CodecError> decode(const Term& t) {
        if (auto v = t.to<I>()) return *v;
        return unexpected(codec_detail::mismatch(
            t, "an integer in " + std::to_string(std::numeric_limits<I>::min()) + ".." +
                   std::to_string(std::numeric_limits<I>::max())));
    }
};

template <>
struct Codec<BigInt> {
    static Term encode(const BigInt& v) { return Term(v); }
    static Expected<BigInt, CodecError> decode(const Term& t) {
        if (auto v = t.to<BigInt>()) return *v;
        return unexpected(codec_detail::mismatch(t, "an integer"));
    }
};

// Integers are accepted too, as Erlang's arithmetic mixes them freely.
template <>
struct Codec<double> {
    static Term encode(double v) { return Term(v); }
    static Expected<double, CodecError> decode(const Term& t);
};

// A UTF-8 binary, as Elixir strings are; a list of code points (an Erlang string) is accepted.
template <>
struct Codec<std::string> {
    static Term encode(const std::string& s) { return binary(s); }
    static Expected<std::string, CodecError> decode(const Term& t);
};

// Raw bytes: a binary.
template <>
struct Codec<std::vector<std::uint8_t>> {
    static Term encode(const std::vector<std::uint8_t>& b) { return binary(b); }
    static Expected<std::vector<std::uint8_t>, CodecError> decode(const Term& t);
};

template <>
struct Codec<Atom> {
    static Term encode(Atom a) { return Term(a); }
    static Expected<Atom, CodecError> decode(const Term& t) {
        if (auto a = t.to<Atom>()) return *a;
        return unexpected(codec_detail::mismatch(t, "an atom"));
    }
};

template <>
struct Codec<Pid> {
    static Term encode(const Pid& p) { return Term(p); }
    static Expected<Pid, CodecError> decode(const Term& t) {
        if (auto p = t.to<Pid>()) return *p;
        return unexpected(codec_detail::mismatch(t, "a pid"));
    }
};

template <>
struct Codec<Reference> {
    static Term encode(const Reference& r) { return Term(r); }
    static Expected<Reference, CodecError> decode(const Term& t) {
        if (auto r = t.to<Reference>()) return *r;
        return unexpected(codec_detail::mismatch(t, "a reference"));
    }
};

// A proper list.
template <class T>
struct Codec<std::vector<T>> {
    static Term encode(const std::vector<T>& items) {
        std::vector<Term> terms;
        terms.reserve(items.size());
        for (const auto& item : items)
            terms.push_back(codec_detail::encode_value(item));
        return list_from(terms);
    }
    static Expected<std::vector<T>, CodecError> decode(const Term& t) {
        if (!t.is_proper_list()) return unexpected(codec_detail::mismatch(t, "a proper list"));
        std::vector<T> out;
        out.reserve(t.elements().size());
        std::size_t i = 0;
        for (const Term& element : t.elements()) {
            auto v = codec_detail::decode_value<T>(element);
            if (!v)
                return unexpected(codec_detail::nested(v.error(), "[" + std::to_string(i) + "]"));
            out.push_back(std::move(*v));
            ++i;
        }
        return out;
    }
};

// nullopt is the atom undefined, the Erlang convention for "no value".
template <class T>
struct Codec<std::optional<T>> {
    static Term encode(const std::optional<T>& v) {
        return v ? codec_detail::encode_value(*v) : Term(atoms::undefined);
    }
    static Expected<std::optional<T>, CodecError> decode(const Term& t) {
        if (t.is_atom(atoms::undefined)) return std::optional<T>();
        auto v = codec_detail::decode_value<T>(t);
        if (!v) return unexpected(v.error());
        return std::optional<T>(std::move(*v));
    }
};

// The first alternative, in order, that decodes the term.
template <class... Ts>
struct Codec<std::variant<Ts...>> {
    static Term encode(const std::variant<Ts...>& v) {
        return std::visit([](const auto& x) { return codec_detail::encode_value(x); }, v);
    }
    static Expected<std::variant<Ts...>, CodecError> decode(const Term& t) {
        std::optional<std::variant<Ts...>> out;
        std::string expected;
        (try_one<Ts>(t, out, expected), ...);
        if (out) return std::move(*out);
        return unexpected(codec_detail::mismatch(t, "one of: " + expected));
    }

  private:
    template <class T>
    static void try_one(const Term& t, std::optional<std::variant<Ts...>>& out,
                        std::string& expected) {
        if (out) return;
        auto v = codec_detail::decode_value<T>(t);
        if (v) {
            out.emplace(std::in_place_type<T>, std::move(*v));
            return;
        }
        if (!expected.empty()) expected += "; ";
        expected += v.error().expected;
    }
};

template <class... Ts>
struct Codec<std::tuple<Ts...>> {
    static Term encode(const std::tuple<Ts...>& v) {
        return std::apply([](const auto&... x) { return tuple(codec_detail::encode_value(x)...); },
                          v);
    }
    static Expected<std::tuple<Ts...>, CodecError> decode(const Term& t) {
        if (!t.is_tuple(sizeof...(Ts)))
            return unexpected(codec_detail::mismatch(
                t, "a tuple of " + std::to_string(sizeof...(Ts)) + " elements"));
        return decode_elements(t, std::index_sequence_for<Ts...>{});
    }

  private:
    template <std::size_t... Is>
    static Expected<std::tuple<Ts...>, CodecError> decode_elements(const Term& t,
                                                                   std::index_sequence<Is...>) {
        std::tuple<Expected<Ts, CodecError>...> parts{codec_detail::decode_value<Ts>(t[Is])...};
        std::optional<CodecError> first;
        ((!first && !std::get<Is>(parts)
              ? void(first = codec_detail::nested(std::get<Is>(parts).error(),
                                                  "{" + std::to_string(Is + 1) + "}"))
              : void()),
         ...);
        if (first) return unexpected(std::move(*first));
        return std::tuple<Ts...>{std::move(*std::get<Is>(parts))...};
    }
};

template <class A, class B>
struct Codec<std::pair<A, B>> {
    static Term encode(const std::pair<A, B>& p) {
        return tuple(codec_detail::encode_value(p.first), codec_detail::encode_value(p.second));
    }
    static Expected<std::pair<A, B>, CodecError> decode(const Term& t) {
        auto both = Codec<std::tuple<A, B>>::decode(t);
        if (!both) return unexpected(both.error());
        return std::pair<A, B>(std::move(std::get<0>(*both)), std::move(std::get<1>(*both)));
    }
};

// An Erlang map.
template <class Map>
struct MapCodec {
    using K = typename Map::key_type;
    using V = typename Map::mapped_type;
    static Term encode(const Map& m) {
        std::vector<MapEntry> entries;
        entries.reserve(m.size());
        for (const auto& [k, v] : m)
            entries.push_back({codec_detail::encode_value(k), codec_detail::encode_value(v)});
        return map_from(entries);
    }
    static Expected<Map, CodecError> decode(const Term& t) {
        if (!t.is_map()) return unexpected(codec_detail::mismatch(t, "a map"));
        Map out;
        for (const auto& entry : t.entries()) {
            auto k = codec_detail::decode_value<K>(entry.key);
            if (!k) return unexpected(codec_detail::nested(k.error(), "#{key}"));
            auto v = codec_detail::decode_value<V>(entry.value);
            if (!v)
                return unexpected(
                    codec_detail::nested(v.error(), "#{" + to_string(entry.key) + "}"));
            out.emplace(std::move(*k), std::move(*v));
        }
        return out;
    }
};
template <class K, class V>
struct Codec<std::map<K, V>> : MapCodec<std::map<K, V>> {};
template <class K, class V>
struct Codec<std::unordered_map<K, V>> : MapCodec<std::unordered_map<K, V>> {};

// ---------------------------------------------------------------------------------------------
// Structs described by a `shape` (record or map_of)

namespace codec_detail {

template <class S, class... Fs>
Term encode_shape(const S& value, const Record<S, Fs...>& shape) {
    if (shape.as_map) {
        std::vector<MapEntry> entries;
        std::apply(
            [&](const auto&... f) {
                (entries.push_back(
                     {Term(Atom::make(f.name).value()), encode_value(value.*f.member)}),
                 ...);
            },
            shape.fields);
        return map_from(entries);
    }
    std::vector<Term> parts{Term(Atom::make(shape.tag).value())};
    std::apply([&](const auto&... f) { (parts.push_back(encode_value(value.*f.member)), ...); },
               shape.fields);
    return tuple_from(parts);
}

template <class S, class... Fs>
Expected<S, CodecError> decode_shape(const Term& t, const Record<S, Fs...>& shape) {
    S out{};
    std::optional<CodecError> error;
    auto read = [&](const auto& f, const Term* slot) {
        if (error) return;
        if (!slot) {
            error = mismatch(t, "a map with the key " + std::string(f.name));
            return;
        }
        using M = std::remove_cvref_t<decltype(out.*f.member)>;
        auto v = decode_value<M>(*slot);
        if (!v)
            error = nested(v.error(), shape.as_map
                                          ? std::string(f.name)
                                          : std::string(shape.tag) + "." + std::string(f.name));
        else
            out.*f.member = std::move(*v);
    };
    if (shape.as_map) {
        if (!t.is_map()) return unexpected(mismatch(t, "a map"));
        std::apply(
            [&](const auto&... f) { (read(f, t.find(Term(Atom::make(f.name).value()))), ...); },
            shape.fields);
    } else {
        constexpr std::size_t arity = sizeof...(Fs) + 1;
        auto tag = Atom::existing(shape.tag);
        if (!t.is_tuple(arity) || !tag || !t[0].is_atom(*tag))
            return unexpected(mismatch(t, "a record {" + std::string(shape.tag) + ", ...} of " +
                                              std::to_string(arity) + " elements"));
        std::size_t i = 1;
        std::apply([&](const auto&... f) { (read(f, &t[i++]), ...); }, shape.fields);
    }
    if (error) return unexpected(std::move(*error));
    return out;
}

template <class T>
Term encode_value(const T& value) {
    if constexpr (has_shape<T>::value)
        return encode_shape(value, Codec<T>::shape);
    else
        return Codec<T>::encode(value);
}

template <class T>
Expected<T, CodecError> decode_value(const Term& term) {
    if constexpr (has_shape<T>::value)
        return decode_shape(term, Codec<T>::shape);
    else
        return Codec<T>::decode(term);
}

}  // namespace codec_detail

template <class T>
Term encode(const T& value) {
    return codec_detail::encode_value(value);
}

template <class T>
[[nodiscard]] Expected<T, CodecError> decode(const Term& term) {
    return codec_detail::decode_value<T>(term);
}

}  // namespace distribute
