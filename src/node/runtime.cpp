// Start-up and shutdown of a node, its settings for sessions, and its small shared services
// (references, names, cookies, log lines, statistics).
#include "node/runtime.hpp"

#include <sodium.h>

#include <algorithm>
#include <future>

#include "net/io_thread.hpp"
#include "node/environment.hpp"
#include "wire/flags.hpp"
#include "wire/node_name.hpp"

namespace distribute::node {

namespace {
NodeError error(NodeErrc code, std::string detail) {
    return {code, std::move(detail)};
}

// The node that the calling thread runs, on a node thread, and which of its io_contexts.
thread_local const Runtime* home_runtime = nullptr;
thread_local std::size_t home_index = 0;

// Concurrency hint 1: each context is run by one thread, so asio hands what a handler queues to
// that same thread and wakes no other.
std::vector<std::unique_ptr<asio::io_context>> make_contexts(unsigned threads) {
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    for (unsigned i = 0; i < std::max(1u, threads); ++i) {
        contexts.push_back(std::make_unique<asio::io_context>(1));
        // A first timer makes the context open its reactor's descriptors (epoll, eventfd,
        // timerfd) now rather than with its first connection, so that the node's descriptor
        // count does not grow once it is up.
        asio::steady_timer opens_reactor(*contexts.back());
    }
    return contexts;
}
}  // namespace

bool on_node_thread() {
    return net::on_io_thread();
}

Runtime::Runtime(NodeOptions options)
    : options_(std::move(options)),
      contexts_(
          make_contexts(options_.threads ? options_.threads : std::thread::hardware_concurrency())),
      limits_(options_.limits) {
    for (std::size_t i = 0; i < contexts_.size(); ++i)
        context_tokens_.push_back(std::make_shared<int>(0));
}

Runtime::~Runtime() {
    stop();
}

Expected<std::shared_ptr<Runtime>, NodeError> Runtime::start(
    NodeOptions options, const ServicesStarter& start_services) {
    auto runtime = std::make_shared<Runtime>(std::move(options));
    if (auto booted = runtime->boot(start_services); !booted) {
        runtime->stop();
        return unexpected(booted.error());
    }
    return runtime;
}

Expected<void, NodeError> Runtime::boot(const ServicesStarter& start_services) {
    if (sodium_init() < 0)
        return unexpected(error(NodeErrc::no_cookie, "libsodium failed to start"));

    std::string full = options_.name;
    if (full.find('@') == std::string::npos) {
        auto host = local_host_name(options_.long_names);
        if (!host) return unexpected(std::move(host).error());
        full += "@" + *host;
    }
    auto parsed = wire::NodeName::parse(full);
    if (!parsed) return unexpected(error(NodeErrc::bad_name, parsed.error()));
    // As erl -sname undefined: the name comes from the first node this one connects to.
    dynamic_name_ = parsed->alive == "undefined";
    if (dynamic_name_) {
        if (options_.named_by.empty())
            return unexpected(error(NodeErrc::bad_name,
                                    "the name 'undefined' asks for a dynamic name: "
                                    "NodeOptions::named_by must say which node gives it"));
        dynamic_host_ = parsed->host;
        // It cannot be reached by name (it does not listen), so it takes no part in global or
        // pg, whose peers connect to every member.
        options_.hidden = true;
    } else {
        auto atom = Atom::make(full);
        if (!atom) return unexpected(error(NodeErrc::bad_name, "'" + full + "' cannot be an atom"));
        name_ = *atom;
    }

    cookie_ = options_.cookie;
    std::string default_cookie_path;  // set when the cookie came from a default location
    if (cookie_.empty()) {
        auto file = options_.cookie_file.empty() ? default_cookie_file()
                                                 : read_cookie_file(options_.cookie_file);
        if (!file) return unexpected(file.error());
        cookie_ = std::move(file->cookie);
        if (options_.cookie_file.empty()) default_cookie_path = file->path;
        if (file->created)
            log(LogLevel::warning,
                "created " + file->path +
                    " with a new random cookie: the nodes this one talks to need the same cookie");
    }
    ref_salt_ = randombytes_random();
    if (auto prepared = prepare_crypto(); !prepared) return unexpected(prepared.error());

    // Each thread keeps the runtime alive until it leaves run(): a node stopped from one of its
    // own threads is destroyed, at the latest, when that thread is done with it.
    for (std::size_t i = 0; i < contexts_.size(); ++i) {
        work_.push_back(asio::make_work_guard(*contexts_[i]));
        threads_.emplace_back([self = shared_from_this(), i] {
            net::mark_io_thread();
            home_runtime = self.get();
            home_index = i;
            self->contexts_[i]->run();
            if (self->stopped_by_ == std::this_thread::get_id()) self->run_what_is_left();
        });
    }
    epmd_client_ = std::make_unique<EpmdClient>(io(), options_.epmd);

    if (dynamic_name_) {
        if (auto named = ask_for_name(); !named) return named;
    } else if (options_.dist_listen) {
        if (auto listening = listen_and_register(parsed->alive, default_cookie_path); !listening)
            return listening;
    } else {
        // As erl -dist_listen false: no EPMD registration to hand out a creation, so a random
        // one, as net_kernel picks it. Peers cannot dial it, so it is hidden, as -dist_listen
        // false implies -hidden: global and pg peers connect to every member.
        creation_ = wrap_creation(randombytes_random());
        options_.hidden = true;
    }

    if (start_services) start_services(*this);
    if (acceptor_) acceptor_->start([this](tcp::socket socket) { accept(std::move(socket)); });
    log(LogLevel::info, "node " + std::string(name_.name()) + " up " +
                            (acceptor_       ? "on port " + std::to_string(acceptor_->port())
                             : dynamic_name_ ? "with a name from " + options_.named_by
                                             : std::string("without listening")) +
                            " (creation " + std::to_string(creation_) + ")");
    return {};
}

void Runtime::stop() {
    if (stopped_.exchange(true)) return;
    if (services_) services_->stop();
    if (spawn_service_) spawn_service_->stop();
    if (acceptor_) acceptor_->close();
    if (registration_) registration_->close();
    std::vector<std::shared_ptr<net::Session>> sessions;
    std::vector<std::shared_ptr<Connection>> connections;
    {
        std::unique_lock lock(connections_mutex_);
        for (auto& [atom, connection] : connections_) {
            connections.push_back(connection);
            if (connection->session) sessions.push_back(connection->session);
        }
        for (auto& [key, pending] : handshaking_)
            sessions.push_back(pending.session);
    }
    // Down before the processes end, so that their exits and DOWNs do not go out as signals:
    // peers see the node go as a lost connection (noconnection), as when a BEAM node halts, not
    // as every process exiting with shutdown.
    for (auto& connection : connections)
        for (auto& waiter : connection->take_waiters())
            waiter(false);
    for (auto& s : sessions)
        s->close("node stopping");
    for (auto& process : processes_.all())
        terminate(process, Term(atoms::shutdown));
    if (epmd_server_) epmd_server_->stop();
    // Stopped from one of the node's own threads (a handler stopping the node), nothing queued
    // behind this handler can run while it waits: skip the waits, the threads finish later.
    const bool own_thread = std::any_of(threads_.begin(), threads_.end(), [](const auto& t) {
        return t.get_id() == std::this_thread::get_id();
    });
    if (!threads_.empty() && !own_thread) {
        // The sessions close on their strands. Wait for that before stopping the threads:
        // stopped first, a socket stays open and its peer takes the node for alive until its
        // tick timeout. on_end signals each one that goes.
        auto ended = [&] {
            for (auto& s : sessions) {
                if (handshaking_.contains(s.get())) return false;
                for (auto& [atom, connection] : connections_)
                    if (connection->session == s) return false;
            }
            return true;
        };
        {
            std::shared_lock lock(connections_mutex_);
            sessions_ended_.wait_for(lock, std::chrono::seconds(2), ended);
        }
        // What else is queued runs (the threads keep running while the work guard is held);
        // what is left after that is stopped.
        // Shared with the handlers: one that has not run by the deadline may run later (in
        // run_what_is_left), after this block.
        auto drained = std::make_shared<std::vector<std::promise<void>>>(contexts_.size());
        for (std::size_t i = 0; i < contexts_.size(); ++i)
            asio::post(*contexts_[i], [drained, i] { (*drained)[i].set_value(); });
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        for (auto& each : *drained)
            each.get_future().wait_until(deadline);
    }
    if (own_thread) stopped_by_ = std::this_thread::get_id();
    work_.clear();
    for (auto& context : contexts_)
        context->stop();
    for (auto& t : threads_) {
        // Stopped from one of its own threads (a handler stopping the node): that one finishes
        // on its own once the handler returns.
        if (t.get_id() == std::this_thread::get_id())
            t.detach();
        else if (t.joinable())
            t.join();
    }
    // The final turns of the processes just ended (a coroutine's frame goes in its turn) run
    // now, on the one thread left: this one, or the node thread that stopped the node.
    if (!threads_.empty() && !own_thread) run_what_is_left();
    threads_.clear();
    registration_.reset();
    epmd_server_.reset();
    {
        std::lock_guard lock(stop_wait_mutex_);
        stop_done_ = true;
    }
    stop_wait_.notify_all();
}

void Runtime::wait_stopped(const std::function<bool()>& also) {
    std::unique_lock lock(stop_wait_mutex_);
    stop_wait_.wait(lock, [&] { return stop_done_ || also(); });
}

void Runtime::wake_waiters() {
    { std::lock_guard lock(stop_wait_mutex_); }
    stop_wait_.notify_all();
}

void Runtime::run_what_is_left() {
    // A handler run on one context may queue more on another: round after round until a round
    // runs nothing.
    for (std::size_t ran = 1; ran != 0;) {
        ran = 0;
        for (auto& context : contexts_) {
            context->restart();
            ran += context->poll();
        }
    }
}

asio::io_context& Runtime::work_context() {
    if (home_runtime == this) return *contexts_[home_index];
    return *contexts_[next_context_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

asio::io_context& Runtime::other_context() {
    if (home_runtime != this || contexts_.size() == 1) return work_context();
    const std::size_t others = contexts_.size() - 1;
    const std::size_t step = 1 + next_context_.fetch_add(1, std::memory_order_relaxed) % others;
    return *contexts_[(home_index + step) % contexts_.size()];
}

Runtime::ConnectionContext Runtime::connection_context() {
    // Read without a lock, a use count may be a moment old: good enough to spread connections.
    // From the last: on a tie the first context, which also carries the timers and EPMD, is
    // picked last.
    std::size_t least = contexts_.size() - 1;
    for (std::size_t i = least; i-- > 0;)
        if (context_tokens_[i].use_count() < context_tokens_[least].use_count()) least = i;
    return {contexts_[least].get(), context_tokens_[least]};
}

void Runtime::log(LogLevel level, const std::string& line) const {
    if (options_.log) options_.log(level, line);
}

std::string Runtime::cookie_for(const std::string& peer) const {
    std::lock_guard lock(cookies_mutex_);
    auto it = peer_cookies_.find(peer);
    return it == peer_cookies_.end() ? cookie_ : it->second;
}

void Runtime::set_cookie(Atom node, std::string cookie) {
    std::lock_guard lock(cookies_mutex_);
    peer_cookies_[std::string(node.name())] = std::move(cookie);
}

net::SessionSettings Runtime::session_settings() const {
    net::SessionSettings s;
    // Not named yet (a dynamic name): ask the peer for one, sending only our host.
    s.handshake.ask_for_name = dynamic_name_ && name_ == Atom();
    s.handshake.node_name = s.handshake.ask_for_name ? dynamic_host_ : std::string(name_.name());
    s.handshake.creation = creation_;
    s.handshake.offered_flags = wire::offered | (options_.hidden ? 0 : wire::flag::published);
    s.handshake.required_flags = wire::required_of_peers;
    auto self = weak_from_this();
    s.handshake.cookie_for = [self](const std::string& peer) {
        auto runtime = self.lock();
        return runtime ? runtime->cookie_for(peer) : std::string();
    };
    s.handshake.random_challenge = [] { return randombytes_random(); };
    s.handshake_timeout = options_.setup_timeout;
    s.tick_interval =
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.net_ticktime) / 4;
    s.tick_intervals = 4;
    const auto current = limits();
    s.max_frame_bytes = current.max_frame_bytes;
    s.busy_limit = current.busy_limit;
    s.max_send_queue_bytes = current.max_send_queue_bytes;
    s.reassembly.max_bytes = current.max_reassembly_bytes;
    s.max_new_atoms = current.max_new_atoms_per_connection;
    s.atom_cache = options_.atom_cache;
    return s;
}

NodeLimits Runtime::limits() const {
    std::lock_guard lock(limits_mutex_);
    return limits_;
}

void Runtime::set_limits(const NodeLimits& limits) {
    std::lock_guard lock(limits_mutex_);
    limits_ = limits;
}

Reference Runtime::make_ref() {
    const std::uint64_t n = next_ref_.fetch_add(1, std::memory_order_relaxed);
    Reference r;
    r.node = name_;
    r.creation = creation_;
    r.size = 3;
    r.words = {static_cast<std::uint32_t>(n & 0x3FFFF), static_cast<std::uint32_t>(n >> 18),
               ref_salt_, 0, 0};
    return r;
}

Expected<void, NodeError> Runtime::register_name(Atom name, const Pid& pid) {
    auto process = find(pid);
    if (!process) return unexpected(error(NodeErrc::not_alive, "no such process"));
    std::unique_lock lock(process->mutex);
    if (!process->alive) return unexpected(error(NodeErrc::not_alive, "the process has exited"));
    if (!names_.add(name, process))
        return unexpected(error(NodeErrc::name_taken, std::string(name.name()) + " is taken"));
    process->related().names.push_back(name);
    lock.unlock();
    std::vector<std::function<void(const Pid&)>> watchers;
    {
        std::lock_guard watches(name_watches_mutex_);
        auto [first, last] = name_watches_.equal_range(name.index());
        for (auto it = first; it != last; ++it)
            watchers.push_back(std::move(it->second.second));
        name_watches_.erase(first, last);
    }
    for (auto& watcher : watchers)
        watcher(pid);
    return {};
}

std::uint64_t Runtime::watch_name(Atom name, std::function<void(const Pid&)> callback) {
    std::lock_guard lock(name_watches_mutex_);
    const std::uint64_t id = next_name_watch_++;
    name_watches_.emplace(name.index(), std::make_pair(id, std::move(callback)));
    return id;
}

void Runtime::unwatch_name(std::uint64_t id) {
    std::lock_guard lock(name_watches_mutex_);
    std::erase_if(name_watches_, [id](const auto& entry) { return entry.second.first == id; });
}

bool Runtime::unregister_name(Atom name) {
    auto process = names_.find(name);
    if (!process) return false;
    std::lock_guard lock(process->mutex);
    if (process->relations) std::erase(process->relations->names, name);
    return names_.remove(name, process.get());
}

Reference Runtime::make_alias(Process& owner, bool priority) {
    Reference alias = make_ref();
    // In the table first: a process that ends meanwhile then finds it there to take out.
    aliases_.add(alias, owner.shared_from_this(), priority);
    std::lock_guard lock(owner.mutex);
    if (owner.alive)
        owner.related().aliases.push_back(alias);
    else
        aliases_.remove(alias);
    return alias;
}

bool Runtime::remove_alias(Process& owner, const Reference& alias) {
    {
        std::lock_guard lock(owner.mutex);
        if (!owner.relations || std::erase(owner.relations->aliases, alias) == 0) return false;
    }
    return aliases_.remove(alias);
}

}  // namespace distribute::node
