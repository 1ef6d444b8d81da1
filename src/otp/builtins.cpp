#include "otp/builtins.hpp"

#include <time.h>
#include <unistd.h>

#include <cstdio>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "node/runtime.hpp"
#include "otp/process_info.hpp"
#include "otp/services.hpp"
#include "version.hpp"  // generated in this layer's build directory

namespace distribute::otp {

namespace {

// The release whose distribution protocol this node follows and requires of every peer (OTP
// 26's mandatory flags, wire::required_of_peers).
constexpr std::string_view otp_release = "26";

struct Names {
    Atom erlang = Atom::make("erlang").value();
    Atom net_adm = Atom::make("net_adm").value();
    Atom node = Atom::make("node").value();
    Atom nodes = Atom::make("nodes").value();
    Atom registered = Atom::make("registered").value();
    Atom whereis = Atom::make("whereis").value();
    Atom is_alive = Atom::make("is_alive").value();
    Atom system_info = Atom::make("system_info").value();
    Atom statistics = Atom::make("statistics").value();
    Atom ping = Atom::make("ping").value();
    Atom pong = Atom::make("pong").value();
    Atom pang = Atom::make("pang").value();
    Atom visible = Atom::make("visible").value();
    Atom hidden = Atom::make("hidden").value();
    Atom connected = Atom::make("connected").value();
    Atom this_ = Atom::make("this").value();
    Atom known = Atom::make("known").value();
    Atom wall_clock = Atom::make("wall_clock").value();
    Atom runtime = Atom::make("runtime").value();
    Atom wordsize = Atom::make("wordsize").value();
    Atom internal = Atom::make("internal").value();
    Atom external = Atom::make("external").value();
    Atom error_info = Atom::make("error_info").value();
    Atom module = Atom::make("module").value();
    Atom erl_erts_errors = Atom::make("erl_erts_errors").value();
    Atom io = Atom::make("io").value();
    Atom input = Atom::make("input").value();
    Atom output = Atom::make("output").value();
    Atom memory = Atom::make("memory").value();
    Atom total = Atom::make("total").value();
    Atom distribute = Atom::make("distribute").value();
    Atom stats = Atom::make("stats").value();
};
const Names& names() {
    static const Names n;
    return n;
}

Term charlist_of(std::string_view text) {
    return charlist(text).value_or(Term());
}

// statistics/1 answers {Total, SinceLastCall} in milliseconds; the last call is the node's.
class Clocks {
  public:
    Term wall_clock() { return since(wall_ms(), last_wall_); }
    Term runtime() { return since(cpu_ms(), last_cpu_); }

  private:
    std::int64_t wall_ms() const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started_)
            .count();
    }
    static std::int64_t cpu_ms() {
        timespec t{};
        ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        return std::int64_t{t.tv_sec} * 1000 + t.tv_nsec / 1'000'000;
    }
    Term since(std::int64_t now, std::int64_t& last) {
        std::lock_guard lock(mutex_);
        const std::int64_t delta = now - last;
        last = now;
        return tuple(Term(now), Term(delta));
    }

    std::mutex mutex_;
    const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::int64_t last_wall_ = 0;
    std::int64_t last_cpu_ = 0;
};

}  // namespace

std::optional<std::int64_t> resident_bytes() {
    std::FILE* statm = std::fopen("/proc/self/statm", "r");
    if (!statm) return std::nullopt;
    long long size = 0, resident = 0;
    const bool read = std::fscanf(statm, "%lld %lld", &size, &resident) == 2;
    std::fclose(statm);
    if (!read) return std::nullopt;
    return static_cast<std::int64_t>(resident) * ::sysconf(_SC_PAGESIZE);
}

namespace {

Term count(std::uint64_t n) {
    return Term(static_cast<std::int64_t>(n));
}

}  // namespace

Unexpected<RpcRaise> bif_badarg(Atom function, std::span<const Term> args) {
    const Names& n = names();
    Term location = list(tuple(n.error_info, map({{Term(n.module), Term(n.erl_erts_errors)}})));
    return unexpected(RpcRaise{atoms::error, Term(atoms::badarg),
                               list(tuple(n.erlang, function, list_from(args), location))});
}

// For `distribute stats` and for Erlang code that asks a C++ node for its counters.
Term stats_to_term(const NodeStats& s) {
    auto key = [](std::string_view name) { return Term(Atom::make(name).value()); };
    std::vector<Term> connections;
    for (const ConnectionStats& c : s.connections)
        connections.push_back(
            map({{key("node"), Term(c.node)},
                 {key("address"), binary(c.address)},
                 {key("hidden"), Term(c.hidden)},
                 {key("messages_in"), count(c.messages_in)},
                 {key("messages_out"), count(c.messages_out)},
                 {key("bytes_in"), count(c.bytes_in)},
                 {key("bytes_out"), count(c.bytes_out)},
                 {key("ticks_in"), count(c.ticks_in)},
                 {key("ticks_out"), count(c.ticks_out)},
                 {key("queued_bytes"), count(c.queued_bytes)},
                 {key("busy_waits"), count(c.busy_waits)},
                 {key("reassembly_bytes"), count(c.reassembly_bytes)},
                 {key("since_last_received_ms"),
                  count(static_cast<std::uint64_t>(c.since_last_received.count()))}}));
    return map({{key("processes"), count(s.processes)},
                {key("registered_names"), count(s.registered_names)},
                {key("atoms"), count(s.atoms)},
                {key("dropped_messages"), count(s.dropped_messages)},
                {key("refused_handshakes"), count(s.refused_handshakes)},
                {key("bad_frames"), count(s.bad_frames)},
                {key("send_queue_overflows"), count(s.send_queue_overflows)},
                {key("messages_in"), count(s.messages_in)},
                {key("messages_out"), count(s.messages_out)},
                {key("bytes_in"), count(s.bytes_in)},
                {key("bytes_out"), count(s.bytes_out)},
                {key("connections"), list_from(connections)}});
}

namespace {

// nodes/1 takes one of these atoms or a list of them; the answer lists hidden nodes, then
// visible ones, then this node, as a BEAM does whatever the order asked.
std::optional<Term> nodes_of(node::Runtime& runtime, const Term& arg) {
    const Names& n = names();
    bool visible = false, hidden = false, self = false;
    auto take = [&](const Term& kind) {
        if (kind.is_atom(n.visible)) {
            visible = true;
        } else if (kind.is_atom(n.hidden)) {
            hidden = true;
        } else if (kind.is_atom(n.connected)) {
            visible = hidden = true;
        } else if (kind.is_atom(n.this_)) {
            self = true;
        } else if (kind.is_atom(n.known)) {
            visible = hidden = self = true;
        } else {
            return false;
        }
        return true;
    };
    if (arg.is_atom()) {
        if (!take(arg)) return std::nullopt;
    } else if (arg.is_proper_list()) {
        for (const Term& kind : arg.elements())
            if (!take(kind)) return std::nullopt;
    } else {
        return std::nullopt;
    }
    // A connection is hidden when either node is, and this node is hidden: every peer counts
    // as hidden here, whatever it is to others.
    std::vector<Term> out;
    for (const bool peer_hidden : {true, false}) {
        for (Atom peer : runtime.connected(peer_hidden)) {
            const bool counts_hidden = peer_hidden || runtime.hidden();
            if (counts_hidden ? hidden : visible) out.emplace_back(peer);
        }
    }
    if (self) out.emplace_back(runtime.name());
    return list_from(out);
}

std::optional<Term> system_info(node::Runtime& runtime, const Term& key) {
    const Names& n = names();
    const std::string_view version = DISTRIBUTE_LIBRARY_VERSION;
    const auto cores = std::max(1u, std::thread::hardware_concurrency());
    if (key.is_tuple(2) && key[0].is_atom(n.wordsize) &&
        (key[1].is_atom(n.internal) || key[1].is_atom(n.external)))
        return Term(static_cast<std::int64_t>(sizeof(void*)));
    const auto atom = key.to<Atom>();
    if (!atom) return std::nullopt;
    const std::string_view k = atom->name();
    if (k == "otp_release") return charlist_of(otp_release);
    if (k == "version") return charlist_of(version);
    if (k == "system_version")
        return charlist_of(
            "distribute " + std::string(version) + " (C++ node, OTP " + std::string(otp_release) +
            " distribution) [64-bit] [threads:" + std::to_string(runtime.thread_count()) + "]\n");
    if (k == "machine") return charlist_of("distribute");
    if (k == "wordsize") return Term(static_cast<std::int64_t>(sizeof(void*)));
    if (k == "creation") return Term(static_cast<std::int64_t>(runtime.creation()));
    if (k == "process_count") return Term(static_cast<std::int64_t>(runtime.process_count()));
    if (k == "atom_count") return Term(static_cast<std::int64_t>(AtomTable::size()));
    if (k == "atom_limit") return Term(static_cast<std::int64_t>(AtomTable::limit()));
    if (k == "schedulers" || k == "schedulers_online")
        return Term(static_cast<std::int64_t>(runtime.thread_count()));
    if (k == "logical_processors" || k == "logical_processors_online" ||
        k == "logical_processors_available")
        return Term(static_cast<std::int64_t>(cores));
    return std::nullopt;
}

}  // namespace

void register_builtins(node::Runtime& runtime, RpcRegistry& registry) {
    const Names& n = names();
    using RunOn = RpcRegistry::RunOn;
    // The functions live in the registry the runtime owns; a weak pointer keeps one that runs
    // while the node goes from touching it.
    std::weak_ptr<node::Runtime> weak = runtime.weak_from_this();
    auto on_node = [weak](auto body) {
        return [weak, body](std::span<const Term> args) -> RpcResult {
            auto runtime = weak.lock();
            if (!runtime) return rpc_exit(Term(atoms::shutdown));
            return body(*runtime, args);
        };
    };
    auto add = [&](Atom module, Atom function, std::size_t arity, auto body,
                   RunOn where = RunOn::node_thread) {
        registry.add(module, function, arity, on_node(body), where);
    };
    register_process_info(runtime, registry);

    add(n.erlang, n.node, 0,
        [](node::Runtime& r, std::span<const Term>) -> RpcResult { return Term(r.name()); });
    add(n.erlang, n.nodes, 0, [](node::Runtime& r, std::span<const Term>) -> RpcResult {
        return *nodes_of(r, Term(names().visible));
    });
    add(n.erlang, n.nodes, 1, [](node::Runtime& r, std::span<const Term> args) -> RpcResult {
        if (auto nodes = nodes_of(r, args[0])) return *nodes;
        return bif_badarg(names().nodes, args);
    });
    add(n.erlang, n.registered, 0, [](node::Runtime& r, std::span<const Term>) -> RpcResult {
        std::vector<Term> out;
        for (Atom name : r.registered())
            out.emplace_back(name);
        return list_from(out);
    });
    add(n.erlang, n.whereis, 1, [](node::Runtime& r, std::span<const Term> args) -> RpcResult {
        auto name = args[0].to<Atom>();
        if (!name) return bif_badarg(names().whereis, args);
        if (auto process = r.whereis(*name)) return Term(process->pid);
        return Term(atoms::undefined);
    });
    add(n.erlang, n.is_alive, 0,
        [](node::Runtime&, std::span<const Term>) -> RpcResult { return Term(true); });
    add(n.erlang, n.system_info, 1, [](node::Runtime& r, std::span<const Term> args) -> RpcResult {
        if (auto value = system_info(r, args[0])) return *value;
        return bif_badarg(names().system_info, args);
    });
    auto clocks = std::make_shared<Clocks>();
    add(n.erlang, n.statistics, 1,
        [clocks](node::Runtime& r, std::span<const Term> args) -> RpcResult {
            if (args[0].is_atom(names().wall_clock)) return clocks->wall_clock();
            if (args[0].is_atom(names().runtime)) return clocks->runtime();
            if (args[0].is_atom(names().io)) {
                // The BEAM counts the bytes of every port; here, of every distribution
                // connection since the node started.
                const auto [in, out] = r.io_bytes();
                return tuple(tuple(names().input, count(in)), tuple(names().output, count(out)));
            }
            return bif_badarg(names().statistics, args);
        });
    add(n.erlang, n.memory, 0, [](node::Runtime&, std::span<const Term> args) -> RpcResult {
        auto total = resident_bytes();
        if (!total) return bif_badarg(names().memory, args);
        return list(tuple(names().total, Term(*total)));
    });
    add(n.erlang, n.memory, 1, [](node::Runtime&, std::span<const Term> args) -> RpcResult {
        auto total = resident_bytes();
        if (!total || !args[0].is_atom(names().total)) return bif_badarg(names().memory, args);
        return Term(*total);
    });
    add(n.distribute, n.stats, 0, [](node::Runtime& r, std::span<const Term>) -> RpcResult {
        return stats_to_term(r.stats());
    });
    // A ping waits for the peer: on the worker pool, never on a node thread.
    add(
        n.net_adm, n.ping, 1,
        [](node::Runtime& r, std::span<const Term> args) -> RpcResult {
            auto node = args[0].to<Atom>();
            if (!node)
                return unexpected(
                    RpcRaise{atoms::error, Term(Atom::make("function_clause").value()),
                             list(tuple(names().net_adm, names().ping, list_from(args), Term()))});
            return Term(ping(r, *node, std::chrono::milliseconds(7000)) ? names().pong
                                                                        : names().pang);
        },
        RunOn::workers);
}

}  // namespace distribute::otp
