// Where a call, a cast or a checked send goes, in every form gen_server:call takes: a pid (here or
// on another node), a name registered on this node, {Name, Node}, and a name kept by a name
// service: {global, Name} or {via, Module, Name}. A name service answers through the resolver a
// node has for it (Node::set_name_resolver): `global` installs one for {global, Name}.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "distribute/term.hpp"

namespace distribute {

class ServerRef {
  public:
    ServerRef(const Pid& pid) : target_(pid) {}
    // A name registered on the node of whoever calls or sends.
    ServerRef(Atom name) : target_(name) {}
    ServerRef(Atom name, Atom node) : target_(std::pair<Atom, Atom>(name, node)) {}
    // {via, Registry, Name}; with Registry `global`, {global, Name}.
    static ServerRef registered(Atom registry, Term name) {
        return ServerRef(Registered{registry, std::move(name)});
    }
    static ServerRef global(Term name);

    // A pid, an atom, {Name, Node}, {global, Name} or {via, Module, Name}, as Erlang code passes
    // a server; nullopt for anything else.
    static std::optional<ServerRef> from_term(const Term& term);
    Term to_term() const;

    const Pid* pid() const { return std::get_if<Pid>(&target_); }
    // The name of a local or a {Name, Node} server.
    std::optional<Atom> name() const;
    // The node of a {Name, Node} server; nullopt for the other forms.
    std::optional<Atom> node() const;
    // The name service of a {global, Name} or {via, Module, Name} server, and the name in it.
    std::optional<Atom> registry() const;
    const Term* registered_name() const;
    std::string to_string() const;

    friend bool operator==(const ServerRef&, const ServerRef&) = default;

  private:
    struct Registered {
        Atom registry;
        Term name;
        friend bool operator==(const Registered&, const Registered&) = default;
    };
    explicit ServerRef(Registered r) : target_(std::move(r)) {}

    std::variant<Pid, Atom, std::pair<Atom, Atom>, Registered> target_;
};

// A name service's whereis_name: the pid registered under `name` now, or nullopt.
using NameResolver = std::function<std::optional<Pid>(const Term& name)>;

}  // namespace distribute
