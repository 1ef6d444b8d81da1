// A watchdog: a C++ process that monitors Erlang processes and reports how each one ended, one
// line on stdout per exit, as `down LABEL REASON` (the reason in Erlang syntax).
//
// Erlang asks it to watch a process with {watch, Label, Target, ReplyTo}, where Target is a pid
// or {Name, Node}; it answers {watching, Label} once the monitor is set. A process that ends
// after that answer is reported with its exit reason; one that was gone before the monitor was
// set, with noproc; one on a node that goes away, with noconnection.
//
//   usage: watchdog NAME [COOKIE [LISTEN_ADDRESS]]
//   erl> P = spawn(fun() -> receive stop -> exit({shutdown, done}) end end).
//   erl> {watchdog, 'NAME@host'} ! {watch, worker, P, self()}, receive A -> A end.
//   {watching,worker}
//   erl> P ! stop.
//   (the watchdog prints: down worker {shutdown,done})
#include <distribute.hpp>

#include "../example_node.hpp"

#include <cstdio>
#include <map>
#include <thread>

using namespace distribute;

namespace {

void report(const std::string& label, const Term& reason) {
    std::printf("down %s %s\n", label.c_str(), to_string(reason).c_str());
    std::fflush(stdout);
}

// Until the node stops (the mailbox's process ends with it): watch requests and 'DOWN's.
void watch(Mailbox& me) {
    std::map<Reference, std::string> labels;  // by monitor
    for (;;) {
        auto message = me.receive();
        if (!message) return;  // the node stopped
        if (auto down = Down::from_term(*message)) {
            auto label = labels.find(down->ref);
            if (label == labels.end()) continue;
            report(label->second, down->reason);
            labels.erase(label);
            continue;
        }
        auto request = message->tagged<Term, Term, Pid>("watch"_a);
        if (!request) {
            std::fprintf(stderr, "watchdog: ignoring %s\n", to_string(*message).c_str());
            continue;
        }
        const auto& [label, target, reply_to] = *request;
        Reference ref;
        if (auto pid = target.to<Pid>())
            ref = me.monitor(*pid);
        else if (auto name = target.unpack<Atom, Atom>())
            ref = me.monitor(std::get<0>(*name), std::get<1>(*name));
        else {
            std::fprintf(stderr, "watchdog: cannot watch %s\n", to_string(target).c_str());
            continue;
        }
        labels[ref] = to_string(label);
        me.send(reply_to, tuple("watching"_a, label));
    }
}

}  // namespace

int main(int argc, char** argv) {
    auto node = start_example_node("watchdog", argc, argv);
    if (!node) return 1;
    Mailbox me = node->open_mailbox();
    if (!node->register_name("watchdog"_a, me.pid())) return 1;
    std::thread watcher([&me] { watch(me); });
    std::printf("%s is up: send {watch, Label, Pid | {Name, Node}, self()} to watchdog\n",
                std::string(node->name().name()).c_str());
    std::fflush(stdout);
    node->wait();
    watcher.join();
    return 0;
}
