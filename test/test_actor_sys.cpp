// The sys protocol on actors, on one C++ node: the {system, {Pid, Tag}, Request} messages that
// sys.erl sends, answered with the replies sys expects (get_state, replace_state, get_status
// with format_status, suspend/resume holding other messages, debug options, change_code only
// while suspended, unknown requests), without the actor ever crashing on them.
#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "distribute/actor.hpp"
#include "distribute/messaging.hpp"
#include "node_support.hpp"
#include "sys_request.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

// A counter with a secret: call `get` gives the count, cast `add` adds 1. state() shows both;
// format_status hides the secret. replace_state takes the count from a closure's one free
// variable (what `fun(_) -> N end` compiled in a module carries); code_change from vsn 1
// doubles the count, from anything else refuses.
class Vault : public Actor {
  public:
    CallResult handle_call(const Term& request, From) override {
        if (request.is_atom("get"_a)) return Reply{Term(count_)};
        return Reply{Term("unknown"_a)};
    }
    HandleResult handle_cast(const Term& message) override {
        if (message.is_atom("add"_a)) ++count_;
        return NoReply{};
    }
    std::optional<Term> state() const override {
        return map({{Term("count"_a), Term(count_)}, {Term("secret"_a), binary("s3cret")}});
    }
    Term format_status(const std::optional<Term>& state) const override {
        (void)state;
        return map({{Term("count"_a), Term(count_)}, {Term("secret"_a), Term("hidden"_a)}});
    }
    Expected<Term, SysError> replace_state(const Term& state_fun) override {
        auto fun = state_fun.to<Closure>();
        if (!fun || fun->free_vars.size() != 1) return sys_refused(Term("not_a_closure"_a));
        auto n = fun->free_vars[0].to<std::int64_t>();
        if (!n) return sys_refused(Term("not_a_count"_a), "the fun's free variable is no count");
        count_ = *n;
        return *state();
    }
    Expected<void, SysError> code_change(const Term& old_vsn, const Term&) override {
        if (old_vsn != Term(1)) return sys_refused(tuple("unknown_vsn"_a, old_vsn));
        count_ *= 2;
        return {};
    }

  private:
    std::int64_t count_ = 0;
};

// An actor with none of the hooks.
class Plain : public Actor {
    CallResult handle_call(const Term&, From) override { return Reply{Term(atoms::ok)}; }
};

// An actor whose state hooks throw.
class Broken : public Actor {
    CallResult handle_call(const Term&, From) override { return Reply{Term(atoms::ok)}; }
    std::optional<Term> state() const override { throw std::runtime_error("no state"); }
};

struct WithVault {
    LocalNode t;
    Mailbox me = t.node.open_mailbox();
    ProcessHandle vault = *spawn_actor(t.node, std::make_unique<Vault>(), {.name = "vault"_a});

    Term sys(Term request) { return sys_request(me, vault.pid(), std::move(request)); }
    Term call(Term request) {
        auto got = request_term(me, ServerRef(vault.pid()), std::move(request), 10s);
        REQUIRE(got.has_value());
        return *got;
    }
    void cast(Term message) { me.send(vault.pid(), tuple(atoms::gen_cast, std::move(message))); }
};

Term fun_with(Term free_var) {
    Closure c;
    c.arity = 1;
    c.module = "mymod"_a;
    c.old_index = Term(0);
    c.old_uniq = Term(0);
    c.pid = Term(Pid{});
    c.free_vars = {std::move(free_var)};
    return Term(std::move(c));
}

// The list of an {ok, List} reply to a sys debug request.
std::vector<Term> listed(const Term& reply) {
    REQUIRE(reply.is_tuple(2));
    REQUIRE(reply[1].is_list());
    const auto items = reply[1].elements();
    return {items.begin(), items.end()};
}

}  // namespace

TEST_SUITE("actor sys") {
    TEST_CASE("get_state returns state(); an actor without the hook answers callback_failed") {
        WithVault v;
        v.cast("add"_a);
        CHECK(v.sys("get_state"_a) ==
              map({{Term("count"_a), Term(1)}, {Term("secret"_a), binary("s3cret")}}));
        auto plain = spawn_actor(v.t.node, std::make_unique<Plain>());
        REQUIRE(plain.has_value());
        const Reference tag = v.me.make_ref();
        v.me.send(plain->pid(), tuple("system"_a, tuple(v.me.pid(), tag), "get_state"_a));
        CHECK(next_message(v.me) ==
              tuple(tag, tuple(atoms::error, tuple("callback_failed"_a,
                                                   tuple("gen_server"_a, "system_get_state"_a),
                                                   tuple(atoms::error, "state_not_exposed"_a)))));
    }

    TEST_CASE("a hook refuses with a SysError whose reason alone is what the sys caller sees") {
        Plain plain;
        auto unsupported = plain.replace_state(fun_with(Term(1)));
        REQUIRE_FALSE(unsupported.has_value());
        CHECK(unsupported.error().code == SysErrc::not_supported);
        CHECK(unsupported.error().reason == Term("replace_state_not_supported"_a));
        CHECK(plain.code_change(Term(1), Term()).has_value());
        Vault vault;
        auto refused = vault.replace_state(fun_with("x"_a));
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().code == SysErrc::refused);
        CHECK(refused.error().reason == Term("not_a_count"_a));
        CHECK(refused.error().detail == "the fun's free variable is no count");
        CHECK(std::error_code(SysErrc::refused).message() == "the sys hook refused");
    }

    TEST_CASE("replace_state gives the fun to the hook; a refusal is sys's callback_failed") {
        WithVault v;
        CHECK(v.sys(tuple("replace_state"_a, fun_with(Term(7)))) ==
              map({{Term("count"_a), Term(7)}, {Term("secret"_a), binary("s3cret")}}));
        CHECK(v.call("get"_a) == Term(7));
        CHECK(v.sys(tuple("replace_state"_a, fun_with("x"_a))) ==
              tuple(atoms::error,
                    tuple("callback_failed"_a, tuple("gen_server"_a, "system_replace_state"_a),
                          tuple(atoms::error, "not_a_count"_a))));
        CHECK(v.call("get"_a) == Term(7));
    }

    TEST_CASE(
        "with ok_tuple replies, get_state and replace_state answer {ok, State} as OTP 26.1+") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto vault = spawn_actor(t.node, std::make_unique<Vault>(),
                                 {.sys_state_replies = SysStateReplies::ok_tuple});
        REQUIRE(vault.has_value());
        const Reference tag = me.make_ref();
        me.send(vault->pid(), tuple("system"_a, tuple(me.pid(), tag), "get_state"_a));
        CHECK(next_message(me) ==
              tuple(tag, tuple(atoms::ok, map({{Term("count"_a), Term(0)},
                                               {Term("secret"_a), binary("s3cret")}}))));
        me.send(vault->pid(), tuple("system"_a, tuple(me.pid(), tag),
                                    tuple("replace_state"_a, fun_with(Term(3)))));
        CHECK(next_message(me) ==
              tuple(tag, tuple(atoms::ok, map({{Term("count"_a), Term(3)},
                                               {Term("secret"_a), binary("s3cret")}}))));
    }

    TEST_CASE(
        "get_status has gen_server's shape with proc_lib's dictionary, and format_status hides the "
        "secret") {
        WithVault v;
        const Term status = v.sys("get_status"_a);
        const Term text_status = *charlist("Status");
        CHECK(
            status ==
            tuple("status"_a, v.vault.pid(), tuple("module"_a, "gen_server"_a),
                  list(list(tuple("$ancestors"_a, Term()),
                            tuple("$initial_call"_a,
                                  tuple(Atom::make("(anonymous namespace)::Vault").value(),
                                        "init"_a, 1))),
                       "running"_a, v.vault.pid(), Term(),
                       list(tuple("header"_a, *charlist("Status for generic server vault")),
                            tuple("data"_a, list(tuple(text_status, "running"_a),
                                                 tuple(*charlist("Parent"), v.vault.pid()),
                                                 tuple(*charlist("Logged events"), Term()))),
                            tuple("data"_a, list(tuple(*charlist("State"),
                                                       map({{Term("count"_a), Term(0)},
                                                            {Term("secret"_a), "hidden"_a}}))))))));
    }

    TEST_CASE(
        "while suspended only system messages are served; resume releases the rest in order") {
        WithVault v;
        CHECK(v.sys("suspend"_a) == Term(atoms::ok));
        v.cast("add"_a);
        const Reference tag = v.me.make_ref();
        v.me.send(v.vault.pid(), tuple(atoms::gen_call, tuple(v.me.pid(), tag), "get"_a));
        v.cast("add"_a);
        // The state did not move, and the call waits, while system messages are still served.
        CHECK(v.sys("get_state"_a) ==
              map({{Term("count"_a), Term(0)}, {Term("secret"_a), binary("s3cret")}}));
        CHECK(none_queued(v.me, [&](const Term& m) { return m.is_tuple(2) && m[0] == Term(tag); }));
        const Term status = v.sys("get_status"_a);
        REQUIRE(status.is_tuple(4));
        REQUIRE(status[3].is_proper_list());
        CHECK(status[3].elements()[1] == Term("suspended"_a));
        CHECK(v.sys("resume"_a) == Term(atoms::ok));
        CHECK(next_message(v.me) == tuple(tag, 1));
        CHECK(v.call("get"_a) == Term(2));
    }

    TEST_CASE("change_code runs the hook only while suspended; otherwise it is unknown") {
        WithVault v;
        v.cast("add"_a);
        const Term request = tuple("change_code"_a, "vault"_a, 1, "extra"_a);
        CHECK(v.sys(request) == tuple(atoms::error, tuple("unknown_system_msg"_a, request)));
        CHECK(v.sys("suspend"_a) == Term(atoms::ok));
        CHECK(v.sys(request) == Term(atoms::ok));
        CHECK(v.sys(tuple("change_code"_a, "vault"_a, 9, "extra"_a)) ==
              tuple(atoms::error, tuple("unknown_vsn"_a, 9)));
        CHECK(v.sys("resume"_a) == Term(atoms::ok));
        CHECK(v.call("get"_a) == Term(2));
    }

    TEST_CASE("statistics count messages in and out; log keeps gen_server's events") {
        WithVault v;
        CHECK(v.sys(tuple("debug"_a, tuple("statistics"_a, "get"_a))) ==
              tuple(atoms::ok, "no_statistics"_a));
        CHECK(v.sys(tuple("debug"_a, tuple("statistics"_a, true))) == Term(atoms::ok));
        CHECK(v.sys(tuple("debug"_a, tuple("log"_a, tuple(true, 2)))) == Term(atoms::ok));
        v.cast("add"_a);
        CHECK(v.call("get"_a) == Term(1));
        const auto items = listed(v.sys(tuple("debug"_a, tuple("statistics"_a, "get"_a))));
        REQUIRE(items.size() == 5);
        CHECK(items[0][0] == Term("start_time"_a));
        CHECK(items[2] == tuple("reductions"_a, 0));
        CHECK(items[3] == tuple("messages_in"_a, 2));
        CHECK(items[4] == tuple("messages_out"_a, 1));
        // The last two events: the call in, the reply out (a log of size 2 dropped the cast).
        const auto events = listed(v.sys(tuple("debug"_a, tuple("log"_a, "get"_a))));
        REQUIRE(events.size() == 2);
        CHECK(events[0][0] == Term("in"_a));
        CHECK(events[0][1][0] == Term(atoms::gen_call));
        CHECK(events[1][0] == Term("out"_a));
        CHECK(events[1][1] == Term(1));
        CHECK(events[1][3] ==
              map({{Term("count"_a), Term(1)}, {Term("secret"_a), Term("hidden"_a)}}));
        CHECK(v.sys(tuple("debug"_a, "no_debug"_a)) == Term(atoms::ok));
        CHECK(v.sys(tuple("debug"_a, tuple("statistics"_a, "get"_a))) ==
              tuple(atoms::ok, "no_statistics"_a));
    }

    TEST_CASE("trace prints each event as gen_server does, on the node's log") {
        auto lines = std::make_shared<std::vector<std::string>>();
        auto mutex = std::make_shared<std::mutex>();
        std::uint16_t port = free_port();
        NodeOptions o = node_options(port, "trace", EpmdMode::embedded);
        o.log = [lines, mutex](LogLevel, std::string_view line) {
            std::lock_guard lock(*mutex);
            lines->emplace_back(line);
        };
        Node node = start_node(std::move(o));
        Mailbox me = node.open_mailbox();
        auto vault = spawn_actor(node, std::make_unique<Vault>(), {.name = "vault"_a});
        REQUIRE(vault.has_value());
        const Reference tag = me.make_ref();
        me.send(vault->pid(),
                tuple("system"_a, tuple(me.pid(), tag), tuple("debug"_a, tuple("trace"_a, true))));
        CHECK(next_message(me) == tuple(tag, atoms::ok));
        me.send(vault->pid(), tuple(atoms::gen_cast, "add"_a));
        auto got = request_term(me, ServerRef(vault->pid()), Term("get"_a), 10s);
        REQUIRE(got.has_value());
        // The reply may arrive before the actor printed its event: one more round trip after.
        me.send(vault->pid(), tuple("system"_a, tuple(me.pid(), tag), "get_state"_a));
        REQUIRE(next_message(me).is_tuple(2));
        std::lock_guard lock(*mutex);
        std::vector<std::string> dbg;
        for (const auto& l : *lines)
            if (l.starts_with("*DBG*")) dbg.push_back(l);
        REQUIRE(dbg.size() == 4);
        CHECK(dbg[0] == "*DBG* vault got cast add");
        CHECK(dbg[1] == "*DBG* vault new state #{count => 1,secret => hidden}");
        CHECK(dbg[2] == "*DBG* vault got call get from " + to_string(Term(me.pid())));
        CHECK(dbg[3] == "*DBG* vault sent 1 to " + to_string(Term(me.pid())) +
                            ", new state #{count => 1,secret => hidden}");
    }

    TEST_CASE("a state hook that throws is answered as a failed callback; the actor goes on") {
        LocalNode t;
        Mailbox me = t.node.open_mailbox();
        auto broken = spawn_actor(t.node, std::make_unique<Broken>());
        REQUIRE(broken.has_value());
        const Reference tag = me.make_ref();
        me.send(broken->pid(), tuple("system"_a, tuple(me.pid(), tag), "get_state"_a));
        CHECK(
            next_message(me) ==
            tuple(tag,
                  tuple(atoms::error,
                        tuple("callback_failed"_a, tuple("gen_server"_a, "system_get_state"_a),
                              tuple(atoms::error, tuple("cpp_exception"_a, binary("no state")))))));
        auto got = request_term(me, ServerRef(broken->pid()), Term("x"_a), 10s);
        REQUIRE(got.has_value());
        CHECK(*got == Term(atoms::ok));
    }

    TEST_CASE("log_to_file writes the trace lines to the file, until it is turned off") {
        WithVault v;
        char path[] = "/tmp/actor_sys_log_XXXXXX";
        const int fd = ::mkstemp(path);
        REQUIRE(fd >= 0);
        ::close(fd);
        CHECK(v.sys(tuple("debug"_a, tuple("log_to_file"_a, *charlist(path)))) == Term(atoms::ok));
        v.cast("add"_a);
        CHECK(v.call("get"_a) == Term(1));
        CHECK(v.sys(tuple("debug"_a, tuple("log_to_file"_a, false))) == Term(atoms::ok));
        v.cast("add"_a);
        CHECK(v.sys(tuple("debug"_a, tuple("log_to_file"_a, *charlist("/nonexistent/dir/f")))) ==
              tuple(atoms::error, "open_file"_a));
        std::ifstream in(path);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        ::unlink(path);
        CHECK(text ==
              "*DBG* vault got cast add\n"
              "*DBG* vault new state #{count => 1,secret => hidden}\n"
              "*DBG* vault got call get from " +
                  to_string(Term(v.me.pid())) +
                  "\n"
                  "*DBG* vault sent 1 to " +
                  to_string(Term(v.me.pid())) + ", new state #{count => 1,secret => hidden}\n");
    }

    TEST_CASE("unknown system and debug requests get sys's replies and the actor goes on") {
        WithVault v;
        CHECK(v.sys("bogus"_a) == tuple(atoms::error, tuple("unknown_system_msg"_a, "bogus"_a)));
        CHECK(v.sys(tuple("debug"_a, "bogus"_a)) == Term("unknown_debug"_a));
        CHECK(v.sys(tuple("debug"_a, tuple("log"_a, 3))) == Term("unknown_debug"_a));
        // A From without a pid cannot be answered: ignored.
        v.me.send(v.vault.pid(), tuple("system"_a, tuple("nopid"_a, "t"_a), "get_state"_a));
        CHECK(v.call("get"_a) == Term(0));
    }
}
