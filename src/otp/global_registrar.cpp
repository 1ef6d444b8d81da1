#include "otp/global_registrar.hpp"

#include <algorithm>

#include "otp/global_atoms.hpp"
#include "otp/global_server.hpp"

namespace distribute::otp {

namespace {

const Atom& wake() {
    static const Atom atom = Atom::make("$global_registrar_job").value();
    return atom;
}
const Atom& slept() {
    static const Atom atom = Atom::make("$global_registrar_slept").value();
    return atom;
}

GlobalError error(GlobalErrc code, std::string detail) {
    return {code, std::move(detail)};
}

}  // namespace

GlobalRegistrar::GlobalRegistrar(GlobalServer& server)
    : server_(server), runtime_(server.runtime()), locks_(server) {}

void GlobalRegistrar::start() {
    std::weak_ptr<GlobalRegistrar> weak = weak_from_this();
    process_ = runtime_.spawn_handler(
        [weak](const ProcessHandle&, Term message) {
            if (auto registrar = weak.lock()) registrar->handle(message);
        },
        true);
    pid_ = process_->pid;
}

void GlobalRegistrar::submit(Job job) {
    {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(job));
    }
    runtime_.send(*process_, pid_, Term(wake()));
}

void GlobalRegistrar::handle(const Term& message) {
    if (locks_.take(*process_, message) || calls_.take(*process_, message)) return;
    if (message.is_atom(wake())) return next();
    if (message.is_tuple(2) && message[0].is_atom(slept())) {
        if (message[1] == Term(sleep_generation_) && after_sleep_) {
            auto then = std::move(after_sleep_);
            after_sleep_ = nullptr;
            then();
        }
        return;
    }
    // The DOWN of a monitor a finished multi_call had, or a message to nobody in particular.
}

void GlobalRegistrar::next() {
    if (running_) return;
    Job job;
    {
        std::lock_guard lock(mutex_);
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
    }
    running_ = true;
    job([this] {
        running_ = false;
        next();
    });
}

void GlobalRegistrar::after(std::chrono::milliseconds delay, std::function<void()> then) {
    after_sleep_ = std::move(then);
    sleep_timer_ = std::make_shared<node::TimerState>(runtime_.io());
    node::start_timer(sleep_timer_, *process_, delay, tuple(slept(), ++sleep_generation_));
}

void GlobalRegistrar::trans_all_known(
    std::function<void(std::vector<Atom>, std::function<void()>)> body,
    std::function<void()> finished, std::function<void()> gave_up, Deadline deadline,
    unsigned times) {
    // The boss first, then every node global knows, and only if no node became known meanwhile.
    const Term id = tuple(global_atoms().global, pid_);
    const std::vector<Atom> known = server_.known_nodes();
    std::vector<Atom> nodes{runtime_.name()};
    nodes.insert(nodes.end(), known.begin(), known.end());
    const Atom boss = the_boss(nodes);
    auto retry = [this, body, finished, gave_up, deadline, times] {
        const auto pause = random_sleep(times);
        if (std::chrono::steady_clock::now() + pause > deadline) return gave_up();
        after(pause, [this, body, finished, gave_up, deadline, times] {
            trans_all_known(body, finished, gave_up, deadline, times + 1);
        });
    };
    locks_.set(process_, id, {boss}, [=, this](bool boss_locked) {
        if (!boss_locked) return retry();
        locks_.set(process_, id, nodes, [=, this](bool all_locked) {
            std::vector<Atom> now = server_.known_nodes();
            const bool same = std::all_of(now.begin(), now.end(), [&](Atom n) {
                return std::find(known.begin(), known.end(), n) != known.end();
            });
            if (!all_locked || !same) {
                locks_.del(process_, id, {boss}, retry);
                return;
            }
            body(nodes, [=, this] { locks_.del_boss_last(process_, id, nodes, finished); });
        });
    });
}

void GlobalRegistrar::register_name(Term name, Pid pid, Term method,
                                    std::optional<GlobalResolver> resolver, bool re_register,
                                    Done done, Deadline deadline) {
    submit([=, this](std::function<void()> finished) {
        auto outcome = std::make_shared<Expected<void, GlobalError>>();
        trans_all_known(
            [=, this](std::vector<Atom> nodes, std::function<void()> unlock) {
                if (!re_register) {
                    if (server_.whereis(name)) {
                        *outcome = unexpected(
                            error(GlobalErrc::taken, to_string(name) + " is registered already"));
                        return unlock();
                    }
                    if (server_.names_of(pid) > 0) {
                        runtime_.log(LogLevel::error,
                                     "global: " + to_string(Term(pid)) +
                                         " registered under several names: " + to_string(name));
                        *outcome = unexpected(error(GlobalErrc::has_a_name,
                                                    to_string(Term(pid)) + " has a name already"));
                        return unlock();
                    }
                }
                if (resolver) server_.set_resolver(name, *resolver);
                const GlobalAtoms& a = global_atoms();
                calls_.start(*process_, nodes, a.global_name_server,
                             tuple(a.register_, name, pid, method),
                             [unlock](MultiCalls::Replies, std::vector<Atom>) { unlock(); });
            },
            [finished, done, outcome] {
                done(std::move(*outcome));
                finished();
            },
            [finished, done, name] {
                done(
                    unexpected(error(GlobalErrc::timeout, "the global lock for " + to_string(name) +
                                                              " could not be had in time")));
                finished();
            },
            deadline);
    });
}

void GlobalRegistrar::unregister_name(Term name, Done done) {
    submit([=, this](std::function<void()> finished) {
        if (!server_.whereis(name)) {
            done({});
            return finished();
        }
        trans_all_known(
            [=, this](std::vector<Atom> nodes, std::function<void()> unlock) {
                const GlobalAtoms& a = global_atoms();
                calls_.start(*process_, nodes, a.global_name_server, tuple(a.unregister, name),
                             [unlock](MultiCalls::Replies, std::vector<Atom>) { unlock(); });
            },
            [finished, done] {
                done({});
                finished();
            },
            [] {}, Deadline::max());
    });
}

void GlobalRegistrar::set_lock(Term id, std::vector<Atom> nodes, unsigned retries,
                               std::function<void(bool)> done) {
    submit([=, this](std::function<void()> finished) {
        try_lock(id, nodes, retries, 1, [done, finished](bool set) {
            done(set);
            finished();
        });
    });
}

void GlobalRegistrar::try_lock(Term id, std::vector<Atom> nodes, unsigned retries, unsigned times,
                               std::function<void(bool)> done) {
    locks_.set(process_, id, nodes, [=, this](bool set) {
        if (set || retries == 0) return done(set);
        const unsigned left = retries == Global::infinity_retries ? retries : retries - 1;
        after(random_sleep(times), [=, this] { try_lock(id, nodes, left, times + 1, done); });
    });
}

void GlobalRegistrar::del_lock(Term id, std::vector<Atom> nodes, std::function<void()> done) {
    submit([=, this](std::function<void()> finished) {
        locks_.del(process_, id, nodes, [done, finished] {
            done();
            finished();
        });
    });
}

}  // namespace distribute::otp
