// `distribute call` and `distribute rpc`: one gen_server call or one erpc call from a
// short-lived hidden node, with terms in Erlang syntax both ways.
//
//   distribute call NODE NAME REQUEST [client options] [--timeout MS]
//       gen_server:call({NAME, NODE}, REQUEST); prints the reply
//   distribute rpc NODE MODULE FUNCTION [ARG...] [client options] [--timeout MS]
//       erpc:call(NODE, MODULE, FUNCTION, [ARG...]); prints the result
//
// A failure (timeout, noproc, an exception, undef) goes to stderr with exit status 1; a bad
// command line exits with 2, a connection that cannot be made with its reason's status
// (client_node.hpp).
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/client_node.hpp"
#include "cli/commands.hpp"
#include "distribute/node.hpp"
#include "distribute/rpc.hpp"

namespace distribute::cli {
namespace {

Term term_of(const std::string& command, const std::string& what, const std::string& text) {
    auto term = parse_term(text);
    if (!term) usage_error(command, what + " '" + text + "': " + term.error().to_string());
    return *term;
}

void print(const Term& result) {
    std::printf("%s\n", to_string(result).c_str());
    std::fflush(stdout);
}

struct CallCommand {
    std::string node, name, request;
    ClientOptions client;
    unsigned timeout_ms = 5000;
};

void run_call(const CallCommand& c) {
    const Atom peer = atom_of("call", c.node);
    const Atom name = atom_of("call", c.name);
    Term request = term_of("call", "REQUEST", c.request);
    Node node = client_node("call", c.node, c.client);
    connect_or_exit(node, "call", peer);
    auto reply = call(node, ServerRef(name, peer), std::move(request),
                      std::chrono::milliseconds(c.timeout_ms));
    if (!reply)
        command_failed("call", to_string(reply.error().reason) + ": " + reply.error().detail);
    print(*reply);
    node.stop();
}

struct RpcCommand {
    std::string node, module, function;
    ClientOptions client;
    std::vector<std::string> args;
    unsigned timeout_ms = 5000;
};

void run_rpc(const RpcCommand& c) {
    const Atom peer = atom_of("rpc", c.node);
    const Atom module = atom_of("rpc", c.module);
    const Atom function = atom_of("rpc", c.function);
    std::vector<Term> args;
    for (std::size_t i = 0; i < c.args.size(); ++i)
        args.push_back(term_of("rpc", "ARG " + std::to_string(i + 1), c.args[i]));
    Node node = client_node("rpc", c.node, c.client);
    connect_or_exit(node, "rpc", peer);
    auto result =
        rpc(node, peer, module, function, std::move(args), std::chrono::milliseconds(c.timeout_ms));
    if (!result) {
        const RpcError& e = result.error();
        std::string why = e.detail;
        if (e.kind == atoms::error && !e.stack.is_nil()) why += "\n  stack: " + to_string(e.stack);
        command_failed("rpc", why);
    }
    print(*result);
    node.stop();
}

}  // namespace

void add_call_commands(CLI::App& app) {
    auto c = std::make_shared<CallCommand>();
    CLI::App* call = app.add_subcommand(
        "call", "gen_server:call({NAME, NODE}, REQUEST): prints the reply in Erlang syntax");
    call->add_option("NODE", c->node, "name@host")->required();
    call->add_option("NAME", c->name, "The server's registered name on that node")->required();
    call->add_option("REQUEST", c->request, "The request, in Erlang syntax")->required();
    add_client_options(*call, c->client);
    call->add_option("--timeout", c->timeout_ms, "Milliseconds to wait for the reply (5000)");
    call->footer(std::string("Example:\n  distribute call cpp@myhost kv '{put, k, 42}' --cookie "
                             "secret      # prints ok\n\n") +
                 exit_status_help);
    call->callback([c] { run_call(*c); });

    auto r = std::make_shared<RpcCommand>();
    CLI::App* rpc = app.add_subcommand(
        "rpc", "erpc:call(NODE, MODULE, FUNCTION, [ARG...]): prints the result in Erlang syntax");
    rpc->add_option("NODE", r->node, "name@host")->required();
    rpc->add_option("MODULE", r->module, "Module")->required();
    rpc->add_option("FUNCTION", r->function, "Function")->required();
    // The arguments are what is left over, taken as they are: a vector option would have CLI11
    // split an argument like [1,2] into two.
    rpc->allow_extras();
    add_client_options(*rpc, r->client);
    rpc->add_option("--timeout", r->timeout_ms, "Milliseconds to wait for the result (5000)");
    rpc->footer(std::string("ARG...: the arguments, each a term in Erlang syntax\n\n"
                            "Example:\n  distribute rpc erl@myhost lists reverse '[1, 2, 3]' "
                            "--cookie secret   # prints [3,2,1]\n\n") +
                exit_status_help);
    rpc->callback([r, rpc] {
        r->args = rpc->remaining();
        run_rpc(*r);
    });
}

}  // namespace distribute::cli
