#include "chaos.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <thread>

namespace distribute::soak {
namespace {

using namespace std::chrono_literals;

std::chrono::milliseconds between(std::mt19937_64& random, std::chrono::milliseconds low,
                                  std::chrono::milliseconds high) {
    std::uniform_int_distribution<std::int64_t> pick(low.count(), high.count());
    return std::chrono::milliseconds(pick(random));
}

std::string quoted(const std::string& name) {
    return "'" + name + "'";
}

}  // namespace

BeamSide::BeamSide(BeamSideOptions options)
    : options_(std::move(options)), epmd_port_(testing::free_port()) {
    epmd_.emplace(epmd_port_);
    slots_.resize(options_.nodes);
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        slots_[i].alive = testing::unique_name("soak_erl" + std::to_string(i + 1));
        start(slots_[i]);
    }
}

std::string BeamSide::node_name(std::size_t slot) const {
    return slots_[slot].alive + "@" + testing::short_host();
}

void BeamSide::start(Slot& slot) {
    testing::ErlNodeOptions o;
    o.name = slot.alive;
    o.epmd_port = epmd_port_;
    o.extra_args = {"-pa", options_.beam_dir, "-kernel", "net_ticktime",
                    std::to_string(options_.net_ticktime.count())};
    // The name may still be known to the EPMD for a moment after its last owner was killed.
    for (int attempt = 1;; ++attempt) {
        try {
            slot.erl = std::make_unique<testing::ErlNode>(o);
            break;
        } catch (const testing::FixtureError&) {
            if (attempt == 5) throw;
            std::this_thread::sleep_for(500ms);
        }
    }
    slot.os_pid = static_cast<pid_t>(std::stol(slot.erl->eval("list_to_integer(os:getpid())")));
    std::string names = "[";
    for (auto& name : options_.worker_names)
        names += (names.size() > 1 ? "," : "") + quoted(name);
    names += "]";
    const std::string reply = slot.erl->eval(
        "soak_peer:start(" + quoted(options_.our_node) + ", " + names + ", " +
        std::to_string(options_.processes_per_node) + ", \"" + options_.violation_log + "\")");
    if (reply != "ok") throw testing::FixtureError("soak_peer:start answered " + reply);
}

BeamSide::Totals BeamSide::totals(std::size_t slot) {
    // [{Received, Sent, Violations, Finals, Known}, ...] printed with ~0p: only digits, commas
    // and brackets.
    std::string text = slots_[slot].erl->eval("soak_peer:totals()");
    std::replace_if(
        text.begin(), text.end(), [](char c) { return c < '0' || c > '9'; }, ' ');
    std::istringstream in(text);
    Totals t;
    t.fewest_workers_known = options_.worker_names.size();
    std::uint64_t r, s, v, f;
    std::size_t k;
    std::size_t processes = 0;
    while (in >> r >> s >> v >> f >> k) {
        t.received += r;
        t.sent += s;
        t.violations += v;
        t.finals += f;
        t.fewest_workers_known = std::min(t.fewest_workers_known, k);
        ++processes;
    }
    if (processes != options_.processes_per_node) t.fewest_workers_known = 0;
    return t;
}

void BeamSide::finish(std::size_t slot) {
    slots_[slot].erl->eval("soak_peer:finish()");
}

std::string BeamSide::random_fault(Node& ours, std::mt19937_64& random) {
    std::uniform_int_distribution<std::size_t> pick_slot(0, slots_.size() - 1);
    std::uniform_int_distribution<int> pick_fault(0, 4);
    Slot& slot = slots_[pick_slot(random)];
    const std::string peer = slot.alive + "@" + testing::short_host();
    switch (pick_fault(random)) {
        case 0: {
            // Only the BEAM this driver started, by the OS pid it reported.
            ::kill(slot.os_pid, SIGKILL);
            slot.erl.reset();
            std::this_thread::sleep_for(between(random, 0ms, 1000ms));
            start(slot);
            return "kill+restart";
        }
        case 1: {
            ::kill(slot.os_pid, SIGSTOP);
            std::this_thread::sleep_for(options_.net_ticktime + between(random, 1000ms, 3000ms));
            ::kill(slot.os_pid, SIGCONT);
            return "stop past net_ticktime";
        }
        case 2:
            ours.disconnect(Atom::make(peer).value());
            return "disconnect (ours)";
        case 3:
            slot.erl->eval("erlang:disconnect_node(" + quoted(options_.our_node) + ")");
            return "disconnect (theirs)";
        default:
            epmd_.reset();
            std::this_thread::sleep_for(between(random, 500ms, 3000ms));
            epmd_.emplace(epmd_port_);
            // Both sides register again on their own (erl_epmd retries; so do we).
            return "epmd restart";
    }
}

void BeamSide::kill_all() {
    for (auto& slot : slots_)
        slot.erl.reset();
}

}  // namespace distribute::soak
