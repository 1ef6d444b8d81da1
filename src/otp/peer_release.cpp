#include "otp/peer_release.hpp"

#include "node/connection.hpp"
#include "otp/erpc_async.hpp"
#include "otp/membership.hpp"

namespace distribute::otp {

namespace {

std::string failure(const RpcError& error) {
    std::string text = make_error_code(error.code).message();
    if (!error.reason.is_nil()) text += ": " + to_string(error.reason);
    return text;
}

}  // namespace

PeerReleases& PeerReleases::of(node::Runtime& runtime) {
    return Membership::of(runtime).peer_releases();
}

std::optional<std::uint64_t> PeerReleases::connection_up(Atom node) const {
    if (runtime_.peer_flags(node) == 0) return std::nullopt;
    auto connection = runtime_.existing_connection(node);
    if (!connection) return std::nullopt;
    return connection->id;
}

std::optional<PeerReleases::Answer> PeerReleases::known(Atom node) {
    const auto connection = connection_up(node);
    std::lock_guard lock(mutex_);
    auto it = entries_.find(node);
    if (it == entries_.end() || !connection || it->second.connection != *connection)
        return std::nullopt;
    return it->second.answer;
}

void PeerReleases::learn(Atom node, Done done) {
    const auto connection = connection_up(node);
    if (!connection) {
        done(unexpected(std::string("no connection")));
        return;
    }
    std::optional<Answer> answer;
    std::vector<Done> stale;  // waiting on a connection that is gone
    bool ask = false;
    {
        std::lock_guard lock(mutex_);
        Entry& entry = entries_[node];
        if (entry.connection != *connection) {
            stale = std::move(entry.waiting);
            entry = Entry{*connection, std::nullopt, {}};
        }
        answer = entry.answer;
        if (!answer) {
            entry.waiting.push_back(std::move(done));
            ask = entry.waiting.size() == 1;
        }
    }
    for (auto& waiter : stale)
        waiter(unexpected(std::string("the connection went down")));
    if (answer) {
        done(*answer);
        return;
    }
    if (!ask) return;
    static const Atom erlang = Atom::make("erlang").value();
    static const Atom system_info = Atom::make("system_info").value();
    static const Atom otp_release = Atom::make("otp_release").value();
    erpc_call_async(runtime_, node, erlang, system_info, {Term(otp_release)},
                    [this, node, asked = *connection](Expected<Term, RpcError> result) {
                        std::optional<std::string> release;
                        if (result) release = result->to<std::string>();
                        if (release) {
                            answered(node, asked, *release);
                            return;
                        }
                        const std::string why = result ? "not a release: " + to_string(*result)
                                                       : failure(result.error());
                        answered(node, asked, unexpected(why));
                    });
}

void PeerReleases::answered(Atom node, std::uint64_t connection, Answer answer) {
    std::vector<Done> waiting;
    {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(node);
        if (it != entries_.end() && it->second.connection == connection) {
            waiting = std::move(it->second.waiting);
            it->second.waiting.clear();
            // Kept until the connection goes down, failures too: a peer that serves no erpc
            // is not asked again on every request.
            it->second.answer = answer;
        }
    }
    for (auto& done : waiting)
        done(answer);
}

void PeerReleases::start() {
    subscription_ = runtime_.on_node_event([this](const NodeEvent& event) {
        if (event.up) return;
        // A later connection may be up already, and asked: its entry stays.
        const auto current = connection_up(event.node);
        std::vector<Done> waiting;
        {
            std::lock_guard lock(mutex_);
            auto it = entries_.find(event.node);
            if (it == entries_.end()) return;
            if (current && *current == it->second.connection) return;
            waiting = std::move(it->second.waiting);
            entries_.erase(it);
        }
        for (auto& done : waiting)
            done(unexpected("the connection went down (" + event.reason + ")"));
    });
}

void PeerReleases::stop() {
    if (subscription_ != 0) runtime_.unsubscribe(subscription_);
    subscription_ = 0;
}

}  // namespace distribute::otp
