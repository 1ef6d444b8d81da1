// Name clashes between two partitions that meet (global.erl's resolver and resolve_it/4). The
// peer's names arrive in its exchange; each one ours has for another process is a clash, which
// the node whose name sorts first resolves: it asks the node of its own registrant to run the
// method that name was registered with (rpc global:resolve_it/4), so a method always runs where
// it was given. The outcome becomes the operations both sides apply (exchange_ops).
//
// Methods this node runs itself: global's three standard ones (as export funs
// fun global:random_exit_name/3 and so on, which is what our registrations send), and a C++
// resolver (sent as fun distribute_global:resolve/3, which only this node acts on). A method a
// BEAM node gave (a fun of global's own code) is run by a BEAM node: the one that made it, or
// another one we know.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "distribute/term.hpp"

namespace distribute::otp {

class GlobalServer;

struct GlobalResolution : std::enable_shared_from_this<GlobalResolution> {
    // Resolves `names` (the exchange of `node`, for the attempt tagged `tag`) on the node's
    // threads; the result goes to the server as {exchange_ops, Node, Tag, Ops, Resolved}.
    static std::shared_ptr<GlobalResolution> start(const std::shared_ptr<GlobalServer>& server,
                                                   Atom node, Term tag, const Term& names);
    // The attempt was given up (global kills its resolver): nothing more goes to the server.
    void cancel() { cancelled = true; }

    void next();
    void apply(const Term& name, const Pid& his, const Term& his_method, const Pid& mine,
               const Term& my_method, const Term& result, bool badrpc);

    std::weak_ptr<GlobalServer> server;
    Atom node;
    Term tag;
    std::vector<Term> names;
    std::size_t at = 0;
    std::vector<Term> ops;       // what we apply
    std::vector<Term> resolved;  // what the peer applies
    std::atomic<bool> cancelled{false};
};

// global:resolve_it(Method, Name, Pid1, Pid2) here: `done` gets the pid that keeps the name,
// `none`, or whatever else the method gave (then the name goes everywhere).
void resolve_it(GlobalServer& server, const Term& method, const Term& name, const Pid& one,
                const Pid& other, std::function<void(Term)> done);

// Registers global:resolve_it/4 with this node's rpc server, for the BEAM nodes that find a clash
// on a name of one of our processes.
void serve_resolve_it(const std::shared_ptr<GlobalServer>& server);

}  // namespace distribute::otp
