// net::Session over the scripted transport: the handshake and frames survive any split of the
// byte stream, and every way a connection can fail (a read error, a write failing in the middle
// of a burst, a close during a read, silence, an oversized frame, a stalled handshake) ends the
// session exactly once on each side, with whole controls only.
#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "net/session.hpp"
#include "scripted_transport.hpp"
#include "waits.hpp"
#include "wire/flags.hpp"

using namespace distribute;
using namespace std::chrono_literals;
using testing::Script;
using testing::ScriptedLink;

namespace {

// What a session told its observer, for the test thread to wait on.
class Recorder : public net::SessionObserver {
  public:
    wire::HandshakeStatus on_peer_named(net::Session&) override {
        return wire::HandshakeStatus::ok;
    }
    void on_up(net::Session&) override {
        std::lock_guard lock(mutex_);
        ++ups_;
        changed_.notify_all();
    }
    void on_control(net::Session&, wire::Control&& control) override {
        std::lock_guard lock(mutex_);
        controls_.push_back(std::move(control));
        changed_.notify_all();
    }
    void on_end(net::Session&, const net::SessionEnd& end) override {
        std::lock_guard lock(mutex_);
        ends_.push_back(end);
        changed_.notify_all();
    }

    // Waits (bounded, so that a hang fails instead) until `condition` holds on what was recorded.
    template <class F>
    void wait_for(F condition) {
        std::unique_lock lock(mutex_);
        REQUIRE_MESSAGE(changed_.wait_for(lock, 60s, [&] { return condition(*this); }),
                        "the session did not get there in time");
    }
    int ups() const { return ups_; }
    const std::vector<wire::Control>& controls() const { return controls_; }
    const std::vector<net::SessionEnd>& ends() const { return ends_; }

  private:
    std::mutex mutex_;
    std::condition_variable changed_;
    int ups_ = 0;
    std::vector<wire::Control> controls_;
    std::vector<net::SessionEnd> ends_;
};

net::SessionSettings settings_for(const std::string& name) {
    net::SessionSettings s;
    s.handshake.node_name = name;
    s.handshake.creation = 1;
    s.handshake.offered_flags = wire::offered | wire::flag::published;
    s.handshake.required_flags = wire::required_of_peers;
    s.handshake.cookie_for = [](const std::string&) { return std::string("cookie"); };
    s.handshake.random_challenge = [n = std::uint32_t{0x1234}]() mutable { return n += 7919; };
    return s;
}

// Two sessions joined by a scripted link: `a` dials `b`. The io threads stop (and every handler
// has run) when the pair goes away, so counts read afterwards are final.
struct SessionPair {
    net::asio::io_context io;
    std::optional<net::asio::executor_work_guard<net::asio::io_context::executor_type>> work{
        io.get_executor()};
    std::shared_ptr<ScriptedLink> link;
    Recorder a_seen, b_seen;
    std::shared_ptr<net::Session> a, b;
    std::vector<std::thread> threads;

    SessionPair(Script a_script, Script b_script,
                net::SessionSettings a_settings = settings_for("a@host"),
                net::SessionSettings b_settings = settings_for("b@host")) {
        link = ScriptedLink::make(io, std::move(a_script), std::move(b_script));
        a = std::make_shared<net::Session>(io, link->make_transport(0), std::move(a_settings),
                                           a_seen, "b@host");
        b = std::make_shared<net::Session>(io, link->make_transport(1), std::move(b_settings),
                                           b_seen, "");
        b->start();
        a->start();
        for (int i = 0; i < 2; ++i)
            threads.emplace_back([this] { io.run(); });
    }
    void both_up() {
        a_seen.wait_for([](const Recorder& r) { return r.ups() == 1; });
        b_seen.wait_for([](const Recorder& r) { return r.ups() == 1; });
    }
    void both_ended() {
        a_seen.wait_for([](const Recorder& r) { return !r.ends().empty(); });
        b_seen.wait_for([](const Recorder& r) { return !r.ends().empty(); });
    }
    // Lets every handler run out: what was recorded is then all there will ever be.
    void finish() {
        a->close();
        b->close();
        work.reset();
        for (auto& t : threads)
            t.join();
        threads.clear();
    }
    ~SessionPair() {
        if (!threads.empty()) finish();
    }
};

const Pid to{"b@host"_a, 40, 0, 1};

wire::Control numbered(int i) {
    // Messages 9, 59, 109... are larger than a session's 64 KB read buffer, the rest small.
    const std::string filler(i % 50 == 9 ? 70000 : 20, static_cast<char>('a' + i % 26));
    return wire::Send{to, tuple(i, binary(filler)), std::nullopt};
}

// Holds the writes of `pair.a` with the write of `first` in flight: its lanes then only grow,
// none of their bytes taken, until the writes are released or the session ends.
void hold_writes_after(SessionPair& pair, const wire::Control& first) {
    const int before = pair.link->writes(0);
    pair.link->hold_writes(0);
    pair.a->send(first);
    testing::eventually([&] { return pair.link->writes(0) == before + 1; });
}

// A program's thread sending on a session; a test that fails while it waits there ends the
// session, so that it goes on and is joined.
struct ProgramThread {
    net::Session& session;
    std::thread thread;
    ~ProgramThread() {
        if (!thread.joinable()) return;
        session.close();
        thread.join();
    }
};

// Whole controls 0, 1, ... in order, nothing else: a prefix of what was sent.
void check_prefix(const std::vector<wire::Control>& got) {
    for (std::size_t i = 0; i < got.size(); ++i)
        REQUIRE(got[i] == numbered(static_cast<int>(i)));
}

}  // namespace

TEST_SUITE("session") {
    TEST_CASE("the handshake and every control come through whatever pieces the bytes arrive in") {
        std::mt19937 random(20261203);
        std::vector<std::size_t> odd_pieces;
        for (int i = 0; i < 500; ++i)
            odd_pieces.push_back(std::uniform_int_distribution<std::size_t>(1, 4099)(random));
        // Fewer controls where each byte is a read of its own: two large ones still among them.
        const std::vector<std::pair<std::vector<std::size_t>, std::size_t>> cases{
            {{1}, 60}, {{3, 1, 2}, 60}, {odd_pieces, 200}, {{}, 200}};
        for (const auto& [pieces, count] : cases) {
            CAPTURE(pieces.size());
            SessionPair pair(Script{.read_pieces = pieces}, Script{.read_pieces = pieces});
            pair.both_up();
            for (int i = 0; i < static_cast<int>(count); ++i) {
                pair.a->send(numbered(i));
                pair.b->send(numbered(i));
            }
            const std::size_t n = count;
            pair.b_seen.wait_for([n](const Recorder& r) { return r.controls().size() == n; });
            pair.a_seen.wait_for([n](const Recorder& r) { return r.controls().size() == n; });
            pair.finish();
            check_prefix(pair.a_seen.controls());
            check_prefix(pair.b_seen.controls());
            CHECK(pair.a_seen.controls().size() == count);
            CHECK(pair.b_seen.ends().size() == 1);
            CHECK(pair.a_seen.ends().size() == 1);
        }
    }

    TEST_CASE(
        "fragments that arrive back to back are joined where they were read, whatever pieces "
        "the bytes come in, and a message past the joining limit is reassembled") {
        // 150,000 bytes: three fragments joined in the receive buffer; 2,500,000: joined up to
        // 1 MiB, the rest through the decoder's reassembly; small frames between the messages.
        const Pid sender{"a@host"_a, 1, 0, 1};
        auto message = [&](std::size_t size, char fill) -> wire::Control {
            return wire::SendSender{sender, to, tuple("m"_a, binary(std::string(size, fill))), {}};
        };
        const std::vector<wire::Control> sent{message(150'000, 'x'), message(20, 'y'),
                                              message(2'500'000, 'z'), message(150'000, 'w')};
        for (const std::vector<std::size_t>& pieces :
             std::vector<std::vector<std::size_t>>{{}, {7, 70'001, 3}, {65'536}}) {
            CAPTURE(pieces.size());
            SessionPair pair(Script{}, Script{.read_pieces = pieces});
            pair.both_up();
            for (const auto& control : sent)
                pair.a->send(control);
            pair.b_seen.wait_for([&](const Recorder& r) { return r.controls().size() == 4; });
            CHECK(pair.b->traffic().reassembly_bytes == 0);
            pair.finish();
            for (std::size_t i = 0; i < sent.size(); ++i)
                CHECK(pair.b_seen.controls()[i] == sent[i]);
            // 3 + 1 + 39 + 3 frames of at most 64 KiB.
            CHECK(pair.b->traffic().messages_in == 46);
        }
    }

    TEST_CASE(
        "a read failing before the peer's first handshake message ends both sessions once, "
        "neither of them up") {
        SessionPair pair(Script{.fail_read = 1}, Script{});
        pair.both_ended();
        pair.finish();
        REQUIRE(pair.a_seen.ends().size() == 1);
        REQUIRE(pair.b_seen.ends().size() == 1);
        CHECK(pair.a_seen.ends()[0].cause == net::SessionEnd::Cause::peer_closed);
        CHECK_FALSE(pair.a_seen.ends()[0].was_up);
        CHECK_FALSE(pair.b_seen.ends()[0].was_up);
        CHECK(pair.a_seen.ups() == 0);
    }

    TEST_CASE("a peer that closes on our challenge reply has refused our digest (a wrong cookie)") {
        // The acceptor's second read, the one the challenge reply would come in, fails: it
        // closes, as a BEAM closes on a digest made with another cookie.
        SessionPair pair(Script{}, Script{.fail_read = 2});
        pair.both_ended();
        pair.finish();
        REQUIRE(pair.a_seen.ends().size() == 1);
        CHECK(pair.a_seen.ends()[0].cause == net::SessionEnd::Cause::handshake_failed);
        CHECK(pair.a_seen.ends()[0].handshake_error == wire::HandshakeErrc::bad_digest);
        CHECK(pair.b_seen.ends()[0].cause == net::SessionEnd::Cause::peer_closed);
    }

    TEST_CASE(
        "a write failing in the middle of a burst ends the session once; the peer gets whole "
        "controls only") {
        // The dialling side writes its name and its challenge reply, then the burst: its first
        // write puts 100 bytes on the wire (one small frame and part of the next) and fails.
        SessionPair pair(Script{.fail_write = 3, .fail_write_after = 100},
                         Script{.read_pieces = {7}});
        pair.both_up();
        for (int i = 0; i < 100; ++i)
            pair.a->send(numbered(i));
        pair.both_ended();
        pair.finish();
        REQUIRE(pair.a_seen.ends().size() == 1);
        REQUIRE(pair.b_seen.ends().size() == 1);
        CHECK(pair.a_seen.ends()[0].cause == net::SessionEnd::Cause::peer_closed);
        CHECK(pair.a_seen.ends()[0].detail.find("write failed") == 0);
        CHECK(pair.b_seen.ends()[0].cause == net::SessionEnd::Cause::peer_closed);
        CHECK(pair.b_seen.ends()[0].was_up);
        check_prefix(pair.b_seen.controls());
        CHECK(pair.b_seen.controls().size() < 100);
    }

    TEST_CASE(
        "a close while a read is pending ends that session as closed by us, and the peer's as "
        "closed by the peer") {
        SessionPair pair(Script{}, Script{});
        pair.both_up();
        pair.a->close("test over");
        pair.both_ended();
        pair.finish();
        REQUIRE(pair.a_seen.ends().size() == 1);
        REQUIRE(pair.b_seen.ends().size() == 1);
        CHECK(pair.a_seen.ends()[0].cause == net::SessionEnd::Cause::closed_by_us);
        CHECK(pair.a_seen.ends()[0].detail == "test over");
        CHECK(pair.b_seen.ends()[0].cause == net::SessionEnd::Cause::peer_closed);
        CHECK(pair.b_seen.ends()[0].detail == "connection closed by peer");
    }

    TEST_CASE("a peer whose bytes stop arriving is dropped after its tick window") {
        auto quick = [](const std::string& name) {
            auto s = settings_for(name);
            s.tick_interval = 10ms;
            s.tick_intervals = 3;
            return s;
        };
        // The dialling side reads the acceptor's status, challenge and ack (three reads at most,
        // with one piece each), then nothing more.
        SessionPair pair(Script{.read_pieces = {4096}, .stall_after_reads = 3}, Script{},
                         quick("a@host"), quick("b@host"));
        pair.a_seen.wait_for([](const Recorder& r) { return !r.ends().empty(); });
        pair.finish();
        REQUIRE(pair.a_seen.ends().size() == 1);
        CHECK(pair.a_seen.ends()[0].cause == net::SessionEnd::Cause::tick_timeout);
        CHECK(pair.a_seen.ends()[0].was_up);
    }

    TEST_CASE(
        "a frame over the receiver's limit ends its session as a bad frame; nothing after it "
        "is read") {
        auto small = settings_for("b@host");
        small.max_frame_bytes = 1000;
        SessionPair pair(Script{}, Script{}, settings_for("a@host"), small);
        pair.both_up();
        pair.a->send(numbered(0));  // small
        pair.a->send(numbered(9));  // 70 KB
        pair.a->send(numbered(1));
        pair.both_ended();
        pair.finish();
        REQUIRE(pair.b_seen.ends().size() == 1);
        CHECK(pair.b_seen.ends()[0].cause == net::SessionEnd::Cause::bad_frame);
        CHECK(pair.b_seen.ends()[0].detail.find("over the limit of 1000") != std::string::npos);
        REQUIRE(pair.b_seen.controls().size() == 1);
        CHECK(pair.b_seen.controls()[0] == numbered(0));
        REQUIRE(pair.a_seen.ends().size() == 1);
        CHECK(pair.a_seen.ends()[0].cause == net::SessionEnd::Cause::peer_closed);
    }

    TEST_CASE("a handshake that stalls ends at the handshake deadline, the session never up") {
        auto impatient = settings_for("a@host");
        impatient.handshake_timeout = 50ms;
        SessionPair pair(Script{}, Script{.stall_after_reads = 1}, impatient,
                         settings_for("b@host"));
        pair.a_seen.wait_for([](const Recorder& r) { return !r.ends().empty(); });
        pair.finish();
        REQUIRE(pair.a_seen.ends().size() == 1);
        CHECK(pair.a_seen.ends()[0].cause == net::SessionEnd::Cause::handshake_timeout);
        CHECK(pair.a_seen.ups() == 0);
    }

    TEST_CASE(
        "a fragmented message does not hold up another sender's message, and its own sender's "
        "next one waits behind it") {
        SessionPair pair(Script{}, Script{});
        pair.both_up();
        const Pid first{"a@host"_a, 1, 0, 1};
        const Pid second{"a@host"_a, 2, 0, 1};
        const wire::Control large =
            wire::SendSender{first, to, tuple("large"_a, binary(std::string(600'000, 'f'))), {}};
        const wire::Control other = wire::SendSender{second, to, "other"_a, {}};
        const wire::Control after = wire::SendSender{first, to, "after"_a, {}};
        // From a node thread, so that all three are queued before the first write goes out.
        net::asio::post(pair.io, [&] {
            pair.a->send(large);
            pair.a->send(other);
            pair.a->send(after);
        });
        pair.b_seen.wait_for([](const Recorder& r) { return r.controls().size() == 3; });
        CHECK(pair.b_seen.controls()[0] == other);
        CHECK(pair.b_seen.controls()[1] == large);
        CHECK(pair.b_seen.controls()[2] == after);
        // Ten fragments (600,000 bytes in pieces of 64 KiB) and the two small frames.
        CHECK(pair.b->traffic().messages_in == 12);
    }

    TEST_CASE(
        "two large messages of different senders take turns, several fragments a write: the "
        "smaller one, queued second, ends first, and a small message goes before both") {
        SessionPair pair(Script{}, Script{});
        pair.both_up();
        const Pid first{"a@host"_a, 1, 0, 1};
        const Pid second{"a@host"_a, 2, 0, 1};
        const Pid third{"a@host"_a, 3, 0, 1};
        const wire::Control larger =
            wire::SendSender{first, to, tuple("larger"_a, binary(std::string(600'000, 'l'))), {}};
        const wire::Control smaller =
            wire::SendSender{second, to, tuple("smaller"_a, binary(std::string(200'000, 's'))), {}};
        const wire::Control small = wire::SendSender{third, to, "small"_a, {}};
        const wire::Control after = wire::SendSender{first, to, "after"_a, {}};
        const int writes_before = pair.link->writes(0);
        // From a node thread, so that all four are queued before the first write goes out.
        net::asio::post(pair.io, [&] {
            pair.a->send(larger);
            pair.a->send(smaller);
            pair.a->send(small);
            pair.a->send(after);
        });
        pair.b_seen.wait_for([](const Recorder& r) { return r.controls().size() == 4; });
        CHECK(pair.b_seen.controls()[0] == small);
        CHECK(pair.b_seen.controls()[1] == smaller);
        CHECK(pair.b_seen.controls()[2] == larger);
        CHECK(pair.b_seen.controls()[3] == after);
        // 10 + 4 fragments and two small frames: about 800 KB in writes of at least 256 KiB but
        // the last, where one fragment a write took 11.
        CHECK(pair.b->traffic().messages_in == 16);
        CHECK(pair.link->writes(0) - writes_before <= 4);
    }

    TEST_CASE("the fragments a held write took count as queued until they are written") {
        auto roomy = settings_for("a@host");
        roomy.busy_limit = 8 * 1024 * 1024;  // the sender goes on while the write is held
        SessionPair pair(Script{}, Script{}, roomy);
        pair.both_up();
        const int before = pair.link->writes(0);
        pair.link->hold_writes(0);
        const wire::Control large =
            wire::SendSender{{"a@host"_a, 1, 0, 1}, to, binary(std::string(1'000'000, 'q')), {}};
        pair.a->send(large);
        // The first write holds a batch of fragments; the rest wait in the sender's lane.
        testing::eventually([&] { return pair.link->writes(0) == before + 1; });
        CHECK(pair.a->traffic().queued_bytes > 1'000'000);
        pair.link->release_writes(0);
        pair.b_seen.wait_for([](const Recorder& r) { return r.controls().size() == 1; });
        testing::eventually([&] { return pair.a->traffic().queued_bytes == 0; });
        pair.finish();
        CHECK(pair.b_seen.controls()[0] == large);
    }

    TEST_CASE(
        "a program thread behind its own large messages waits while the writes are held, goes "
        "on when they are written, and waits once per half a busy limit written; every message "
        "arrives whole and in order") {
        auto tight = settings_for("a@host");
        tight.busy_limit = 512 * 1024;
        SessionPair pair(Script{}, Script{}, tight);
        pair.both_up();
        const wire::Control first = wire::SendSender{{"a@host"_a, 2, 0, 1}, to, "first"_a, {}};
        hold_writes_after(pair, first);
        const Pid sender{"a@host"_a, 1, 0, 1};
        // 70,000 bytes: two fragments each; 60 of them are 4.2 MB, eight busy limits.
        constexpr int count = 60;
        auto message = [&](int i) -> wire::Control {
            return wire::SendSender{
                sender,
                to,
                tuple(i, binary(std::string(70'000, static_cast<char>('a' + i % 26)))),
                {}};
        };
        std::atomic<int> sent{0};
        ProgramThread program{*pair.a, std::thread([&] {
                                  for (int i = 0; i < count; ++i) {
                                      pair.a->send(message(i));
                                      sent.store(i + 1);
                                  }
                              })};
        // With nothing written, the lane grows past the limit and its sender waits there.
        testing::eventually([&] { return pair.a->traffic().busy_waits == 1; });
        CHECK(pair.a->traffic().queued_bytes > tight.busy_limit);
        CHECK(sent.load() < count);
        pair.link->release_writes(0);
        pair.b_seen.wait_for([](const Recorder& r) { return r.controls().size() == count + 1; });
        program.thread.join();
        pair.finish();
        CHECK(pair.b_seen.controls()[0] == first);
        for (int i = 0; i < count; ++i)
            CHECK(pair.b_seen.controls()[static_cast<std::size_t>(i) + 1] == message(i));
        // Once waiting, it goes on when its lane is down to half the limit, so it queues over
        // half a limit before it waits again; going on below the limit itself, it would wait
        // about once per message.
        const std::size_t queued = count * std::size_t{71'000};  // with headers, at most
        CHECK(pair.a->traffic().busy_waits <= 1 + queued / (tight.busy_limit / 2));
    }

    TEST_CASE(
        "a program thread waiting behind its lane goes on when the session closes, and what it "
        "sends after is dropped") {
        auto tight = settings_for("a@host");
        tight.busy_limit = 256 * 1024;
        SessionPair pair(Script{}, Script{}, tight);
        pair.both_up();
        hold_writes_after(pair, wire::SendSender{{"a@host"_a, 2, 0, 1}, to, "first"_a, {}});
        const Pid sender{"a@host"_a, 1, 0, 1};
        const wire::Control large =
            wire::SendSender{sender, to, tuple("large"_a, binary(std::string(100'000, 'x'))), {}};
        std::promise<void> done;
        ProgramThread program{*pair.a, std::thread([&] {
                                  for (int i = 0; i < 10; ++i)
                                      pair.a->send(large);
                                  done.set_value();
                              })};
        testing::eventually([&] { return pair.a->traffic().busy_waits == 1; });
        pair.a->close("test over");
        REQUIRE(done.get_future().wait_for(60s) == std::future_status::ready);
        program.thread.join();
        pair.both_ended();
        const std::size_t sent_out = pair.a->traffic().messages_out;
        pair.finish();
        CHECK(pair.a_seen.ends()[0].cause == net::SessionEnd::Cause::closed_by_us);
        // Nothing was written (the write of the first frame was held, then failed by the
        // close), and what it sent once the session had ended was dropped: the first frame and
        // three messages (the third past the limit) went out, not the other seven.
        CHECK(pair.b_seen.controls().empty());
        CHECK(sent_out == 4);
    }
}  // TEST_SUITE
