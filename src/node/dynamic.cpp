// This node's own dynamic name, as `erl -sname undefined` has one: the first node it connects to
// (NodeOptions::named_by) gives it a name and a creation in the handshake (DFLAG_NAME_ME and the
// `named:` status). Such a node neither listens nor registers with EPMD. Its pids carry the name,
// so it is taken before anything else starts; and since the node that gave it may give it to
// another node once the connection is gone, the name ends with that connection.
#include <future>

#include "node/runtime.hpp"
#include "wire/node_name.hpp"

namespace distribute::node {

Expected<void, NodeError> Runtime::ask_for_name() {
    auto namer = Atom::make(options_.named_by);
    if (!wire::NodeName::parse(options_.named_by) || !namer)
        return unexpected(NodeError{NodeErrc::bad_name, "named_by: '" + options_.named_by +
                                                            "' is not a node name (name@host)"});
    namer_ = *namer;
    auto done = std::make_shared<std::promise<Expected<void, NodeError>>>();
    auto answered = std::make_shared<std::atomic<bool>>(false);
    async_connect(namer_, [done, answered](Expected<void, NodeError> up) {
        if (!answered->exchange(true)) done->set_value(std::move(up));
    });
    // Reaching it (EPMD, TCP) and the handshake each have the setup time.
    auto future = done->get_future();
    if (future.wait_for(2 * options_.setup_timeout + std::chrono::seconds(1)) !=
        std::future_status::ready)
        return unexpected(
            NodeError{NodeErrc::timeout,
                      "cannot get a name from " + options_.named_by + ": no answer in time"});
    auto up = future.get();
    // Why the connection failed keeps its code (not_registered, wrong_cookie...).
    if (!up)
        return unexpected(NodeError{up.error().code, "cannot get a name from " + options_.named_by +
                                                         ": " + up.error().detail});
    if (name_ == Atom())
        return unexpected(
            NodeError{NodeErrc::connect_failed, "cannot get a name from " + options_.named_by +
                                                    ": it connected without naming this node"});
    return {};
}

void Runtime::lose_name(const std::string& reason) {
    // Never named: start() reports why, from the connection's failure.
    if (name_ == Atom() || stopped() || name_lost_.exchange(true)) return;
    log(LogLevel::error,
        "the connection to " + std::string(namer_.name()) +
            ", which gave this node its name, went down (" + reason +
            "): that node may give the name to another, so this node closes its connections and "
            "makes no new ones (a BEAM starts over without a name; start a new Node)");
    std::vector<std::shared_ptr<net::Session>> sessions;
    {
        std::shared_lock lock(connections_mutex_);
        for (auto& [atom, connection] : connections_)
            if (connection->session) sessions.push_back(connection->session);
    }
    for (auto& session : sessions)
        session->close("the node that named this node is gone");
}

}  // namespace distribute::node
