// Handshakes that peers start: admission by source address, the status a peer that names itself
// gets (the simultaneous-connect and replace-alive rules of net_kernel), and names for peers
// that ask for one (DFLAG_NAME_ME), pooled for reuse as net_kernel pools them.
#include <sodium.h>

#include "node/runtime.hpp"

namespace distribute::node {

namespace {

// As integer_to_list(N, 36): digits and capital letters.
std::string base36(std::uint64_t n) {
    static constexpr char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    std::string out;
    do {
        out.insert(out.begin(), digits[n % 36]);
        n /= 36;
    } while (n != 0);
    return out;
}

}  // namespace

std::uint32_t wrap_creation(std::uint64_t creation) {
    const auto c = static_cast<std::uint32_t>(creation);
    return c >= 4 ? c : c + 4;
}

void Runtime::accept(tcp::socket socket) {
    boost::system::error_code e;
    const auto endpoint = socket.remote_endpoint(e);
    const std::string address =
        e ? std::string("?") : net::unmapped(endpoint.address()).to_string();
    bool first_refusal = false;
    const std::size_t limit = limits().max_handshakes_per_address;
    {
        std::unique_lock lock(connections_mutex_);
        if (stopped()) return;
        auto& from = handshakes_from_[address];
        if (from.count < limit) {
            ++from.count;
            from.warned = false;
            lock.unlock();
            auto context = connection_context();
            auto moved = net::move_socket(std::move(socket), *context.io);
            if (!moved)
                return on_accepted(address, context,
                                   unexpected("cannot move its socket: " + moved.error()));
            // The first bytes tell a plaintext peer (a BEAM) from an encrypted one; the crypto
            // mode says which it lets in.
            net::async_secure_accept(*context.io, std::move(*moved), accept_policy(),
                                     [self = shared_from_this(), address, context](auto transport) {
                                         self->on_accepted(address, context, std::move(transport));
                                     });
            return;
        }
        first_refusal = !from.warned;
        from.warned = true;
    }
    // Refused before a byte is read: what this address sends cannot hold up anybody else.
    socket.close(e);
    refused_.fetch_add(1, std::memory_order_relaxed);
    log(first_refusal ? LogLevel::warning : LogLevel::debug,
        "refused a connection from " + address + ": " + std::to_string(limit) +
            " handshakes from that address are in progress already");
}

void Runtime::on_accepted(const std::string& address, const ConnectionContext& context,
                          Expected<std::unique_ptr<net::Transport>, std::string> transport) {
    std::shared_ptr<net::Session> session;
    {
        std::unique_lock lock(connections_mutex_);
        if (transport && !stopped()) {
            session = std::make_shared<net::Session>(*context.io, std::move(*transport),
                                                     session_settings(), *this, std::string());
            session->context_token = context.token;
            handshaking_.emplace(session.get(), PendingHandshake{session, address});
        } else {
            release_admission(address);
        }
    }
    sessions_ended_.notify_all();
    if (session) return session->start();
    if (transport) return (*transport)->close();
    refused_.fetch_add(1, std::memory_order_relaxed);
    log(LogLevel::warning, "refused a connection from " + address + ": " + transport.error());
}

void Runtime::release_admission(const std::string& address) {
    if (auto from = handshakes_from_.find(address); from != handshakes_from_.end())
        if (--from->second.count == 0) handshakes_from_.erase(from);
}

std::shared_ptr<net::Session> Runtime::release_handshake(const net::Session& session) {
    auto it = handshaking_.find(&session);
    if (it == handshaking_.end()) return nullptr;
    auto owned = std::move(it->second.session);
    release_admission(it->second.address);
    handshaking_.erase(it);
    return owned;
}

wire::HandshakeStatus Runtime::on_peer_named(net::Session& session) {
    const auto& peer = session.peer();
    if (peer.wants_name) {
        const std::string host = peer.name;
        std::unique_lock lock(connections_mutex_);
        if (stopped()) return wire::HandshakeStatus::not_allowed;
        auto given = give_dynamic_name(host);
        if (!given) return wire::HandshakeStatus::not_allowed;
        auto connection = std::make_shared<Connection>(given->first, next_connection_id_++);
        connection->session = release_handshake(session);
        connection->named_by_us = true;
        connection->given_creation = given->second;
        connections_[given->first.index()] = connection;
        session.peer_node = given->first;
        session.connection_id = connection->id;
        session.assign_peer_name(std::string(given->first.name()), given->second);
        lock.unlock();
        log(LogLevel::debug,
            "gave a peer on " + peer.name + " the name " + std::string(given->first.name()));
        return wire::HandshakeStatus::named;
    }
    auto atom = Atom::make(peer.name);
    if (!atom || is_local(*atom)) return wire::HandshakeStatus::not_allowed;
    if (!key_fits_name(session)) {
        log(LogLevel::warning, "refused " + peer.name + " (" + session.peer_address() +
                                   "): its encrypted transport proved a key that is not the one "
                                   "pinned for that name");
        return wire::HandshakeStatus::not_allowed;
    }
    session.peer_node = *atom;
    std::shared_ptr<net::Session> superseded;
    wire::HandshakeStatus status = wire::HandshakeStatus::ok;
    {
        std::unique_lock lock(connections_mutex_);
        if (stopped()) return wire::HandshakeStatus::not_allowed;
        auto& slot = connections_[atom->index()];
        if (!slot) {
            slot = std::make_shared<Connection>(*atom, next_connection_id_++);
            slot->session = release_handshake(session);
            session.connection_id = slot->id;
        } else {
            std::unique_lock state(slot->mutex);
            const bool up = slot->state == Connection::State::up;
            state.unlock();
            if (up) {
                // The peer thinks its old connection is dead; it says whether to replace it.
                // Until then the session stays among the handshakes in progress.
                status = wire::HandshakeStatus::alive;
                session.connection_id = 0;
            } else if (name_.name() > atom->name()) {
                // Pending already (our own dial, or an earlier handshake from the peer), and our
                // name is greater: that one is kept.
                status = wire::HandshakeStatus::nok;
            } else {
                // The peer's name is greater: this handshake takes the pending one's place,
                // whichever side started that one, as net_kernel replaces a pending owner.
                status = wire::HandshakeStatus::ok_simultaneous;
                superseded = slot->session;
                if (superseded) superseded->carrying.store(false);
                slot->dialling = false;
                slot->session = release_handshake(session);
                session.connection_id = slot->id;
            }
        }
    }
    if (superseded) superseded->close("simultaneous connect: a newer attempt of the peer is kept");
    return status;
}

std::optional<std::pair<Atom, std::uint32_t>> Runtime::give_dynamic_name(const std::string& host) {
    if (auto pool = free_names_.find(host); pool != free_names_.end()) {
        while (!pool->second.empty()) {
            auto name = pool->second.back();
            pool->second.pop_back();
            if (!connections_.contains(name.first.index())) return name;
        }
        free_names_.erase(pool);
    }
    for (int attempt = 0; attempt < 8; ++attempt) {
        std::uint64_t number = 0;
        randombytes_buf(&number, sizeof number);
        auto atom = Atom::make(base36(number) + "@" + host);
        if (!atom) return std::nullopt;  // a host too long for an atom
        if (connections_.contains(atom->index()) || is_local(*atom)) continue;
        return std::pair{*atom, wrap_creation(randombytes_random())};
    }
    return std::nullopt;
}

void Runtime::recycle_dynamic_name(const Connection& connection) {
    if (!connection.named_by_us) return;
    const std::string_view name = connection.peer.name();
    const std::string host(name.substr(name.find('@') + 1));
    // The next incarnation: pids of the one that went stay told apart from the new one's.
    free_names_[host].emplace_back(connection.peer,
                                   wrap_creation(std::uint64_t{connection.given_creation} + 1));
}

}  // namespace distribute::node
