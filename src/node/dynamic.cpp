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
    auto done = std::make_shared<std::promise<bool>>();
    auto answered = std::make_shared<std::atomic<bool>>(false);
    async_connect(namer_, [done, answered](bool up) {
        if (!answered->exchange(true)) done->set_value(up);
    });
    // Reaching it (EPMD, TCP) and the handshake each have the setup time.
    auto future = done->get_future();
    const bool up = future.wait_for(2 * options_.setup_timeout + std::chrono::seconds(1)) ==
                        std::future_status::ready &&
                    future.get();
    if (up && name_ != Atom()) return {};
    std::lock_guard lock(naming_mutex_);
    return unexpected(NodeError{
        NodeErrc::connect_failed,
        "cannot get a name from " + options_.named_by + ": " +
            (naming_failure_.empty() ? std::string("no answer in time") : naming_failure_)});
}

void Runtime::lose_name(const std::string& reason) {
    if (name_ == Atom()) {
        // Never named: start() reports why.
        std::lock_guard lock(naming_mutex_);
        naming_failure_ = reason;
        return;
    }
    if (stopped() || name_lost_.exchange(true)) return;
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
