#include "otp/process_info.hpp"

#include <algorithm>
#include <string_view>

#include "otp/builtins.hpp"

namespace distribute::otp {

namespace {

Atom atom(std::string_view name) {
    return Atom::make(name).value();
}

struct Names {
    Atom erlang = atom("erlang");
    Atom process_info = atom("process_info");
    Atom processes = atom("processes");
    Atom is_process_alive = atom("is_process_alive");
    Atom distribute = atom("distribute");
    Atom mailbox = atom("mailbox");
    Atom handler = atom("handler");
    Atom coroutine = atom("coroutine");
    Atom waiting = atom("waiting");
    Atom runnable = atom("runnable");
    Atom proc_lib = atom("proc_lib");
    Atom init_p = atom("init_p");
    Atom initial_call_key = atom("$initial_call");
    Atom registered_name = atom("registered_name");
    Atom status = atom("status");
    Atom message_queue_len = atom("message_queue_len");
    Atom links = atom("links");
    Atom monitors = atom("monitors");
    Atom monitored_by = atom("monitored_by");
    Atom trap_exit = atom("trap_exit");
    Atom current_function = atom("current_function");
    Atom initial_call = atom("initial_call");
    Atom dictionary = atom("dictionary");
    Atom memory = atom("memory");
    Atom reductions = atom("reductions");
    Atom priority = atom("priority");
    Atom normal = atom("normal");
};
const Names& names() {
    static const Names n;
    return n;
}

// Items OTP 25 to 29 know that a C++ process has no counterpart for: answered `undefined`.
bool beam_item_without_counterpart(Atom item) {
    static const std::vector<Atom> items = [] {
        std::vector<Atom> out;
        for (std::string_view name : {"backtrace",
                                      "binary",
                                      "catchlevel",
                                      "current_location",
                                      "current_stacktrace",
                                      "error_handler",
                                      "garbage_collection",
                                      "garbage_collection_info",
                                      "group_leader",
                                      "heap_size",
                                      "last_calls",
                                      "messages",
                                      "min_heap_size",
                                      "min_bin_vheap_size",
                                      "message_queue_data",
                                      "parent",
                                      "sequential_trace_token",
                                      "stack_size",
                                      "suspending",
                                      "total_heap_size",
                                      "trace",
                                      "async_dist",
                                      "label"})
            out.push_back(atom(name));
        return out;
    }();
    return std::find(items.begin(), items.end(), item) != items.end();
}

// A process started by no one who described it shows its kind.
Term kind_call(node::Process::Kind kind) {
    const Names& n = names();
    switch (kind) {
        case node::Process::Kind::mailbox:
            return tuple(n.distribute, n.mailbox, Term(std::int64_t{0}));
        case node::Process::Kind::handler:
            return tuple(n.distribute, n.handler, Term(std::int64_t{2}));
        case node::Process::Kind::coroutine:
            break;
    }
    return tuple(n.distribute, n.coroutine, Term(std::int64_t{0}));
}

// The runtime's structures for one process, in bytes (see the header): a hash-map entry is
// counted as 64 bytes, a queued message as its list node.
std::uint64_t footprint(const node::Process& p, std::size_t queued) {
    constexpr std::uint64_t table_entry = 64, map_entry = 64;
    std::uint64_t bytes = sizeof(node::Process) + table_entry + queued * (sizeof(Term) + 8);
    if (const auto* r = p.relations.get())
        bytes += sizeof(node::Relations) +
                 map_entry * (r->links.size() + r->monitors.size() + r->watchers.size() +
                              r->spawning.size() + r->names.size() + r->aliases.size() +
                              r->crossings.size());
    if (const auto* d = p.description.get())
        bytes += sizeof(node::Description) + d->dictionary.size() * 2 * sizeof(Term);
    return bytes;
}

}  // namespace

std::optional<ProcessSnapshot> snapshot(node::Process& p) {
    const Names& n = names();
    ProcessSnapshot s;
    s.pid = p.pid;
    std::lock_guard lock(p.mutex);
    if (!p.alive.load(std::memory_order_relaxed)) return std::nullopt;
    // `seen` is its consumer's; its length alone may be read from anywhere.
    s.message_queue_len = p.inbox.size() + p.seen.size();
    const bool busy = p.kind == node::Process::Kind::mailbox ? !p.inbox.empty() : p.scheduled;
    s.status = busy ? n.runnable : n.waiting;
    s.trap_exit = p.trap_exit;
    s.reductions = p.delivered;
    s.memory = footprint(p, s.message_queue_len);
    if (const auto* r = p.relations.get()) {
        if (!r->names.empty()) s.registered_name = r->names.front();
        for (const auto& [pid, state] : r->links)
            if (state.active) s.links.push_back(pid);
        for (const auto& [ref, held] : r->monitors) {
            s.monitors.push_back(
                std::holds_alternative<Pid>(held.target)
                    ? tuple(atoms::process, std::get<Pid>(held.target))
                    : tuple(atoms::process, tuple(std::get<Atom>(held.target), held.node)));
        }
        for (const auto& [ref, watcher] : r->watchers)
            s.monitored_by.push_back(watcher.watcher);
    }
    const Term by_kind = kind_call(p.kind);
    Term initial = by_kind, current;
    if (const auto* d = p.description.get()) {
        s.dictionary = d->dictionary;
        if (!d->initial_call.is_nil()) initial = d->initial_call;
        current = d->current_function;
        // As the BEAM shows a hibernating process.
        if (d->hibernating) current = tuple(n.erlang, atom("hibernate"), Term(std::int64_t{3}));
        // As a BEAM shows a proc_lib process: started through proc_lib:init_p, with the
        // function it runs in its dictionary.
        for (const auto& [key, value] : d->dictionary)
            if (key.is_atom(n.initial_call_key))
                initial = tuple(n.proc_lib, n.init_p, Term(std::int64_t{5}));
    }
    s.initial_call = initial;
    s.current_function = current.is_nil() ? (p.description && !p.description->initial_call.is_nil()
                                                 ? p.description->initial_call
                                                 : by_kind)
                                          : current;
    return s;
}

std::vector<std::shared_ptr<node::Process>> processes_in_order(node::Runtime& runtime) {
    auto all = runtime.processes();
    std::erase_if(all, [](const auto& p) { return !p->alive.load(std::memory_order_relaxed); });
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
        return std::pair(a->pid.serial, a->pid.id) < std::pair(b->pid.serial, b->pid.id);
    });
    return all;
}

namespace {

Term count(std::uint64_t n) {
    return Term(static_cast<std::int64_t>(n));
}

Term pids(const std::vector<Pid>& list) {
    std::vector<Term> out(list.begin(), list.end());
    return list_from(out);
}

// The value of `item` (an atom the BEAM knows, or {dictionary, Key}); nullopt when it is none.
std::optional<Term> item_value(const ProcessSnapshot& s, const Term& item) {
    const Names& n = names();
    if (item.is_tuple(2) && item[0].is_atom(n.dictionary)) {  // OTP 26's {dictionary, Key}
        for (const auto& [key, value] : s.dictionary)
            if (key == item[1]) return value;
        return Term(atoms::undefined);
    }
    const auto a = item.to<Atom>();
    if (!a) return std::nullopt;
    if (*a == n.registered_name)
        return s.registered_name ? Term(*s.registered_name) : Term();  // [] when it has none
    if (*a == n.status) return Term(s.status);
    if (*a == n.message_queue_len) return count(s.message_queue_len);
    if (*a == n.links) return pids(s.links);
    if (*a == n.monitors) return list_from(s.monitors);
    if (*a == n.monitored_by) return pids(s.monitored_by);
    if (*a == n.trap_exit) return Term(s.trap_exit);
    if (*a == n.current_function) return s.current_function;
    if (*a == n.initial_call) return s.initial_call;
    if (*a == n.memory) return count(s.memory);
    if (*a == n.reductions) return count(s.reductions);
    if (*a == n.priority) return Term(n.normal);
    if (*a == n.dictionary) {
        std::vector<Term> entries;
        for (const auto& [key, value] : s.dictionary)
            entries.push_back(tuple(key, value));
        return list_from(entries);
    }
    if (beam_item_without_counterpart(*a)) return Term(atoms::undefined);
    return std::nullopt;
}

// process_info/1's items, in the BEAM's order, of those a C++ process has.
Term all_items(const ProcessSnapshot& s) {
    const Names& n = names();
    std::vector<Term> out;
    if (s.registered_name) out.push_back(tuple(n.registered_name, *s.registered_name));
    for (Atom item : {n.current_function, n.initial_call, n.status, n.message_queue_len, n.links,
                      n.dictionary, n.trap_exit, n.priority, n.reductions})
        out.push_back(tuple(item, *item_value(s, Term(item))));
    return list_from(out);
}

}  // namespace

void register_process_info(node::Runtime& runtime, RpcRegistry& registry) {
    const Names& n = names();
    std::weak_ptr<node::Runtime> weak = runtime.weak_from_this();
    auto add = [&](Atom function, std::size_t arity, auto body) {
        registry.add(
            n.erlang, function, arity,
            [weak, body](std::span<const Term> args) -> RpcResult {
                auto r = weak.lock();
                if (!r) return rpc_exit(Term(atoms::shutdown));
                return body(*r, args);
            },
            RpcRegistry::RunOn::node_thread);
    };

    add(n.processes, 0, [](node::Runtime& r, std::span<const Term>) -> RpcResult {
        std::vector<Term> out;
        for (const auto& p : processes_in_order(r))
            out.emplace_back(p->pid);
        return list_from(out);
    });
    add(n.is_process_alive, 1, [](node::Runtime& r, std::span<const Term> args) -> RpcResult {
        const auto pid = args[0].to<Pid>();
        if (!pid || !r.is_local(pid->node)) return bif_badarg(names().is_process_alive, args);
        auto p = r.find(*pid);
        return Term(p && p->alive.load(std::memory_order_relaxed));
    });
    add(n.process_info, 1, [](node::Runtime& r, std::span<const Term> args) -> RpcResult {
        const auto pid = args[0].to<Pid>();
        if (!pid || !r.is_local(pid->node)) return bif_badarg(names().process_info, args);
        auto p = r.find(*pid);
        auto s = p ? snapshot(*p) : std::nullopt;
        if (!s) return Term(atoms::undefined);
        return all_items(*s);
    });
    add(n.process_info, 2, [](node::Runtime& r, std::span<const Term> args) -> RpcResult {
        const auto pid = args[0].to<Pid>();
        if (!pid || !r.is_local(pid->node)) return bif_badarg(names().process_info, args);
        const Term& asked = args[1];
        const bool one = !asked.is_list();
        if (!one && !asked.is_proper_list()) return bif_badarg(names().process_info, args);
        // Every item is checked before the process is looked at: a bad one is badarg even
        // for a process that has ended, as on a BEAM.
        const ProcessSnapshot probe{};
        for (const Term& item : one ? std::span<const Term>(&asked, 1) : asked.elements())
            if (!item_value(probe, item)) return bif_badarg(names().process_info, args);
        auto p = r.find(*pid);
        auto s = p ? snapshot(*p) : std::nullopt;
        if (!s) return Term(atoms::undefined);
        if (one) {
            // The one item the BEAM answers bare: [] for a process without a name.
            if (asked.is_atom(names().registered_name) && !s->registered_name) return Term();
            return tuple(asked, *item_value(*s, asked));
        }
        std::vector<Term> out;
        for (const Term& item : asked.elements())
            out.push_back(tuple(item, *item_value(*s, item)));
        return list_from(out);
    });
}

}  // namespace distribute::otp
