// kv: the demo node's key-value store, an actor with gen_server semantics, so that
//   gen_server:call({kv, Node}, {put, K, V})   -> ok
//   gen_server:call({kv, Node}, {get, K})      -> {ok, V} | not_found
//   gen_server:call({kv, Node}, {delete, K})   -> ok
//   gen_server:call({kv, Node}, keys)          -> [K] (in Erlang term order)
//   gen_server:cast({kv, Node}, {put, K, V})
// work from Erlang, and GenServer.call({:kv, node}, ...) from Elixir. Keys and values are any
// terms. An unknown request is answered {error, {unknown_request, Request}} rather than crashing
// the store: it is shared by everyone who tries the demo node. sys:get_state({kv, Node}) returns
// the store as a map.
#include <map>
#include <memory>

#include "cli/demo_services.hpp"
#include "distribute/actor.hpp"

namespace distribute::cli {

namespace {

class Kv : public Actor {
  public:
    CallResult handle_call(const Term& request, From) override {
        static const Atom get = Atom::make("get").value();
        static const Atom del = Atom::make("delete").value();
        static const Atom keys = Atom::make("keys").value();
        if (put(request)) return Reply{Term(atoms::ok)};
        if (auto g = request.tagged<Term>(get)) {
            auto it = store_.find(std::get<0>(*g));
            if (it == store_.end()) return Reply{Term(atoms::not_found)};
            return Reply{tuple(atoms::ok, it->second)};
        }
        if (auto d = request.tagged<Term>(del)) {
            store_.erase(std::get<0>(*d));
            return Reply{Term(atoms::ok)};
        }
        if (request.is_atom(keys)) {
            std::vector<Term> out;
            out.reserve(store_.size());
            for (const auto& entry : store_)
                out.push_back(entry.first);
            return Reply{list_from(out)};
        }
        return Reply{tuple(atoms::error, tuple(Atom::make("unknown_request").value(), request))};
    }

    HandleResult handle_cast(const Term& message) override {
        (void)put(message);  // a cast has nobody to tell that it made no sense
        return NoReply{};
    }

    // sys:get_state({kv, Node}) and :sys.get_state/1: the store as a map.
    std::optional<Term> state() const override {
        std::vector<MapEntry> entries;
        entries.reserve(store_.size());
        for (const auto& [key, value] : store_)
            entries.push_back({key, value});
        return map_from(entries);
    }

  private:
    bool put(const Term& request) {
        static const Atom put_atom = Atom::make("put").value();
        auto p = request.tagged<Term, Term>(put_atom);
        if (!p) return false;
        store_.insert_or_assign(std::get<0>(*p), std::get<1>(*p));
        return true;
    }

    // Exact term order (=:=): 1 and 1.0 are different keys, as in an Erlang map.
    std::map<Term, Term> store_;
};

}  // namespace

Expected<void, NodeError> start_demo_kv(Node& node) {
    auto kv = spawn_actor(node, std::make_unique<Kv>(), {.name = Atom::make("kv").value()});
    if (kv) return {};
    if (kv.error().code == StartErrc::name_taken)
        return unexpected(NodeError{NodeErrc::name_taken, "kv is registered already"});
    return unexpected(
        NodeError{NodeErrc::not_running, "kv did not start: " + to_string(kv.error().reason)});
}

}  // namespace distribute::cli
