// gen_server:multi_call(Nodes, Name, Request) made by a handler process, which must not wait: the
// requests go out at once, each with a monitor on {Name, Node}, and the replies and DOWNs come
// back as messages that the process hands to take(). When every node has answered or failed,
// `done` runs with the replies and the nodes that failed, as multi_call returns {Replies,
// BadNodes}. The wire shapes are gen_server's (OTP 25): {'$gen_call', {Self, {Tag, Node}},
// Request} answered by {{Tag, Node}, Reply}. The public multi_call (call.hpp) drives one from a
// temporary mailbox.
#pragma once

#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "distribute/term.hpp"
#include "node/identity_hash.hpp"
#include "node/runtime.hpp"

namespace distribute::otp {

class MultiCalls {
  public:
    using Replies = std::vector<std::pair<Atom, Term>>;
    using Done = std::function<void(Replies replies, std::vector<Atom> bad_nodes)>;

    // `done` runs from take(), or at once when `nodes` is empty.
    void start(node::Process& self, const std::vector<Atom>& nodes, Atom name, const Term& request,
               Done done);
    // True when `message` was a reply or a DOWN of a call under way (it is then consumed).
    bool take(node::Process& self, const Term& message);
    bool busy() const { return !calls_.empty(); }
    // Ends every call under way now: the nodes that have not answered count as bad (their
    // monitors go, so a late reply is all that can still come), and each `done` runs.
    void give_up(node::Process& self);

  private:
    struct Call {
        std::map<Reference, Atom> waiting;  // monitor -> node, until it answers or goes down
        Replies replies;
        std::vector<Atom> bad;
        Done done;
    };
    std::map<Reference, Call> calls_;  // by tag
};

}  // namespace distribute::otp
