// What the rpc interop tests share: erl nodes with the test modules loaded (demo.erl, the BEAM
// twin of our demo module, and rpc_peer_server.erl, a gen_server), and `probe`, rpc functions a
// test registers on our node to watch calls arrive and to hold them as long as it likes.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "distribute/rpc.hpp"
#include "node_support.hpp"

namespace distribute::testing {

// demo.erl and rpc_peer_server.erl, compiled once for the erl nodes of a test.
class TestModules {
  public:
    TestModules() {
        compile_erl(INTEROP_SOURCE_DIR "/erl/demo.erl", dir_.path());
        compile_erl(INTEROP_SOURCE_DIR "/erl/rpc_peer_server.erl", dir_.path());
    }
    ErlNodeOptions with_modules(ErlNodeOptions options) const {
        options.extra_args.insert(options.extra_args.end(), {"-pa", dir_.path()});
        return options;
    }

  private:
    TempDir dir_;
};

// probe:note(X) sends {noted, X} to `watcher`. probe:block() runs on the worker pool and answers
// released once release() is called. probe:hang() answers never (until the node goes): the
// replies are kept here. Each call is counted as it starts.
class Probe {
  public:
    Probe(Node& node, const Pid& watcher) : state_(std::make_shared<State>()) {
        RpcRegistry& registry = rpc_registry(node);
        auto state = state_;
        // Asynchronous, so it runs on the node's threads, which the node joins before it goes:
        // `node` is still there. (A mailbox kept in the function would keep the node alive.)
        registry.add_async(atom("probe"), atom("note"), 1,
                           [&node, watcher](std::vector<Term> args, RpcReply reply) {
                               node.open_mailbox().send(watcher, tuple(atom("noted"), args[0]));
                               reply(Term(atoms::ok));
                           });
        registry.add(atom("probe"), atom("block"), 0, [state](std::span<const Term>) {
            std::unique_lock lock(state->mutex);
            ++state->started;
            state->changed.notify_all();
            // Bounded, so that a failed test cannot leave a worker thread blocked for good.
            state->changed.wait_for(lock, 60s, [&] { return state->released; });
            return RpcResult(Term(atom("released")));
        });
        registry.add_async(atom("probe"), atom("hang"), 0,
                           [state](std::vector<Term>, RpcReply reply) {
                               std::lock_guard lock(state->mutex);
                               ++state->started;
                               state->held.push_back(std::move(reply));
                               state->changed.notify_all();
                           });
    }

    // Calls of block and hang that have started.
    int started() const {
        std::lock_guard lock(state_->mutex);
        return state_->started;
    }
    void wait_started(int count) const {
        std::unique_lock lock(state_->mutex);
        REQUIRE_MESSAGE(
            state_->changed.wait_for(lock, 20s, [&] { return state_->started >= count; }),
            "the calls did not reach the probe");
    }
    void release() const {
        std::lock_guard lock(state_->mutex);
        state_->released = true;
        state_->changed.notify_all();
    }
    // Answers every call of hang so far with `value`.
    void answer_hanging(const Term& value) const {
        std::lock_guard lock(state_->mutex);
        for (const RpcReply& reply : state_->held)
            reply(value);
        state_->held.clear();
    }

  private:
    struct State {
        mutable std::mutex mutex;
        std::condition_variable changed;
        int started = 0;
        bool released = false;
        std::vector<RpcReply> held;
    };
    std::shared_ptr<State> state_;
};

// Our node, and an erl node running rpc_peer_server as `counter`.
struct Calling {
    Cluster cluster;
    LogCapture log;
    TestModules modules;
    Node node = start_node(cluster.node_options("cpp_caller", &log));
    ErlNode erl{modules.with_modules(cluster.erl_options("erl_server"))};
    const Atom peer = atom(erl.node_name());

    Calling() { REQUIRE(erl.eval("is_pid(rpc_peer_server:start(counter))") == "true"); }
};

// True once erl shows a process of its in timer:sleep/1 (a call that is being served).
inline bool erl_sleeping(ErlNode& erl) {
    return erl.eval(
               "lists:any(fun(P) -> process_info(P, current_function) =:= {current_function, "
               "{timer, sleep, 1}} end, processes())") == "true";
}

// A node name nobody has: its host is ours, its name unique.
inline Atom dead_node() {
    return atom(unique_name("nobody") + "@" + short_host());
}

}  // namespace distribute::testing
