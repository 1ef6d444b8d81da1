// The inventory server of inventory.erl, moved to C++. Its callers are unchanged: shop.erl calls
// gen_server:call({inventory, Node}, Request) and gen_server:cast as before and gets the same
// replies, because an Actor answers the gen_server protocol.
//
//   usage: inventory NAME [COOKIE [LISTEN_ADDRESS]]
//   (no COOKIE: ~/.erlang.cookie, as erl; ERL_EPMD_PORT is honoured, as by erl)
#include <distribute.hpp>

#include "../example_node.hpp"

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>

using namespace distribute;

class Inventory : public Actor {
    std::map<Atom, std::int64_t> stock_;

    static Reply bad_request(const Term& request) {
        return Reply{tuple("error"_a, tuple("bad_request"_a, request))};
    }

    CallResult handle_call(const Term& request, From) override {
        // {add, Item, N} and {take, Item, N} with N > 0, {count, Item}: the clauses of
        // inventory.erl, guards included.
        if (auto add = request.tagged<Atom, std::int64_t>("add"_a)) {
            auto [item, n] = *add;
            if (n <= 0) return bad_request(request);
            return Reply{tuple("ok"_a, stock_[item] += n)};
        }
        if (auto take = request.tagged<Atom, std::int64_t>("take"_a)) {
            auto [item, n] = *take;
            if (n <= 0) return bad_request(request);
            std::int64_t& have = stock_[item];
            if (have < n) return Reply{tuple("error"_a, tuple("short"_a, have))};
            return Reply{tuple("ok"_a, have -= n)};
        }
        if (auto count = request.tagged<Atom>("count"_a)) {
            auto it = stock_.find(std::get<0>(*count));
            return Reply{Term(it == stock_.end() ? std::int64_t{0} : it->second)};
        }
        return bad_request(request);
    }

    HandleResult handle_cast(const Term& message) override {
        if (auto discard = message.tagged<Atom>("discard"_a)) stock_.erase(std::get<0>(*discard));
        return NoReply{};  // other casts are ignored, as in inventory.erl
    }
};

int main(int argc, char** argv) {
    auto node = start_example_node("inventory", argc, argv);
    if (!node) return 1;
    // Registered as `inventory`, as gen_server:start({local, inventory}, ...) registered it.
    auto server = spawn_actor(*node, std::make_unique<Inventory>(), {.name = "inventory"_a});
    if (!server) {
        std::fprintf(stderr, "inventory: %s\n", to_string(server.error().reason).c_str());
        return 1;
    }
    std::printf("%s is up: {inventory, '%s'} serves gen_server calls\n",
                std::string(node->name().name()).c_str(), std::string(node->name().name()).c_str());
    std::fflush(stdout);
    node->wait();  // until Ctrl-C or SIGTERM
    return 0;
}
