#include "otp/etop_backend.hpp"

#include <chrono>
#include <string_view>

#include "node/access.hpp"
#include "otp/builtins.hpp"
#include "otp/process_info.hpp"
#include "otp/rpc_server.hpp"
#include "version.hpp"  // generated in this layer's build directory

namespace distribute::otp {

namespace {

Atom atom(std::string_view name) {
    return Atom::make(name).value();
}

Term count(std::uint64_t n) {
    return Term(static_cast<std::int64_t>(n));
}

// erlang:timestamp(): {MegaSecs, Secs, MicroSecs} of the wall clock.
Term timestamp() {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    return tuple(Term(std::int64_t{us / 1'000'000'000'000}),
                 Term(std::int64_t{us / 1'000'000 % 1'000'000}),
                 Term(std::int64_t{us % 1'000'000}));
}

// #etop_proc_info{pid, mem, reds, name, runtime = 0, cf, mq}. The name is the registered one,
// else the initial call (for a proc_lib one, the '$initial_call' it keeps, as
// proc_lib:translate_initial_call gives it).
Term proc_info(const ProcessSnapshot& s) {
    static const Atom record = atom("etop_proc_info");
    static const Atom initial_call_key = atom("$initial_call");
    Term name = s.initial_call;
    for (const auto& [key, value] : s.dictionary)
        if (key.is_atom(initial_call_key)) name = value;
    if (s.registered_name) name = Term(*s.registered_name);
    return tuple(record, s.pid, count(s.memory), count(s.reductions), name, Term(std::int64_t{0}),
                 s.current_function, count(s.message_queue_len));
}

// What observer_backend:etop_collect/1 sends: {self(), #etop_info{now, n_procs, wall_clock,
// runtime, run_queue, alloc_areas, memi, procinfo}}. runtime (scheduler wall time) is
// undefined, so etop shows cpu 0; memory types the BEAM has and a C++ node has not are 0.
void etop_collect(const ProcessHandle& self, std::span<const Term> args) {
    const auto collector = args[0].to<Pid>();
    if (!collector) return;
    auto& runtime = node::Access::process(self).runtime;
    std::vector<Term> procs;
    std::uint64_t process_bytes = 0;
    for (const auto& p : processes_in_order(runtime)) {
        if (p->pid == self.pid()) continue;  // as etop_collect leaves itself out
        auto s = snapshot(*p);
        if (!s) continue;
        process_bytes += s->memory;
        procs.push_back(proc_info(*s));
    }
    auto memory_of = [](std::string_view type, std::uint64_t bytes) {
        return tuple(atom(type), count(bytes));
    };
    const Term memi = list(memory_of("total", resident_bytes().value_or(0)),
                           memory_of("processes", process_bytes), memory_of("ets", 0),
                           memory_of("atom", 0), memory_of("code", 0), memory_of("binary", 0));
    const Term info =
        tuple(atom("etop_info"), timestamp(), count(procs.size()), atoms::undefined,
              atoms::undefined, Term(std::int64_t{0}), Term(), memi, list_from(procs));
    self.send(*collector, tuple(self.pid(), info));
}

}  // namespace

void register_etop_backend(RpcServer& server) {
    const Atom observer_backend = atom("observer_backend");
    server.registry().add(
        observer_backend, atom("vsn"), 0,
        [](std::span<const Term>) -> RpcResult {
            return tuple(
                atoms::ok,
                charlist(std::string("distribute-") + DISTRIBUTE_LIBRARY_VERSION).value_or(Term()));
        },
        RpcRegistry::RunOn::node_thread);
    server.add_spawnable(observer_backend, atom("etop_collect"), 1, etop_collect);
    // The GUI's calls: a reason that says why, rather than undef.
    const Term why = tuple(atom("notsup"),
                           binary("observer's GUI needs a BEAM node; a C++ node of distribute "
                                  "answers etop in text mode ({tracing, off}) and process_info"));
    struct GuiCall {
        const char* function;
        std::size_t arity;
    };
    for (const GuiCall& call :
         {GuiCall{"sys_info", 0}, GuiCall{"procs_info", 1}, GuiCall{"get_table_list", 2},
          GuiCall{"fetch_stats", 2}, GuiCall{"get_port_list", 0}, GuiCall{"get_socket_list", 0}})
        server.registry().add(
            observer_backend, atom(call.function), call.arity,
            [why](std::span<const Term>) -> RpcResult {
                return unexpected(RpcRaise{atoms::error, why, std::nullopt});
            },
            RpcRegistry::RunOn::node_thread);
}

}  // namespace distribute::otp
