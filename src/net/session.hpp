// One distribution connection: the handshake, then frames both ways and ticks, over a Transport.
// Everything the session does runs on its transport's strand; send() may be called from any
// thread and coalesces what queues up while a write is in flight into the next single write. The
// session knows nothing of processes: it reports to a SessionObserver (the node) and takes
// controls to send.
//
// A message over 64 KiB to a peer that takes fragments goes out in fragments, one per lane turn
// (a write takes rounds of turns, up to a batch of bytes), interleaved with everything else
// queued (wire/fragment_sender.hpp), so that it does not hold up the small messages of other
// processes; it is encoded before the send queue's lock is taken. What its own sender sends
// after it waits behind it (a lane per sending process), keeping each process's signals in
// order. Only frames written in the order they are encoded (those that go through pending_, not
// a lane) refer to atoms through the peer's atom cache.
// Large binaries in a message are not copied into the queue: a write gathers views of them
// (wire/outgoing_bytes.hpp), and the queue holds their terms until they are written.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "distribute/term.hpp"
#include "net/asio.hpp"
#include "net/transport.hpp"
#include "wire/control.hpp"
#include "wire/fragment_sender.hpp"
#include "wire/framing.hpp"
#include "wire/handshake.hpp"

namespace distribute::net {

class Session;

// Why a session ended, for the log line and for the node's decision about the peer.
struct SessionEnd {
    enum class Cause {
        closed_by_us,       // close() was called
        peer_closed,        // EOF or a socket error
        handshake_failed,   // refused, bad cookie, missing flags ... (handshake says which)
        handshake_timeout,  // the peer did not finish the handshake in time
        tick_timeout,       // nothing arrived for the whole tick window (net_tick_timeout)
        bad_frame,          // a frame that does not decode: the peer is broken or hostile
        send_queue_full,    // the peer read too little of what we sent (max_send_queue_bytes)
        // Both nodes dialled each other and this attempt is the one that gives way: we answered
        // the peer nok (our own attempt wins), or the peer answered ours nok and its attempt did
        // not reach us in time. Neither is a refusal of the peer.
        simultaneous,
    };
    Cause cause = Cause::closed_by_us;
    std::string detail;
    bool was_up = false;  // the handshake had completed
    // handshake_failed: the handshake's reason (bad_digest is a cookie mismatch).
    wire::HandshakeErrc handshake_error{};
};

// Called on the session's strand, so calls for one session never overlap.
class SessionObserver {
  public:
    virtual ~SessionObserver() = default;
    // Acceptor side: the peer named itself; the answer decides the handshake status.
    virtual wire::HandshakeStatus on_peer_named(Session& session) = 0;
    virtual void on_up(Session& session) = 0;
    // Controls arrive in the order the peer sent them.
    virtual void on_control(Session& session, wire::Control&& control) = 0;
    // Exactly once per session, whether or not it came up.
    virtual void on_end(Session& session, const SessionEnd& end) = 0;
};

struct SessionSettings {
    wire::HandshakeSettings handshake;
    std::chrono::milliseconds handshake_timeout{7000};  // the BEAM's net_setuptime default
    // A tick goes out after a quiet interval; the peer is dropped after `tick_intervals` silent
    // intervals. net_ticktime 60 gives 15 s intervals and a drop after 60 s of silence. A tick
    // from the peer is answered when nothing else went to it since its previous one, so a peer
    // with a shorter net_ticktime hears from us in time too.
    std::chrono::milliseconds tick_interval{15000};
    unsigned tick_intervals = 4;
    etf::DecodeOptions decode;
    std::size_t max_frame_bytes = std::size_t{1} << 30;
    // What fragmented messages in progress may hold (wire/fragments.hpp).
    wire::ReassemblyLimits reassembly;
    // Queued bytes past which a sending thread waits for the writer (the BEAM's
    // dist_buf_busy_limit is 1 MB too).
    std::size_t busy_limit = std::size_t{1} << 20;
    // Bytes waiting for the writer past which a further message ends the session
    // (send_queue_full); a message is queued whatever its size when nothing else waits.
    std::size_t max_send_queue_bytes = std::size_t{1} << 30;
    // Atoms the peer's frames may add to the atom table (decode.atom_budget is the session's).
    std::size_t max_new_atoms = 100000;
    // Our frames refer to atoms through the peer's atom cache where DIST_HDR_ATOM_CACHE is
    // agreed (NodeOptions::atom_cache).
    bool atom_cache = true;
};

// What went through a session once it was up (the handshake is not counted), for Node::stats.
struct SessionTraffic {
    std::uint64_t messages_in = 0;  // frames carrying a control message
    std::uint64_t messages_out = 0;
    std::uint64_t bytes_in = 0;  // frames with their 4-byte length headers, ticks included
    std::uint64_t bytes_out = 0;
    std::uint64_t ticks_in = 0;
    std::uint64_t ticks_out = 0;
    std::size_t queued_bytes = 0;      // encoded for the peer, not yet written to the socket
    std::uint64_t busy_waits = 0;      // times a program thread waited past busy_limit
    std::size_t reassembly_bytes = 0;  // held by the peer's fragmented messages in progress
    std::chrono::steady_clock::time_point last_received{};  // the peer's last bytes
};

class Session : public std::enable_shared_from_this<Session> {
  public:
    // `dialled`: the node name we connect to (initiator); empty when the peer dialled us.
    Session(asio::io_context& io, std::unique_ptr<Transport> transport, SessionSettings settings,
            SessionObserver& observer, std::string dialled);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    void start();
    // Any thread. Only after on_up; earlier sends are a programmer error (the node queues them).
    void send(const wire::Control& control);
    // Any thread, any number of times: ends the session (on_end follows, once).
    void close(std::string reason = "closed");

    bool is_initiator() const { return !dialled_.empty(); }
    // Valid from on_peer_named (acceptor) or on_up (initiator) on.
    const wire::HandshakePeer& peer() const { return handshake_.peer(); }
    // Acceptor, within on_peer_named, for a peer that wants a name (peer().wants_name): the name
    // and creation it gets; answer HandshakeStatus::named.
    void assign_peer_name(std::string name, std::uint32_t creation) {
        handshake_.assign_peer_name(std::move(name), creation);
    }
    // Initiator with HandshakeSettings::ask_for_name: our name and creation, from on_up on.
    const std::optional<wire::AssignedName>& assigned_name() const { return handshake_.assigned(); }
    std::uint64_t negotiated() const { return negotiated_; }
    std::string peer_address() const { return address_; }
    // Any thread.
    SessionTraffic traffic() const;
    // "plaintext" or "encrypted (...)"; the key an encrypted peer proved it holds.
    std::string security() const { return transport_->security(); }
    std::optional<std::array<std::uint8_t, 32>> peer_key() const { return transport_->peer_key(); }

    // The node's bookkeeping, set from on_peer_named (acceptor) or before start (initiator): the
    // peer's name as an atom, and which connection incarnation the session carries.
    Atom peer_node;
    std::uint64_t connection_id = 0;
    // The node's token for the io_context this session lives on, held for the session's life:
    // the node counts a context's sessions by its token's use (Runtime::connection_context).
    std::shared_ptr<const void> context_token;
    // Whether the node takes this session's controls: set as it comes up carrying its
    // connection, cleared when another session takes the connection's place or as it ends (all
    // under the node's registry lock). Read on the strand for every frame, so that a message
    // needs no look-up of its connection.
    std::atomic<bool> carrying{false};

  private:
    void read();
    void on_read(const boost::system::error_code& error, std::size_t n);
    bool feed_handshake();
    bool feed_frames();
    bool join_next_fragment(std::span<const std::uint8_t> frame);
    bool decode_frame(std::span<const std::uint8_t> frame);
    void publish_reassembly_bytes();
    void make_room();
    SharedBuffer take_spare(std::size_t size);
    void keep_spare(SharedBuffer buffer);
    void handshake_output();
    void become_up();
    bool write_now();
    void schedule_write();
    bool write(std::unique_lock<std::mutex>& lock);
    void send_fragmented(const wire::Control& control, std::uint64_t flags);
    bool over_queue_limit(const wire::OutgoingBytes::Mark& before, std::size_t added,
                          std::unique_lock<std::mutex>& lock);
    struct Lane;
    Lane* lane_of(const std::optional<Pid>& sender);
    Lane& lane_for(const std::optional<Pid>& sender);
    void queue_frame_in_lane(const std::optional<Pid>& sender,
                             const wire::OutgoingBytes::Mark& start);
    void count_lane_bytes(Lane& lane, std::size_t added);
    // A sender may be held back (busy_limit) only on a thread that runs no node's io_context
    // (`own_thread`: the calling thread runs this session's): the write it waits for may need
    // that very thread.
    static bool may_wait_on(bool own_thread);
    void wait_behind_lane(const std::optional<Pid>& sender, bool may_wait,
                          std::unique_lock<std::mutex>& lock);
    bool take_lane_turns();
    // Where a sender waiting behind its lane goes on (see wait_behind_lane).
    std::size_t resume_mark() const { return settings_.busy_limit / 2; }
    void arm_tick();
    void on_tick();
    void answer_tick();
    void end(SessionEnd::Cause cause, std::string detail);

    asio::io_context& io_;
    Strand strand_;  // the transport's
    std::unique_ptr<Transport> transport_;
    SessionSettings settings_;
    SessionObserver& observer_;
    std::string dialled_;
    std::string address_;
    wire::Handshake handshake_;
    bool up_ = false;
    bool ended_ = false;
    std::uint64_t negotiated_ = 0;
    etf::AtomBudget atom_budget_;  // what the peer's frames may add to the atom table
    std::optional<wire::FrameDecoder> decoder_;

    // Received bytes: [begin_, end_) of in_ are not yet consumed, frames from scan_ on not yet
    // looked at. A buffer that decoded binaries still point into is never written again before
    // end_; a fresh one takes its place when more room is needed.
    SharedBuffer in_;
    // Buffers in_ replaced: used again once the binaries that pointed into them are gone, so a
    // stream of large messages does not allocate (and fault in) a fresh buffer for each.
    std::vector<SharedBuffer> spares_;
    std::size_t begin_ = 0;
    std::size_t scan_ = 0;
    std::size_t end_ = 0;
    // A first fragment at begin_ whose continuations are being joined onto it in place (ending
    // at held_end_; bytes from there to scan_ are spent): see wire::OpenSequence.
    std::optional<wire::OpenSequence> held_;
    std::size_t held_end_ = 0;
    bool read_since_tick_ = false;
    unsigned silent_intervals_ = 0;
    // Written on the strand, read by traffic() from any thread.
    std::atomic<std::uint64_t> messages_in_{0};
    std::atomic<std::uint64_t> bytes_in_{0};
    std::atomic<std::uint64_t> ticks_in_{0};
    std::atomic<std::size_t> reassembly_bytes_{0};
    std::atomic<std::chrono::steady_clock::rep> last_received_{0};

    // The negotiated flags once up (0 before): what a message encoded outside the lock needs.
    std::atomic<std::uint64_t> send_flags_{0};
    mutable std::mutex out_mutex_;  // guards the three below, the encoder and the out counters
    std::optional<wire::FrameEncoder> encoder_;
    wire::OutgoingBytes pending_;  // queued while a write is in flight
    bool writing_ = false;
    std::uint64_t messages_out_ = 0;
    std::uint64_t bytes_out_ = 0;
    std::uint64_t ticks_out_ = 0;
    std::uint64_t busy_waits_ = 0;
    // When a write last went out (write_now or the strand's): sends closer together than
    // coalesce_window are gathered into one write instead of a syscall each.
    std::chrono::steady_clock::time_point last_write_{};
    bool closed_ = false;  // ended: sends are dropped, waiting senders released
    // pending_ went back within busy_limit, a lane down to resume_mark(), or closed_.
    std::condition_variable drained_;
    wire::OutgoingBytes in_flight_;  // owned by the write in progress (strand only)

    // What waits behind a message going out in fragments: whole frames gathered, or another
    // fragmented message.
    struct Queued {
        wire::OutgoingBytes frames;
        std::optional<wire::OutgoingFragments> fragments;
    };
    // One per sending process with a fragmented message under way (sender nullopt: the controls
    // that name none). Each write takes the front fragment or frames of every lane.
    struct Lane {
        std::optional<Pid> sender;
        std::deque<Queued> queue;
        std::size_t bytes = 0;  // not yet taken into a write
    };
    std::deque<Lane> lanes_;
    std::uint64_t next_sequence_ = 1;       // sequence ids of fragmented messages, per connection
    std::size_t lane_bytes_ = 0;            // all lanes' bytes
    std::size_t lane_bytes_in_flight_ = 0;  // lanes' bytes the write in flight took
    // Owned by the write in progress: fragment prefixes (a deque: parts_ points into them as
    // they are added), the parts it gathers, and the lane items it finished (their buffers are
    // still being written).
    std::deque<wire::OutgoingFragments::Prefix> prefixes_;
    wire::ByteViews parts_;
    std::vector<Queued> retired_;
    std::atomic<bool> wrote_since_tick_{false};
    // A frame or a tick of our own went out since the peer's last tick (answer_tick).
    std::atomic<bool> wrote_since_peer_tick_{false};

    asio::steady_timer handshake_timer_;
    asio::steady_timer tick_timer_;
};

}  // namespace distribute::net
