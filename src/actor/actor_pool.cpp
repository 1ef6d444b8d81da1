// Actors behind one name: a supervisor of a router and its workers. The router is a handler
// process that passes each message on to the worker with the shortest queue.
#include <deque>
#include <mutex>

#include "distribute/service_pool.hpp"
#include "distribute/supervisor.hpp"
#include "node/access.hpp"

namespace distribute {

struct ActorPool::State {
    std::mutex mutex;
    Pid router;
    Reference tag;  // marks the pool's own messages to the router: {Tag, worker, Pid}
    std::vector<std::pair<Pid, Reference>> workers;  // and the router's monitor on each
    std::deque<Term> pending;
    std::size_t max_pending = 0;
    std::size_t turn = 0;
    std::uint64_t forwarded = 0;
    std::uint64_t dropped = 0;
};

namespace {

const Atom worker_atom = Atom::make("worker").value();

std::size_t queue_length(node::Runtime& runtime, const Pid& pid) {
    auto process = runtime.find(pid);
    if (!process) return SIZE_MAX;
    std::size_t waiting = process->seen.size();  // gathered, not yet handled
    std::lock_guard lock(process->mutex);
    return waiting + process->inbox.size();
}

// Under the state's mutex, on the router: the worker with the fewest messages waiting, taking
// turns among equals.
std::optional<Pid> least_loaded(node::Runtime& runtime, ActorPool::State& state) {
    std::optional<Pid> best;
    std::size_t best_length = SIZE_MAX;
    const std::size_t n = state.workers.size();
    for (std::size_t i = 0; i < n; ++i) {
        const Pid& pid = state.workers[(state.turn + i) % n].first;
        const std::size_t length = queue_length(runtime, pid);
        if (length < best_length) {
            best = pid;
            best_length = length;
        }
    }
    if (n) state.turn = (state.turn + 1) % n;
    return best;
}

void route(const ProcessHandle& self, ActorPool::State& state, Term message) {
    auto& runtime = node::Access::process(self).runtime;
    std::optional<Pid> worker;
    {
        std::lock_guard lock(state.mutex);
        worker = least_loaded(runtime, state);
        if (!worker) {
            if (state.pending.size() < state.max_pending) {
                state.pending.push_back(std::move(message));
            } else {
                ++state.dropped;
                runtime.log(LogLevel::warning, "actor pool: no worker runs and " +
                                                   std::to_string(state.max_pending) +
                                                   " messages wait: dropped " + to_string(message));
            }
            return;
        }
        ++state.forwarded;
    }
    self.send(*worker, std::move(message));
}

void router(const std::shared_ptr<ActorPool::State>& state, const ProcessHandle& self,
            Term message) {
    if (message.is_tuple(3) && message[0] == Term(state->tag) && message[1].is_atom(worker_atom)) {
        const Pid worker = message[2].to<Pid>().value();
        const Reference monitor = self.monitor(worker);
        std::deque<Term> held;
        {
            std::lock_guard lock(state->mutex);
            state->workers.emplace_back(worker, monitor);
            held.swap(state->pending);
        }
        for (auto& m : held)
            route(self, *state, std::move(m));
        return;
    }
    if (message.is_tuple(5) && message[0].is_atom(atoms::DOWN)) {
        std::lock_guard lock(state->mutex);
        const auto before = state->workers.size();
        std::erase_if(state->workers, [&](const auto& w) { return Term(w.second) == message[1]; });
        if (state->workers.size() != before) return;
    }
    route(self, *state, std::move(message));
}

ChildSpec router_child(std::shared_ptr<ActorPool::State> state, Atom name) {
    ChildSpec spec;
    spec.id = "router";
    spec.start =
        [state, name](const ProcessHandle& supervisor) -> Expected<ProcessHandle, SupervisorError> {
        auto& runtime = node::Access::process(supervisor).runtime;
        auto process = runtime.spawn_handler(
            [state](const ProcessHandle& self, Term message) {
                router(state, self, std::move(message));
            },
            false);
        ProcessHandle handle(process);
        if (!runtime.register_name(name, process->pid)) {
            runtime.terminate(process, Term(atoms::normal));
            const auto holder = runtime.whereis(name);
            return unexpected(
                start_failure(tuple(Term(Atom::make("already_started").value()),
                                    holder ? Term(holder->pid) : Term(atoms::undefined))));
        }
        handle.link(supervisor.pid());
        std::lock_guard lock(state->mutex);
        state->router = process->pid;
        state->tag = handle.make_ref();
        // A restarted router takes over the workers still running, with monitors of its own.
        std::erase_if(state->workers, [&](const auto& w) { return !runtime.find(w.first); });
        for (auto& [worker, monitor] : state->workers)
            monitor = handle.monitor(worker);
        return handle;
    };
    return spec;
}

ChildSpec worker_spec(std::shared_ptr<ActorPool::State> state, std::size_t index,
                      std::function<std::unique_ptr<Actor>()> make) {
    ChildSpec spec;
    spec.id = "worker_" + std::to_string(index);
    spec.start =
        [state, make](const ProcessHandle& supervisor) -> Expected<ProcessHandle, SupervisorError> {
        auto started = child_result(spawn_actor(supervisor, make(), {.link_to = supervisor.pid()}));
        if (started && *started) {
            Pid router;
            Reference tag;
            {
                std::lock_guard lock(state->mutex);
                router = state->router;
                tag = state->tag;
            }
            supervisor.send(router, tuple(Term(tag), Term(worker_atom), Term(started->pid())));
        }
        return started;
    };
    return spec;
}

}  // namespace

Pid ActorPool::router() const {
    std::lock_guard lock(state_->mutex);
    return state_->router;
}

std::vector<Pid> ActorPool::workers() const {
    std::lock_guard lock(state_->mutex);
    std::vector<Pid> out;
    for (auto& [pid, monitor] : state_->workers)
        out.push_back(pid);
    return out;
}

std::uint64_t ActorPool::forwarded() const {
    std::lock_guard lock(state_->mutex);
    return state_->forwarded;
}

std::uint64_t ActorPool::dropped() const {
    std::lock_guard lock(state_->mutex);
    return state_->dropped;
}

Expected<ActorPool, StartError> start_actor_pool(Node& node, ActorPoolOptions options) {
    if (options.size == 0 || !options.make)
        return unexpected(
            StartError{StartErrc::bad_options,
                       tuple(Term(Atom::make("bad_pool").value()),
                             Term(Atom::make(options.size == 0 ? "size" : "make").value()))});
    auto state = std::make_shared<ActorPool::State>();
    state->max_pending = options.max_pending;
    SupervisorOptions supervision;
    supervision.strategy = Strategy::one_for_one;
    supervision.intensity = options.intensity;
    supervision.period = options.period;
    supervision.children.push_back(router_child(state, options.name));
    for (std::size_t i = 1; i <= options.size; ++i)
        supervision.children.push_back(worker_spec(state, i, options.make));
    auto supervisor = start_supervisor(node, std::move(supervision));
    if (!supervisor) return unexpected(supervisor.error());
    return ActorPool(std::move(*supervisor), std::move(state));
}

}  // namespace distribute
