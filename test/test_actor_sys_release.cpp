// sys:get_state and sys:replace_state replies to a caller on another node, with the default
// SysStateReplies::automatic: {ok, State} at once to a node whose handshake shows OTP 28+ (as
// ours do), and the bare State, logged, when the caller's node cannot be asked its release. The
// question itself (erlang:system_info(otp_release) to an OTP 25 or 27 node, which no flag shows)
// is tested against real erl nodes in interop/test_sys.cpp.
#include <doctest/doctest.h>

#include <mutex>

#include "distribute/actor.hpp"
#include "distribute/messaging.hpp"
#include "distribute/rpc.hpp"
#include "node_support.hpp"
#include "sys_request.hpp"

using namespace distribute;
using namespace distribute::testing;
using namespace std::chrono_literals;

namespace {

// A counter: state() shows it; replace_state adds one.
class Counter : public Actor {
  public:
    CallResult handle_call(const Term&, From) override { return Reply{Term(count_)}; }
    std::optional<Term> state() const override { return map({{Term("count"_a), Term(count_)}}); }
    Expected<Term, SysError> replace_state(const Term&) override {
        ++count_;
        return *state();
    }

  private:
    std::int64_t count_ = 7;
};

// A node's log lines, kept.
struct Lines {
    std::shared_ptr<std::vector<std::string>> lines = std::make_shared<std::vector<std::string>>();
    std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();

    NodeOptions options(std::uint16_t port, std::string_view prefix) const {
        NodeOptions o = node_options(port, prefix, EpmdMode::embedded);
        o.log = [lines = lines, mutex = mutex](LogLevel, std::string_view line) {
            std::lock_guard lock(*mutex);
            lines->emplace_back(line);
        };
        return o;
    }
    std::string text() const {
        std::lock_guard lock(*mutex);
        std::string all;
        for (const auto& line : *lines)
            all += line + "\n";
        return all;
    }
    bool contain(std::string_view part) const {
        std::lock_guard lock(*mutex);
        for (const auto& line : *lines)
            if (line.find(part) != std::string::npos) return true;
        return false;
    }
};

const Term state7 = map({{Term("count"_a), Term(7)}});

}  // namespace

TEST_SUITE("actor sys release") {
    TEST_CASE("a caller on a node whose handshake shows OTP 28+ gets {ok, State}, unasked") {
        std::uint16_t port = free_port();
        Lines log;
        Node a = start_node(log.options(port, "sysrel_a"));
        Node b = start_node(node_options(port, "sysrel_b"));
        // b could not answer the question: it is not asked.
        REQUIRE(rpc_registry(b).remove("erlang"_a, "system_info"_a, 1));
        auto counter = spawn_actor(a, std::make_unique<Counter>(), {.name = "counter"_a});
        REQUIRE(counter.has_value());
        Mailbox me = b.open_mailbox();
        CHECK(sys_request(me, counter->pid(), "get_state"_a) == tuple(atoms::ok, state7));
        CHECK(sys_request(me, counter->pid(), tuple("replace_state"_a, "f"_a)) ==
              tuple(atoms::ok, map({{Term("count"_a), Term(8)}})));
        CHECK_FALSE(log.contain("is unknown"));
        // bare is an override: the OTP 25 to 26.0 shape, whatever the caller.
        auto bare = spawn_actor(a, std::make_unique<Counter>(),
                                {.name = "bare"_a, .sys_state_replies = SysStateReplies::bare});
        REQUIRE(bare.has_value());
        CHECK(sys_request(me, bare->pid(), "get_state"_a) == state7);
    }

    TEST_CASE("a caller whose node cannot be asked its release gets the bare State, logged") {
        Lines log;
        Node node = start_node(log.options(free_port(), "sysrel_ghost"));
        auto counter = spawn_actor(node, std::make_unique<Counter>(), {});
        REQUIRE(counter.has_value());
        Mailbox me = node.open_mailbox();
        // A caller on a node nobody can reach, whose tag is an alias of ours: gen:reply sends the
        // reply to the alias, so it reaches us.
        const Pid ghost{"ghost@127.0.0.1"_a, 1, 0, 1};
        const Reference alias = me.alias();
        const Term alias_atom("alias"_a);
        const Term tag = list_from(std::span<const Term>(&alias_atom, 1), Term(alias));
        me.send(counter->pid(), tuple("system"_a, tuple(ghost, tag), "get_state"_a));
        CHECK(next_message(me) == tuple(tag, state7));
        INFO(log.text());
        CHECK(log.contain("sys: the OTP release of 'ghost@127.0.0.1' is unknown (no connection)"));
        // The actor goes on.
        auto got = request_term(me, ServerRef(counter->pid()), Term("get"_a), 10s);
        REQUIRE(got.has_value());
        CHECK(*got == Term(7));
    }
}
