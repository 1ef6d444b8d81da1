// Node::stats: counters of the node and of each connection that is up.
#include "node/runtime.hpp"

namespace distribute::node {

namespace {

void add(net::SessionTraffic& total, const net::SessionTraffic& more) {
    total.messages_in += more.messages_in;
    total.messages_out += more.messages_out;
    total.bytes_in += more.bytes_in;
    total.bytes_out += more.bytes_out;
    total.ticks_in += more.ticks_in;
    total.ticks_out += more.ticks_out;
}

}  // namespace

void Runtime::retire_traffic(const net::Session& session) {
    const net::SessionTraffic traffic = session.traffic();
    std::lock_guard lock(retired_mutex_);
    add(retired_, traffic);
}

NodeStats Runtime::stats() const {
    NodeStats out;
    out.dropped_messages = dropped_.load();
    out.refused_handshakes = refused_.load();
    out.bad_frames = bad_frames_.load();
    out.send_queue_overflows = send_queue_overflows_.load();
    out.processes = processes_.size();
    out.registered_names = names_.all().size();
    out.atoms = AtomTable::size();

    std::vector<std::pair<std::shared_ptr<Connection>, std::shared_ptr<net::Session>>> up;
    net::SessionTraffic total;
    {
        // With the registry locked, a session that goes down is either still listed here or
        // already in retired_: counted once.
        std::shared_lock lock(connections_mutex_);
        {
            std::lock_guard retired_lock(retired_mutex_);
            total = retired_;
        }
        for (const auto& [atom, connection] : connections_) {
            std::lock_guard connection_lock(connection->mutex);
            if (connection->state == Connection::State::up && !connection->down &&
                connection->carrier)
                up.emplace_back(connection, connection->carrier);
        }
    }
    const auto now = std::chrono::steady_clock::now();
    for (const auto& [connection, session] : up) {
        const net::SessionTraffic t = session->traffic();
        add(total, t);
        ConnectionStats c;
        c.node = connection->peer;
        c.address = session->peer_address();
        {
            std::lock_guard lock(connection->mutex);
            c.hidden = connection->hidden;
        }
        c.messages_in = t.messages_in;
        c.messages_out = t.messages_out;
        c.bytes_in = t.bytes_in;
        c.bytes_out = t.bytes_out;
        c.ticks_in = t.ticks_in;
        c.ticks_out = t.ticks_out;
        c.queued_bytes = t.queued_bytes;
        c.busy_waits = t.busy_waits;
        c.reassembly_bytes = t.reassembly_bytes;
        c.since_last_received =
            std::chrono::duration_cast<std::chrono::milliseconds>(now - t.last_received);
        out.connections.push_back(std::move(c));
    }
    out.messages_in = total.messages_in;
    out.messages_out = total.messages_out;
    out.bytes_in = total.bytes_in;
    out.bytes_out = total.bytes_out;
    return out;
}

std::pair<std::uint64_t, std::uint64_t> Runtime::io_bytes() const {
    const NodeStats s = stats();
    return {s.bytes_in, s.bytes_out};
}

}  // namespace distribute::node
