// A 20-node cluster on this machine: 20 real erl nodes (one scheduler each, small heaps) and our
// node; ours registers 1,000 global names and joins 1,000 groups, and every erl node ends up with
// all of them.
#include <doctest/doctest.h>

#include "membership_support.hpp"

using namespace distribute;
using namespace distribute::testing;

TEST_CASE("in a cluster of 20 erl nodes, 1,000 global names and 1,000 groups of ours converge") {
    constexpr std::size_t erl_count = 20;
    constexpr int names = 1000;
    constexpr int group_count = 1000;
    Cluster cluster;
    LogCapture log;
    INFO(log.text());
    std::vector<std::unique_ptr<ErlNode>> erls;
    for (std::size_t i = 0; i < erl_count; ++i) {
        auto options = pg_erl_options(cluster, "erl_c20");
        // Small nodes: one scheduler, no busy waiting, a small default heap.
        options.extra_args.insert(options.extra_args.end(),
                                  {"+S", "1:1", "+A", "1", "+sbwt", "none", "+sbwtdcpu", "none",
                                   "+sbwtdio", "none", "+hms", "100"});
        options.start_timeout = 60s;
        erls.push_back(std::make_unique<ErlNode>(options));
    }
    // The erl nodes mesh among themselves through global; ours joins through one of them.
    for (std::size_t i = 1; i < erl_count; ++i)
        CHECK(erls[i]->eval("net_adm:ping('" + erls[0]->node_name() + "')") == "pong");
    Node node = start_node(cluster.node_options("cpp_c20", &log));
    REQUIRE(node.connect(atom(erls[0]->node_name())).has_value());
    for (auto& erl : erls)
        CHECK(erl->eval(erl_wait("global:sync() =:= ok andalso length(nodes()) =:= " +
                                     std::to_string(erl_count),
                                 120s),
                        130s) == "ok");
    auto g = global(node);
    REQUIRE(g.has_value());
    CHECK(g->sync(120s));
    CHECK(node.nodes().size() == erl_count);

    for (int i = 0; i < names; ++i) {
        ProcessHandle holder = node.spawn([](const ProcessHandle&, Term) {});
        auto registered = g->register_name(tuple("cpp_name"_a, i), holder.pid());
        REQUIRE_MESSAGE(registered.has_value(), registered.error().detail);
    }
    auto pg = groups(node);
    REQUIRE(pg.has_value());
    Mailbox member = node.open_mailbox();
    for (int i = 0; i < group_count; ++i)
        REQUIRE(pg->join(tuple("cpp_group"_a, i), member.pid()).has_value());

    const std::string names_seen =
        "length([N || {cpp_name, _} = N <- global:registered_names()]) =:= " +
        std::to_string(names);
    const std::string groups_seen =
        "length([G || {cpp_group, _} = G <- pg:which_groups()]) =:= " + std::to_string(group_count);
    for (auto& erl : erls) {
        CHECK(erl->eval(erl_wait(names_seen + " andalso " + groups_seen, 120s), 130s) == "ok");
        // Each name leads to our node, and each group has our member.
        CHECK(erl->eval("lists:all(fun(I) -> node(global:whereis_name({cpp_name, I})) =:= '" +
                        std::string(node.name().name()) +
                        "' end, lists:seq(0, 999)) andalso lists:all(fun(I) -> "
                        "length(pg:get_members({cpp_group, I})) =:= 1 end, lists:seq(0, 999))") ==
              "true");
    }
}
