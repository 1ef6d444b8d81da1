// Holds a new process's messages until its init, run on the thread that started it, is done.
// Node::spawn schedules the handler as soon as a message arrives, which may be while init still
// runs on another thread; the gate keeps those messages aside (touching nothing else) until the
// starter sends the gate's token, then lets them through in the order they came. The handler's
// runs are serialized, so the gate needs no lock, and the token travels through the mailbox,
// whose lock orders init's writes before the handler's reads.
#pragma once

#include <utility>
#include <vector>

#include "distribute/mailbox.hpp"
#include "distribute/term.hpp"

namespace distribute::actor_detail {

class StartGate {
  public:
    StartGate() = default;

    // Called by the starter, once init is done: the process may handle messages now.
    void open(const ProcessHandle& self) { self.send(self.pid(), tuple(token_atom(), token_)); }
    void set_token(Reference token) { token_ = token; }

    // In the handler: calls body(message) for each message that may be handled now. `body`
    // returns false once the process has ended, and what is still held is then dropped.
    template <class Body>
    void pass(Term message, Body&& body) {
        pass(
            std::move(message), [] { return true; }, std::forward<Body>(body));
    }
    // The same, with `opened()` run when the token comes, before any held message: what init
    // asked to run first (a Continue). It returns false when the process has ended.
    template <class Opened, class Body>
    void pass(Term message, Opened&& opened, Body&& body) {
        if (open_) {
            body(std::move(message));
            return;
        }
        if (!is_token(message)) {
            held_.push_back(std::move(message));
            return;
        }
        open_ = true;
        auto held = std::move(held_);
        held_.clear();
        if (!opened()) return;
        for (auto& m : held)
            if (!body(std::move(m))) return;
    }

  private:
    static Atom token_atom() {
        static const Atom a = Atom::make("$distribute_started").value();
        return a;
    }
    bool is_token(const Term& m) const {
        return m.is_tuple(2) && m[0].is_atom(token_atom()) && m[1] == Term(token_);
    }

    Reference token_;
    bool open_ = false;
    std::vector<Term> held_;
};

}  // namespace distribute::actor_detail
