// What the pg and global interop tests share: our node (visible) among real erl nodes started with
// -kernel start_pg true, connected into one cluster, and waits that run on the erl side.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "distribute/etf.hpp"
#include "distribute/global.hpp"
#include "distribute/groups.hpp"
#include "node_support.hpp"

namespace distribute::testing {

// An Erlang expression that re-evaluates the boolean `condition` every 20 ms until it holds
// (ok) or `limit` passes ({timeout, LastValue}).
inline std::string erl_wait(std::string_view condition,
                            std::chrono::milliseconds limit = std::chrono::milliseconds(20000)) {
    std::string text = "(fun Wait(0) -> {timeout, (";
    text.append(condition).append(")}; Wait(N) -> case (").append(condition);
    text.append(") of true -> ok; _ -> timer:sleep(20), Wait(N - 1) end end)(");
    text.append(std::to_string(limit.count() / 20)).append(")");
    return text;
}

inline ErlNodeOptions pg_erl_options(const Cluster& cluster, std::string_view prefix) {
    auto options = cluster.erl_options(prefix);
    options.extra_args = {"-kernel", "start_pg", "true"};
    return options;
}

// Our node and `count` erl nodes, every one connected to every other (our node dials each; global
// meshes the rest) and global:sync() done on each erl node. The erl nodes' evaluating processes
// are registered as `tester` and our node has a mailbox `inbox` for erl_value().
struct Membership {
    explicit Membership(std::size_t count, std::string_view cpp_prefix = "cpp_member",
                        std::string_view erl_prefix = "erl_member") {
        node = std::make_unique<Node>(start_node(cluster.node_options(cpp_prefix, &log)));
        inbox = std::make_unique<Mailbox>(named_mailbox(*node, "inbox"));
        for (std::size_t i = 0; i < count; ++i) {
            erls.push_back(std::make_unique<ErlNode>(pg_erl_options(cluster, erl_prefix)));
            register_tester(*erls.back());
        }
        for (auto& erl : erls)
            REQUIRE(node->connect(atom(erl->node_name())).has_value());
        for (auto& erl : erls) {
            CHECK(erl->eval("global:sync()") == "ok");
            CHECK(erl->eval(erl_wait("length(nodes()) =:= " + std::to_string(count))) == "ok");
        }
    }

    std::string cpp() const { return quoted(node->name()); }
    Atom erl_atom(std::size_t i) const { return atom(erls[i]->node_name()); }
    Groups pg(Atom scope = Atom::make("pg").value()) const {
        auto g = groups(*node, scope);
        REQUIRE(g.has_value());
        return *g;
    }
    Global names() const {
        auto g = global(*node);
        REQUIRE(g.has_value());
        return *g;
    }
    // A value computed on erl i, as a term.
    Term value(std::size_t i, std::string_view expression) {
        return erl_value(*erls[i], *node, *inbox, expression);
    }
    Pid pid(std::size_t i, std::string_view expression) {
        return erl_pid(*erls[i], *node, *inbox, expression);
    }

    Cluster cluster;
    LogCapture log;
    std::unique_ptr<Node> node;
    std::unique_ptr<Mailbox> inbox;
    std::vector<std::unique_ptr<ErlNode>> erls;
};

// A value computed on `erl` that reaches us without erl sending anything to our node (for an erl
// node that must stay unconnected): erl prints it in the external term format, which we decode.
inline Term erl_value_offline(ErlNode& erl, std::string_view expression) {
    const std::string printed =
        erl.eval("term_to_binary(begin " + std::string(expression) + " end)");
    auto bytes = parse_term(printed);
    REQUIRE_MESSAGE(bytes.has_value(), "not a binary: " << printed);
    auto value = etf::decode(bytes->bytes());
    REQUIRE_MESSAGE(value.has_value(), "not the external term format: " << printed);
    return *value;
}

// Erlang: a process that lives until it gets stop, and forwards whatever else it gets to the
// evaluating process (`tester`) as {got, self(), Msg}.
inline constexpr std::string_view erl_forwarder =
    "spawn(fun F() -> receive stop -> ok; M -> tester ! {got, self(), M}, F() end end)";

inline std::vector<Pid> sorted(std::vector<Pid> pids) {
    std::sort(pids.begin(), pids.end());
    return pids;
}

inline std::vector<Pid> pids_of(const Term& list) {
    auto pids = list.to<std::vector<Pid>>();
    REQUIRE_MESSAGE(pids.has_value(), "not a list of pids: " << to_string(list));
    return sorted(*pids);
}

}  // namespace distribute::testing
