// A C++ pricing service for an Elixir app (client.exs): a GenServer-compatible actor registered
// as :pricing, and a function Pricing.total/1 that :rpc.call and :erpc.call reach. Quotes go to
// Elixir as %Quote{} structs (maps with __struct__ => Elixir.Quote) and come back the same way.
//
//   usage: pricing NAME [COOKIE [LISTEN_ADDRESS]]
//   iex --sname app --cookie COOKIE
//   iex> GenServer.call({:pricing, :"NAME@host"}, {:quote, "apple", 3})
//   %Quote{item: "apple", quantity: 3, cents: 150}    (with Quote defined as in client.exs)
#include <distribute.hpp>

#include "../example_node.hpp"

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace distribute;

struct Quote {
    std::string item;
    std::int64_t quantity = 0;
    std::int64_t cents = 0;
};

// The fields of `defstruct [:item, :quantity, :cents]`: an Elixir struct is a map with atom keys.
template <>
struct distribute::Codec<Quote> {
    static constexpr auto shape =
        map_of(field("item", &Quote::item), field("quantity", &Quote::quantity),
               field("cents", &Quote::cents));
};

// The map of a struct plus __struct__ => the module's atom, which is all that makes a map an
// Elixir struct. Decoding needs nothing of the kind: map_of reads the keys it knows.
Term as_elixir_struct(const Term& map, Atom module) {
    std::vector<MapEntry> entries(map.entries().begin(), map.entries().end());
    entries.push_back({Term("__struct__"_a), Term(module)});
    return map_from(entries);
}

class Pricing : public Actor {
    std::map<std::string, std::int64_t> cents_per_unit_{{"apple", 50}, {"pear", 80}};

    // GenServer.call({:pricing, node}, {:quote, item, quantity}) -> %Quote{} | {:error, reason}
    CallResult handle_call(const Term& request, From) override {
        auto asked = request.tagged<std::string, std::int64_t>("quote"_a);
        if (!asked) return Reply{tuple("error"_a, tuple("bad_request"_a, request))};
        auto [item, quantity] = *asked;
        auto price = cents_per_unit_.find(item);
        if (price == cents_per_unit_.end()) return Reply{tuple("error"_a, "unknown_item"_a)};
        return Reply{as_elixir_struct(encode(Quote{item, quantity, quantity * price->second}),
                                      "Elixir.Quote"_a)};
    }

    // GenServer.cast({:pricing, node}, {:set_price, item, cents})
    HandleResult handle_cast(const Term& message) override {
        if (auto set = message.tagged<std::string, std::int64_t>("set_price"_a))
            cents_per_unit_[std::get<0>(*set)] = std::get<1>(*set);
        return NoReply{};
    }
};

// Pricing.total(quotes): the sum of their cents. A list that is not of quotes raises
// {bad_quotes, Why} in the caller, as an Elixir function raising an ErlangError would.
RpcResult total(std::span<const Term> args) {
    auto quotes = decode<std::vector<Quote>>(args[0]);
    if (!quotes) return rpc_error(tuple("bad_quotes"_a, binary(quotes.error().to_string())));
    std::int64_t sum = 0;
    for (const Quote& q : *quotes)
        sum += q.cents;
    return Term(sum);
}

int main(int argc, char** argv) {
    auto node = start_example_node("pricing", argc, argv);
    if (!node) return 1;
    // Elixir's module Pricing is the atom 'Elixir.Pricing'.
    rpc_registry(*node).add("Elixir.Pricing"_a, "total"_a, 1, total);
    auto server = spawn_actor(*node, std::make_unique<Pricing>(), {.name = "pricing"_a});
    if (!server) {
        std::fprintf(stderr, "pricing: %s\n", to_string(server.error().reason).c_str());
        return 1;
    }
    std::printf("%s is up: {:pricing, node} and Pricing.total/1\n",
                std::string(node->name().name()).c_str());
    std::fflush(stdout);
    node->wait();
    return 0;
}
