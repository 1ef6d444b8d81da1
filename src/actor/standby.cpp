// Standby (registry.hpp): a watcher process that monitors the owner of a global name and
// registers the name for its standby when the owner goes.
#include <mutex>

#include "distribute/actor.hpp"
#include "distribute/registry.hpp"
#include "node/access.hpp"

namespace distribute {

namespace {

struct Tags {
    Atom registered = Atom::make("$standby_registered").value();
    Atom retry = Atom::make("$standby_retry").value();
};
const Tags& tags() {
    static const Tags t;
    return t;
}

// A short pause before looking again: the name of an owner that just went may not be gone from
// this node's table yet.
constexpr std::chrono::milliseconds look_again{50};
// How long one attempt waits for the cluster-wide lock.
constexpr std::chrono::seconds lock_wait{5};

}  // namespace

struct Standby::State : std::enable_shared_from_this<State> {
    Node* node = nullptr;
    Atom name;
    Pid standby;
    std::function<void(const Pid&)> on_takeover;

    std::mutex mutex;  // guards what follows
    bool active = true;
    std::shared_ptr<node::Process> watcher;
    // The watcher's own thread only:
    std::optional<Pid> owner;
    Reference owner_monitor;
    Reference standby_monitor;

    // A Standby dropped without stop(): its watcher goes with it.
    ~State() {
        if (watcher) ProcessHandle(watcher).exit_self(Term(atoms::normal));
    }

    void handle(const ProcessHandle& self, const Term& message);
    void watch_or_take(const ProcessHandle& self);
    void take(const ProcessHandle& self);
};

void Standby::State::watch_or_take(const ProcessHandle& self) {
    auto g = global(*node);
    if (!g) return;
    auto current = g->whereis_name(Term(name));
    if (!current) return take(self);
    owner = *current;
    owner_monitor = self.monitor(*current);
}

void Standby::State::take(const ProcessHandle& self) {
    auto g = global(*node);
    if (!g) return;
    // The answer comes back as a message, so that this process handles it in turn.
    std::weak_ptr<node::Process> me = node::Access::shared(self);
    g->register_name_async(
        Term(name), standby, Resolve::random_exit_name,
        [me](Expected<void, GlobalError> done) {
            if (auto p = me.lock())
                ProcessHandle(p).send(
                    p->pid, tuple(tags().registered, done ? Term(atoms::ok) : Term(atoms::error)));
        },
        lock_wait);
}

void Standby::State::handle(const ProcessHandle& self, const Term& message) {
    if (message.is_tuple(5) && message[0].is_atom(atoms::DOWN)) {
        if (message[1] == Term(standby_monitor)) {
            // The standby itself is gone: there is nothing left to take over with.
            std::lock_guard lock(mutex);
            active = false;
            self.exit_self(Term(atoms::normal));
        } else if (message[1] == Term(owner_monitor)) {
            take(self);
        }
    } else if (message.is_tuple(2) && message[0].is_atom(tags().registered)) {
        if (message[1].is_atom(atoms::ok)) {
            const Pid previous = owner.value_or(Pid{});
            owner = standby;
            if (on_takeover) on_takeover(previous);
        } else {
            send_after(self, look_again, Term(tags().retry));
        }
    } else if (message.is_atom(tags().retry)) {
        watch_or_take(self);
    }
}

Expected<Standby, RegistryError> Standby::start(Node& node, std::string_view name,
                                                const Pid& standby,
                                                std::function<void(const Pid&)> on_takeover) {
    auto atom = Registry::validate(name);
    if (!atom) return unexpected(atom.error());
    if (auto g = global(node); !g)
        return unexpected(RegistryError{RegistryErrc::hidden, g.error().detail});
    auto state = std::make_shared<State>();
    state->node = &node;
    state->name = *atom;
    state->standby = standby;
    state->on_takeover = std::move(on_takeover);
    std::weak_ptr<State> weak = state;
    ProcessHandle watcher = node.spawn([weak](const ProcessHandle& self, Term message) {
        if (auto s = weak.lock()) s->handle(self, message);
    });
    {
        std::lock_guard lock(state->mutex);
        state->watcher = node::Access::shared(watcher);
    }
    state->standby_monitor = watcher.monitor(standby);
    // The first look goes through the watcher's mailbox, as everything after it.
    watcher.send(watcher.pid(), Term(tags().retry));
    return Standby(std::move(state));
}

void Standby::stop() {
    if (!state_) return;
    std::lock_guard lock(state_->mutex);
    state_->active = false;
    if (state_->watcher) ProcessHandle(state_->watcher).exit_self(Term(atoms::normal));
    state_->watcher.reset();
}

bool Standby::active() const {
    if (!state_) return false;
    std::lock_guard lock(state_->mutex);
    return state_->active && state_->watcher != nullptr;
}

}  // namespace distribute
