#include "net/session.hpp"

#include <algorithm>
#include <cstring>

#include "net/io_thread.hpp"
#include "term/etf_tags.hpp"

namespace distribute::net {
namespace {

// What a connection that is up reads into at first. One that receives frames larger than that
// gets buffers several times their size (up to kept_spare_capacity), so that each read takes
// many frames and the unconsumed tail is moved seldom.
constexpr std::size_t read_chunk = 64 * 1024;
// What a handshake in progress reads into: enough for the messages peers send (tens of bytes),
// grown only as far as a message announces (at most Handshake::max_message_bytes), so that
// sockets that never finish their handshake cost little.
constexpr std::size_t handshake_room = 256;
// Larger receive buffers are not kept as spares: one huge message must not pin its size. Nor
// are more than kept_spares of them: enough that, while the messages of one buffer are still
// in mailboxes, the next read finds a free one.
constexpr std::size_t kept_spare_capacity = 1024 * 1024;
constexpr std::size_t kept_spares = 4;
// A write buffer that grew past this for one huge message is given back afterwards.
constexpr std::size_t kept_write_capacity = 4 * 1024 * 1024;
// Shorter than any round trip, longer than the gap between the sends of a burst.
constexpr auto coalesce_window = std::chrono::microseconds(25);
// A write takes rounds of lane turns (one fragment, or the frames behind one, of each lane)
// until it holds this much: a lone large message goes out several fragments per system call
// instead of one, and what is queued meanwhile waits for at most this much before its turn.
constexpr std::size_t write_batch_bytes = 256 * 1024;

std::uint32_t load32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           p[3];
}

bool shared(const SharedBuffer& buffer) {
    return buffer.object() && buffer.object()->refs.load(std::memory_order_acquire) > 1;
}

}  // namespace

Session::Session(asio::io_context& io, std::unique_ptr<Transport> transport,
                 SessionSettings settings, SessionObserver& observer, std::string dialled)
    : io_(io),
      strand_(transport->strand()),
      transport_(std::move(transport)),
      settings_(std::move(settings)),
      observer_(observer),
      dialled_(std::move(dialled)),
      address_(transport_->peer_address()),
      handshake_(dialled_.empty() ? wire::Handshake::accept(settings_.handshake)
                                  : wire::Handshake::initiate(settings_.handshake, dialled_)),
      atom_budget_(settings_.max_new_atoms),
      in_(handshake_room),
      handshake_timer_(strand_),
      tick_timer_(strand_) {
    settings_.decode.atom_budget = &atom_budget_;
}

Session::~Session() = default;

void Session::start() {
    asio::dispatch(strand_, [self = shared_from_this()] {
        self->handshake_timer_.expires_after(self->settings_.handshake_timeout);
        self->handshake_timer_.async_wait([self](const boost::system::error_code& e) {
            if (e || self->up_) return;
            const std::string limit = std::to_string(self->settings_.handshake_timeout.count());
            if (self->handshake_.failure().code == wire::HandshakeErrc::lost_race)
                self->end(SessionEnd::Cause::simultaneous,
                          "the peer answered nok, and its own connection did not arrive within " +
                              limit + " ms");
            else
                self->end(SessionEnd::Cause::handshake_timeout,
                          "no complete handshake within " + limit + " ms");
        });
        self->handshake_output();
        self->read();
    });
}

void Session::close(std::string reason) {
    asio::dispatch(strand_, [self = shared_from_this(), reason = std::move(reason)]() mutable {
        self->end(SessionEnd::Cause::closed_by_us, std::move(reason));
    });
}

void Session::end(SessionEnd::Cause cause, std::string detail) {
    if (ended_) return;
    ended_ = true;
    handshake_timer_.cancel();
    tick_timer_.cancel();
    {
        // A refusal (or a nok) must reach the peer before the socket closes: the write in
        // flight closes it. A peer that read EOF instead of nok would drop what it had queued.
        std::lock_guard lock(out_mutex_);
        closed_ = true;
        drained_.notify_all();
        // Never written now (write() stops at ended_), so its memory goes at once.
        pending_.clear(0);
        const bool flush = cause == SessionEnd::Cause::handshake_failed ||
                           cause == SessionEnd::Cause::simultaneous;
        if (!(writing_ && flush)) transport_->close();
    }
    observer_.on_end(
        *this, SessionEnd{cause, std::move(detail), up_,
                          cause == SessionEnd::Cause::handshake_failed ? handshake_.failure().code
                                                                       : wire::HandshakeErrc{}});
}

// ---------------------------------------------------------------------------------------------
// Reading

void Session::read() {
    if (ended_) return;
    make_room();
    auto into = std::span<std::uint8_t>(in_.data() + end_, in_.size() - end_);
    transport_->async_read_some(
        into, [self = shared_from_this()](const boost::system::error_code& e, std::size_t n) {
            self->on_read(e, n);
        });
}

// Keeps room after end_ for the next read: unconsumed bytes move to the front of the buffer, or
// to another one when decoded binaries still use this one or the pending frame needs more space.
void Session::make_room() {
    const std::size_t kept = end_ - begin_;
    const std::size_t partial = end_ - scan_;  // of the frame not yet complete
    std::size_t needed =
        up_ ? std::max(read_chunk / 4, transport_->read_unit()) : handshake_room / 2;
    if (!up_ && kept >= 2) {
        const std::size_t length =
            std::min((std::size_t{in_.data()[begin_]} << 8) | in_.data()[begin_ + 1],
                     wire::Handshake::max_message_bytes);
        if (length + 2 > kept) needed = std::max(needed, length + 2 - kept);
    }
    if (up_ && partial >= 4) {
        // Room grows with what has arrived (doubling), not with the length the peer announced:
        // four bytes alone do not get a gigabyte allocated.
        const std::size_t missing = std::size_t{load32(in_.data() + scan_)} + 4 - partial;
        needed = std::max(needed, std::min(missing, std::max(read_chunk, kept)));
    }
    if (in_.size() - end_ >= needed) return;
    const std::size_t size = std::max(up_ ? read_chunk : handshake_room, kept + needed);
    if (!shared(in_) && in_.size() >= size) {
        std::memmove(in_.data(), in_.data() + begin_, kept);
    } else {
        // Frames larger than read_chunk: room for several of them.
        SharedBuffer fresh = take_spare(
            size > read_chunk ? std::max(size, std::min(8 * size, kept_spare_capacity)) : size);
        std::memcpy(fresh.data(), in_.data() + begin_, kept);
        keep_spare(std::exchange(in_, std::move(fresh)));
    }
    scan_ -= begin_;
    held_end_ -= std::min(held_end_, begin_);
    begin_ = 0;
    end_ = kept;
}

// A free spare of at least `size` bytes, or a new buffer.
SharedBuffer Session::take_spare(std::size_t size) {
    for (auto& spare : spares_) {
        if (spare.size() >= size && !shared(spare)) {
            SharedBuffer taken = std::move(spare);
            spare = std::move(spares_.back());
            spares_.pop_back();
            return taken;
        }
    }
    return SharedBuffer(size);
}

// Keeps a buffer in_ let go of, when there are kept_spares already in place of one still in use
// (which its users then free) or else of a smaller one: the spares follow the connection's
// frames. Spares kept from a stream of small frames (read_chunk large) would otherwise stay, and
// every buffer a stream of large frames needs would be a fresh one, faulted in page by page.
void Session::keep_spare(SharedBuffer buffer) {
    if (buffer.size() > kept_spare_capacity || buffer.size() < read_chunk) return;
    if (spares_.size() < kept_spares) {
        spares_.push_back(std::move(buffer));
        return;
    }
    auto replaced = std::find_if(spares_.begin(), spares_.end(),
                                 [](const SharedBuffer& spare) { return shared(spare); });
    if (replaced == spares_.end())
        replaced = std::min_element(
            spares_.begin(), spares_.end(),
            [](const SharedBuffer& a, const SharedBuffer& b) { return a.size() < b.size(); });
    if (shared(*replaced) || replaced->size() < buffer.size()) *replaced = std::move(buffer);
}

void Session::on_read(const boost::system::error_code& error, std::size_t n) {
    if (ended_) return;
    if (error) {
        // An encrypted record that does not open: the peer (or someone on the path) is bad.
        if (auto why = transport_->integrity_failure(); !why.empty())
            return end(SessionEnd::Cause::bad_frame, std::move(why));
        if (!up_ && handshake_.peer_closed() == wire::Handshake::Event::failed)
            return end(SessionEnd::Cause::handshake_failed, handshake_.failure().detail);
        end(SessionEnd::Cause::peer_closed,
            error == asio::error::eof ? "connection closed by peer" : error.message());
        return;
    }
    end_ += n;
    read_since_tick_ = true;
    last_received_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                         std::memory_order_relaxed);
    if (!up_ && !feed_handshake()) return;
    if (up_ && !feed_frames()) return;
    if (begin_ == end_ && !shared(in_)) begin_ = scan_ = end_ = 0;
    read();
}

bool Session::feed_handshake() {
    auto progress = handshake_.feed(std::span(in_.data() + begin_, end_ - begin_));
    begin_ += progress.used;
    using Event = wire::Handshake::Event;
    switch (progress.event) {
        case Event::none:
            handshake_output();
            return true;
        case Event::peer_named: {
            const auto status = observer_.on_peer_named(*this);
            handshake_.decide(status);
            handshake_output();
            if (handshake_.failure().code != wire::HandshakeErrc{}) {
                end(status == wire::HandshakeStatus::nok ? SessionEnd::Cause::simultaneous
                                                         : SessionEnd::Cause::handshake_failed,
                    handshake_.failure().detail);
                return false;
            }
            // The peer's next message may already be here.
            return begin_ == end_ || feed_handshake();
        }
        case Event::peer_says_alive:
            // We are dialling, so we hold no live connection to the peer: the old one it sees is
            // stale, and replacing it is what the BEAM's initiator does too.
            handshake_.replace_alive(true);
            handshake_output();
            return begin_ == end_ || feed_handshake();
        case Event::established:
            handshake_output();
            become_up();
            return !ended_;
        case Event::failed:
            handshake_output();
            // After a nok the peer's own attempt takes this connection over (and closes this
            // session); until then, or the handshake deadline, the session waits without
            // reading, so the node keeps the connection and what is queued on it, as the BEAM's
            // initiator does ("wait to be killed by net_kernel").
            if (handshake_.failure().code == wire::HandshakeErrc::lost_race) return false;
            end(SessionEnd::Cause::handshake_failed, handshake_.failure().detail);
            return false;
    }
    return true;
}

void Session::handshake_output() {
    auto bytes = handshake_.take_output();
    if (bytes.empty()) return;
    std::unique_lock lock(out_mutex_);
    pending_.append(bytes);
    if (!writing_) {
        writing_ = true;
        write(lock);
    }
}

void Session::become_up() {
    handshake_timer_.cancel();
    negotiated_ = handshake_.negotiated_flags();
    decoder_.emplace(negotiated_, settings_.decode, settings_.reassembly);
    scan_ = begin_;
    {
        std::lock_guard lock(out_mutex_);
        encoder_.emplace(negotiated_, settings_.atom_cache);
    }
    send_flags_.store(negotiated_, std::memory_order_release);
    up_ = true;
    observer_.on_up(*this);
    arm_tick();
}

// Frames from scan_ on, as far as they are complete. A frame is counted before what it carries
// is delivered, so that whoever gets the message sees it in traffic().
bool Session::feed_frames() {
    while (end_ - scan_ >= 4) {
        const std::size_t at = scan_;
        const std::size_t length = load32(in_.data() + at);
        if (length == 0) {  // a tick
            scan_ += 4;
            if (!held_) begin_ = scan_;
            ticks_in_.fetch_add(1, std::memory_order_relaxed);
            bytes_in_.fetch_add(4, std::memory_order_relaxed);
            answer_tick();
            continue;
        }
        if (length > settings_.max_frame_bytes) {
            end(SessionEnd::Cause::bad_frame, "frame of " + std::to_string(length) +
                                                  " bytes is over the limit of " +
                                                  std::to_string(settings_.max_frame_bytes));
            return false;
        }
        if (end_ - at < 4 + length) break;
        scan_ = at + 4 + length;
        messages_in_.fetch_add(1, std::memory_order_relaxed);
        bytes_in_.fetch_add(4 + length, std::memory_order_relaxed);
        auto frame = std::span<const std::uint8_t>(in_.data() + at + 4, length);
        if (held_) {
            const bool joined = join_next_fragment(frame);
            if (joined && held_->fragment > 1) continue;
            // Complete, or followed by another frame: decoded as it stands (as the rest of a
            // message, or as a first fragment the decoder's reassembly goes on from).
            auto whole =
                std::span<const std::uint8_t>(in_.data() + begin_ + 4, held_end_ - begin_ - 4);
            held_.reset();
            begin_ = joined ? scan_ : at;
            if (!decode_frame(whole)) return false;
            if (joined) continue;
        }
        if (auto open = wire::open_sequence(frame, negotiated_)) {
            held_ = open;
            held_end_ = scan_;
            publish_reassembly_bytes();
            continue;
        }
        begin_ = scan_;
        if (!decode_frame(frame)) return false;
    }
    return true;
}

// Appends the data of `frame` to the held first fragment when it is its next fragment and the
// joined frame stays within the frame limit, the reassembly limit and kept_spare_capacity
// (beyond that the decoder's reassembly takes over, which grows a buffer of its own).
bool Session::join_next_fragment(std::span<const std::uint8_t> frame) {
    const auto data = wire::next_fragment_data(*held_, frame);
    if (!data) return false;
    const std::size_t joined = held_end_ - begin_ - 4 + data->size();
    const std::size_t room = settings_.reassembly.max_bytes - decoder_->reassembly().bytes_held();
    if (joined > std::min({settings_.max_frame_bytes, room, kept_spare_capacity})) return false;
    // Backwards over the spent bytes between them (memmove: the two may overlap).
    std::memmove(in_.data() + held_end_, data->data(), data->size());
    held_end_ += data->size();
    --held_->fragment;
    etf::wire::store32(in_.data() + begin_, static_cast<std::uint32_t>(joined));
    wire::set_fragment_id(in_.data() + begin_ + 4, held_->fragment);
    publish_reassembly_bytes();
    return true;
}

bool Session::decode_frame(std::span<const std::uint8_t> frame) {
    auto decoded = decoder_->decode(in_, frame);
    if (frame.size() >= 2 && frame[0] == etf::version_magic &&
        (frame[1] == wire::dist_frag_header || frame[1] == wire::dist_frag_cont))
        publish_reassembly_bytes();
    if (!decoded) {
        end(SessionEnd::Cause::bad_frame, decoded.error().to_string());
        return false;
    }
    if (*decoded) observer_.on_control(*this, std::move(**decoded));
    return !ended_;
}

// For traffic(): what the decoder's reassembly holds, and a first fragment being joined.
void Session::publish_reassembly_bytes() {
    const std::size_t held = held_ ? held_end_ - begin_ : 0;
    reassembly_bytes_.store(decoder_->reassembly().bytes_held() + held, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------------
// Writing

void Session::send(const wire::Control& control) {
    const std::uint64_t flags = send_flags_.load(std::memory_order_acquire);
    if (wire::goes_in_fragments(control, flags)) {
        send_fragmented(control, flags);
        return;
    }
    std::unique_lock lock(out_mutex_);
    if (!encoder_ || closed_) return;  // ended before it came up, or since
    const auto sender = lanes_.empty() ? std::nullopt : wire::sending_process(control);
    // Behind its sender's lane the frame is written after frames encoded later: it must not
    // touch the atom cache, whose headers the peer reads in the order they arrive.
    const bool to_lane = !lanes_.empty() && lane_of(sender) != nullptr;
    const auto before = pending_.mark();
    encoder_->encode(pending_, control, !to_lane);
    ++messages_out_;
    if (over_queue_limit(before, pending_.size() - before.wire, lock)) return;
    const bool own_thread = io_.get_executor().running_in_this_thread();
    const bool may_wait = may_wait_on(own_thread);
    if (to_lane) {
        queue_frame_in_lane(sender, before);
        schedule_write();
        wait_behind_lane(sender, may_wait, lock);
        return;
    }
    bytes_out_ += pending_.size() - before.wire;
    // A thread other than the session's own (a program thread, or a node thread that serves
    // another io_context) writes the frame itself when nothing else is queued and nothing went
    // out just now: the session's thread would have to be woken for it, which costs more than
    // the write on a round trip. A burst of sends is gathered into few writes by that thread.
    if (!writing_ && !own_thread) {
        const auto now = std::chrono::steady_clock::now();
        const bool burst = now - last_write_ < coalesce_window;
        last_write_ = now;
        if (!burst && write_now()) return;
    }
    schedule_write();
    // Back-pressure, as the BEAM suspends a sender on a busy distribution port: a thread of the
    // program waits while more than busy_limit bytes are queued. The node's own threads never
    // wait (one of them has to run the write), so their queue may grow past the limit.
    if (pending_.size() > settings_.busy_limit && may_wait) {
        ++busy_waits_;
        drained_.wait(lock, [this] { return pending_.size() <= settings_.busy_limit || closed_; });
    }
}

// A message that goes in fragments is encoded before the lock is taken, into a buffer of its own
// that becomes the fragments' buffer (its large binaries left in place): other senders and the
// writer go on meanwhile. It refers to no cached atoms (its fragments are written interleaved
// with frames encoded after it).
void Session::send_fragmented(const wire::Control& control, std::uint64_t flags) {
    wire::OutgoingBytes buffer;
    wire::encode_frame(buffer, control, flags);
    const std::size_t terms_at = wire::uncached_prefix_bytes(flags);
    const std::size_t fragments = wire::fragments_for(control, buffer.size() - terms_at, flags);
    const auto sender = wire::sending_process(control);
    std::unique_lock lock(out_mutex_);
    if (!encoder_ || closed_) return;
    wire::OutgoingFragments item(std::move(buffer), terms_at, fragments, next_sequence_++);
    ++messages_out_;
    if (over_queue_limit(pending_.mark(), item.wire_bytes(), lock)) return;
    Lane& lane = lane_for(sender);
    const std::size_t added = item.wire_bytes();
    lane.queue.push_back(Queued{{}, std::move(item)});
    count_lane_bytes(lane, added);
    schedule_write();
    wait_behind_lane(sender, may_wait_on(io_.get_executor().running_in_this_thread()), lock);
}

// With out_mutex_ held, a message of `added` bytes just encoded after `before` in pending_ (or
// about to be queued elsewhere): past max_send_queue_bytes, with something queued before it, the
// session ends (the message is dropped) and true is returned, the lock released.
bool Session::over_queue_limit(const wire::OutgoingBytes::Mark& before, std::size_t added,
                               std::unique_lock<std::mutex>& lock) {
    const std::size_t queued_before = before.wire;
    const std::size_t queued = queued_before + lane_bytes_ + added;
    if (queued_before + lane_bytes_ == 0 || queued <= settings_.max_send_queue_bytes) {
        wrote_since_tick_.store(true, std::memory_order_relaxed);
        wrote_since_peer_tick_.store(true, std::memory_order_relaxed);
        return false;
    }
    // Nothing more is queued for a peer that is being dropped; waiting senders go on.
    pending_.cut(before);
    closed_ = true;
    drained_.notify_all();
    lock.unlock();
    // Posted, never run inline: the sender may hold other locks (a connection coming up flushes
    // its queued messages under its own mutex), and ending the session takes them again.
    asio::post(strand_, [self = shared_from_this(), queued] {
        self->end(SessionEnd::Cause::send_queue_full,
                  std::to_string(queued) + " bytes queued for a peer that does not read them");
    });
    return true;
}

// The sender waits while much of what it queued in its lane is still unwritten, as a BEAM
// process sending a large message is busy putting its fragments out; others do not. Once over
// busy_limit it goes on when the lane is down to resume_mark(), as OTP resumes the processes
// suspended on a distribution controller's queue below half its busy limit: woken once per
// half a limit written, not once per fragment.
bool Session::may_wait_on(bool own_thread) {
    return !own_thread && !on_io_thread();
}

void Session::wait_behind_lane(const std::optional<Pid>& sender, bool may_wait,
                               std::unique_lock<std::mutex>& lock) {
    if (!may_wait) return;
    const Lane* lane = lane_of(sender);
    if (lane == nullptr || lane->bytes <= settings_.busy_limit) return;
    ++busy_waits_;
    drained_.wait(lock, [&] {
        const Lane* now = lane_of(sender);
        return now == nullptr || now->bytes <= resume_mark() || closed_;
    });
}

// With out_mutex_ held.
Session::Lane* Session::lane_of(const std::optional<Pid>& sender) {
    for (Lane& lane : lanes_)
        if (lane.sender == sender) return &lane;
    return nullptr;
}

// With out_mutex_ held.
Session::Lane& Session::lane_for(const std::optional<Pid>& sender) {
    Lane* lane = lane_of(sender);
    return lane != nullptr ? *lane : lanes_.emplace_back(Lane{sender, {}, 0});
}

// With out_mutex_ held: the frame encoded at `start` of pending_ leaves it for the end of the
// sender's lane.
void Session::queue_frame_in_lane(const std::optional<Pid>& sender,
                                  const wire::OutgoingBytes::Mark& start) {
    Lane& lane = lane_for(sender);
    if (lane.queue.empty() || lane.queue.back().fragments) lane.queue.emplace_back();
    const std::size_t added = pending_.size() - start.wire;
    pending_.move_tail(start, lane.queue.back().frames);
    count_lane_bytes(lane, added);
}

void Session::count_lane_bytes(Lane& lane, std::size_t added) {
    bytes_out_ += added;
    lane.bytes += added;
    lane_bytes_ += added;
}

// Called with out_mutex_ held and no write in flight or scheduled: all of pending_ written, or
// what is left of it (in pending_ or held by the transport) for schedule_write. Frames with
// gathered binaries are left to the strand's gathering write.
bool Session::write_now() {
    if (!pending_.contiguous()) return false;
    auto& bytes = pending_.encoded();
    const std::size_t taken = transport_->write_now(bytes);
    if (taken < bytes.size() || !transport_->flushed()) {
        bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(taken));
        return false;
    }
    pending_.clear(kept_write_capacity);
    return true;
}

// Called with out_mutex_ held.
void Session::schedule_write() {
    if (writing_) return;
    writing_ = true;
    // defer: a send from one of the node's threads is written by that thread once it is done,
    // which also gathers what it sends meanwhile into the same write.
    asio::defer(strand_, [self = shared_from_this()] {
        std::unique_lock lock(self->out_mutex_);
        self->write(lock);
    });
}

// On the strand, with `lock` on out_mutex_ and writing_ set: everything queued goes in one write,
// with rounds of turns of the lanes (take_lane_turns). The transport gets it after the lock is
// released (the encrypted one seals it then), so that sending threads go on queueing meanwhile:
// what the write reads (in_flight_, parts_, prefixes_, the buffers of retired_ and of the lanes'
// fragments) is not touched by them. False when there was nothing to write: writing_ cleared, the
// lock still held.
bool Session::write(std::unique_lock<std::mutex>& lock) {
    if (ended_ || (pending_.empty() && lanes_.empty() && transport_->flushed())) {
        writing_ = false;
        return false;
    }
    in_flight_.swap(pending_);
    parts_.clear();
    in_flight_.views(parts_);
    // Senders wait for pending_ to be back within busy_limit (it is empty now) or for their lane
    // to be down to resume_mark(): woken only when one of those can have happened.
    const std::size_t lanes_before = lane_bytes_;
    const bool lane_resumes = take_lane_turns();
    lane_bytes_in_flight_ = lanes_before - lane_bytes_;
    if (in_flight_.size() > settings_.busy_limit || lane_resumes) drained_.notify_all();
    last_write_ = std::chrono::steady_clock::now();
    lock.unlock();
    transport_->async_write_parts(
        parts_, [self = shared_from_this()](const boost::system::error_code& e, std::size_t) {
            if (e) {
                {
                    std::lock_guard lock(self->out_mutex_);
                    self->writing_ = false;
                    self->lane_bytes_in_flight_ = 0;
                }
                self->end(SessionEnd::Cause::peer_closed, "write failed: " + e.message());
                return;
            }
            std::unique_lock lock(self->out_mutex_);
            self->in_flight_.clear(kept_write_capacity);
            self->lane_bytes_in_flight_ = 0;
            self->retired_.clear();
            if (!self->write(lock) && self->ended_) self->transport_->close();
        });
    return true;
}

// With out_mutex_ held: rounds of lane turns into parts_, each taking the front of every lane (a
// fragment, or the frames gathered behind one), until the write holds write_batch_bytes or the
// lanes are empty. A lane whose queue empties is gone: its sender's next frames go to pending_.
// True when a lane went from over resume_mark() to it or below (its sender may be waiting).
bool Session::take_lane_turns() {
    prefixes_.clear();
    std::size_t batch = 0;
    bool resumes = false;
    while (!lanes_.empty() && batch < write_batch_bytes) {
        for (auto lane = lanes_.begin(); lane != lanes_.end();) {
            Queued& front = lane->queue.front();
            std::size_t taken = 0;
            if (front.fragments) {
                taken = front.fragments->take(prefixes_.emplace_back(), parts_);
            } else {
                front.frames.views(parts_);
                taken = front.frames.size();
            }
            if (!front.fragments || front.fragments->done()) {
                retired_.push_back(std::move(front));  // moving keeps the bytes where they are
                lane->queue.pop_front();
            }
            resumes =
                resumes || (lane->bytes > resume_mark() && lane->bytes - taken <= resume_mark());
            lane->bytes -= taken;
            lane_bytes_ -= taken;
            batch += taken;
            lane = lane->queue.empty() ? lanes_.erase(lane) : std::next(lane);
        }
    }
    return resumes;
}

// ---------------------------------------------------------------------------------------------
// Ticks

void Session::arm_tick() {
    if (ended_) return;
    tick_timer_.expires_after(settings_.tick_interval);
    tick_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
        if (!e) self->on_tick();
    });
}

void Session::on_tick() {
    if (ended_) return;
    if (read_since_tick_) {
        silent_intervals_ = 0;
    } else if (++silent_intervals_ >= settings_.tick_intervals) {
        end(SessionEnd::Cause::tick_timeout,
            "nothing received for " +
                std::to_string(settings_.tick_interval.count() * settings_.tick_intervals) +
                " ms (net_tick_timeout)");
        return;
    }
    read_since_tick_ = false;
    // Quiet outgoing: a tick tells the peer we are alive.
    if (!wrote_since_tick_.exchange(false, std::memory_order_relaxed)) {
        wrote_since_peer_tick_.store(true, std::memory_order_relaxed);
        std::lock_guard lock(out_mutex_);
        pending_.append(wire::tick_frame);
        ++ticks_out_;
        bytes_out_ += sizeof wire::tick_frame;
        schedule_write();
    }
    arm_tick();
}

// A peer ticks when it has written nothing for a while, and a hidden peer's BEAM also when it has
// read nothing: one with a shorter net_ticktime than ours would give up on us between our own
// ticks. So its tick gets a tick back, as erl_interface answers them, unless something of ours
// went out since its previous tick. Answers do not count as ours: two nodes that both answer stop
// after one round, since the tick that started it counts on the other side.
void Session::answer_tick() {
    if (wrote_since_peer_tick_.exchange(false, std::memory_order_relaxed)) return;
    wrote_since_tick_.store(true, std::memory_order_relaxed);
    std::lock_guard lock(out_mutex_);
    pending_.append(wire::tick_frame);
    ++ticks_out_;
    bytes_out_ += sizeof wire::tick_frame;
    schedule_write();
}

SessionTraffic Session::traffic() const {
    SessionTraffic t;
    t.messages_in = messages_in_.load(std::memory_order_relaxed);
    t.bytes_in = bytes_in_.load(std::memory_order_relaxed);
    t.ticks_in = ticks_in_.load(std::memory_order_relaxed);
    t.reassembly_bytes = reassembly_bytes_.load(std::memory_order_relaxed);
    t.last_received = std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(last_received_.load(std::memory_order_relaxed)));
    std::lock_guard lock(out_mutex_);
    t.messages_out = messages_out_;
    t.bytes_out = bytes_out_;
    t.ticks_out = ticks_out_;
    t.busy_waits = busy_waits_;
    t.queued_bytes = pending_.size() + in_flight_.size() + lane_bytes_ + lane_bytes_in_flight_;
    return t;
}

}  // namespace distribute::net
