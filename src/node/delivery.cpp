// Making processes, putting messages in their queues, and running handler and coroutine
// processes in turns on the node's executor. A turn handles a bounded number of messages (as the
// BEAM's reductions bound a process's time slice) and then yields, so a process with a flood of
// messages does not starve the others on the same thread.
#include <algorithm>
#include <exception>

#include "node/runtime.hpp"

namespace distribute::node {

namespace {

// Messages a handler process takes per turn before it yields its thread.
constexpr int handler_budget = 64;

// An alias of its own (alias/0), or a monitor's that goes with it ({alias, demonitor}).
bool alias_active(const Relations* r, const Reference& alias) {
    if (r == nullptr) return false;
    if (auto held = r->monitors.find(alias); held != r->monitors.end()) return held->second.alias;
    return std::find(r->aliases.begin(), r->aliases.end(), alias) != r->aliases.end();
}

}  // namespace

Term crash_reason(const std::exception_ptr& thrown, std::string& what) {
    static const Atom cpp_exception = Atom::make("cpp_exception").value();
    what = "an exception of unknown type";
    try {
        std::rethrow_exception(thrown);
    } catch (const std::exception& e) {
        what = e.what();
    } catch (...) {
    }
    return tuple(cpp_exception, binary(what));
}

// ---------------------------------------------------------------------------------------------
// Making processes

std::shared_ptr<Process> Runtime::admit(std::shared_ptr<Process> process) {
    if (stopped()) {
        std::lock_guard lock(process->mutex);
        process->alive = false;
        process->exit_reason = Term(atoms::shutdown);
        return process;
    }
    processes_.insert(process);
    return process;
}

std::shared_ptr<Process> Runtime::spawn_mailbox() {
    return admit(std::make_shared<MailboxProcess>(shared_from_this(), new_pid()));
}

std::shared_ptr<Process> Runtime::spawn_handler(Node::Handler handler, bool trap_exit) {
    return admit(std::make_shared<HandlerProcess>(shared_from_this(), new_pid(), std::move(handler),
                                                  trap_exit));
}

// ---------------------------------------------------------------------------------------------
// Delivery

bool Runtime::deliver(Process& to, Term message, const Reference* through_alias, bool priority) {
    std::unique_lock lock(to.mutex);
    bool accepted = to.alive.load(std::memory_order_relaxed);
    if (accepted && through_alias) accepted = alias_active(to.relations.get(), *through_alias);
    if (!accepted) {
        lock.unlock();
        count_dropped();
        return false;
    }
    to.inbox.push(std::move(message), priority);
    ++to.delivered;
    to.wake(lock);
    return true;
}

bool Runtime::holds_alias(Process& process, const Reference& alias) {
    std::lock_guard lock(process.mutex);
    return process.alive.load(std::memory_order_relaxed) &&
           alias_active(process.relations.get(), alias);
}

void Runtime::fire_monitor(Process& watcher, const Reference& ref, const wire::ProcessId& target,
                           Atom node, const Term& reason) {
    std::unique_lock lock(watcher.mutex);
    if (!watcher.alive.load(std::memory_order_relaxed) || !watcher.relations) return;
    auto& monitors = watcher.relations->monitors;
    auto it = monitors.find(ref);
    if (it == monitors.end()) return;
    const bool alias = it->second.alias;
    monitors.erase(it);
    // The monitored object: the pid, or {Name, Node} for a monitor by name.
    Term object = std::holds_alternative<Pid>(target) ? Term(std::get<Pid>(target))
                                                      : tuple(std::get<Atom>(target), node);
    watcher.inbox.push(tuple(atoms::DOWN, ref, atoms::process, std::move(object), reason));
    ++watcher.delivered;
    watcher.wake(lock);
    if (alias) aliases_.remove(ref);
}

void Runtime::discard(Process& process, const std::function<bool(const Term&)>& match) {
    process.gather();
    process.seen.remove_if(match);
}

std::optional<Term> Runtime::take(Process& process, const std::function<bool(const Term&)>& match) {
    process.gather();
    LanedQueue::Cursor from_front;
    Term found;
    if (!process.seen.take_first(from_front, match, found)) return std::nullopt;
    return found;
}

// ---------------------------------------------------------------------------------------------
// Turns

void Process::wake(std::unique_lock<std::mutex>& lock) {
    if (scheduled) {
        woken = true;  // the running or posted turn looks again before it lets go
        return;
    }
    scheduled = true;
    lock.unlock();
    runtime.post_turn(shared_from_this());
}

void Runtime::post_turn(std::shared_ptr<Process> process) {
    // defer, not post, on the waking thread's own io_context: from one of the node's threads
    // (a session delivering what it read) the turn runs on that same thread after the current
    // work, instead of waking another thread for every message.
    asio::defer(work_context(),
                [process = std::move(process)] { process->runtime.run_turn(process); });
}

void Runtime::run_turn(const std::shared_ptr<Process>& process) {
    const bool more = process->turn();
    std::unique_lock lock(process->mutex);
    if ((more || process->woken) && !process->released) {
        process->woken = false;
        // Behind (a whole budget handled and more waiting), a process woken by a session that
        // reads on this thread goes on on another thread, once, so that it and the session that
        // feeds it run side by side; it keeps to that thread until it catches up.
        const bool hand_on = more && !process->handed_on;
        process->handed_on = process->handed_on || hand_on;
        lock.unlock();
        // post, not defer: behind the work already queued, so others get their turn first.
        asio::post(hand_on ? other_context() : work_context(),
                   [process] { process->runtime.run_turn(process); });
        return;
    }
    process->scheduled = false;
    process->handed_on = false;
}

bool HandlerProcess::turn() {
    ProcessHandle self(shared_from_this());
    int handled = 0;
    for (; handled < handler_budget; ++handled) {
        if (seen.empty() && (!gather() || seen.empty())) break;
        if (!alive.load(std::memory_order_acquire)) break;
        Term message = seen.pop();
        try {
            handler_(self, std::move(message));
        } catch (...) {
            std::string what;
            Term reason = crash_reason(std::current_exception(), what);
            runtime.log(LogLevel::error, "process " + to_string(Term(pid)) + " crashed: " + what);
            runtime.terminate(shared_from_this(), std::move(reason));
            break;
        }
    }
    if (!alive.load(std::memory_order_acquire)) {
        seen.clear();
        released = true;
        return false;
    }
    // The budget can run out just as `seen` empties, while messages that came during the turn
    // before wait in the inbox: their wake-up was spent on this turn, so they ask for the next.
    // (A turn that stopped short of its budget found the inbox empty at its last look.)
    if (handled == handler_budget && seen.empty()) gather();
    return !seen.empty();
}

}  // namespace distribute::node
