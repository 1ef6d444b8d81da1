// A process's messages in arrival order: a singly linked list, one small node per message, so an
// empty queue costs two pointers (a million idle processes pay nothing for queues they do not
// use), a whole batch moves from one queue to another in O(1), and a selective receive takes a
// message out of the middle without moving the others. Not synchronised: the process guards its
// inbox with its mutex, and only its consumer touches the rest.
//
// The nodes come from the same per-thread free lists as term objects (term/heap.hpp): a node is
// made on the thread that delivers and freed on the consumer's, and malloc's own cache of 7
// blocks a size sent every such pair down its slow path (7% of a small message's receive).
#pragma once

#include <atomic>
#include <cstddef>
#include <new>
#include <utility>

#include "distribute/term.hpp"
#include "term/heap.hpp"

namespace distribute::node {

class MessageQueue {
    struct Node {
        Term message;
        Node* next = nullptr;
    };
    static constexpr std::uint8_t node_class = detail::heap::class_of(sizeof(Node));
    static_assert(node_class != 0);
    static Node* make_node(Term&& message) {
        std::uint8_t c;
        return new (detail::heap::allocate(sizeof(Node), c)) Node{std::move(message), nullptr};
    }
    static void free_node(Node* node) noexcept {
        node->~Node();
        detail::heap::release(node, node_class);
    }

  public:
    MessageQueue() = default;
    MessageQueue(const MessageQueue&) = delete;
    MessageQueue& operator=(const MessageQueue&) = delete;
    MessageQueue(MessageQueue&& other) noexcept { take(other); }
    MessageQueue& operator=(MessageQueue&& other) noexcept {
        if (this != &other) {
            clear();
            take(other);
        }
        return *this;
    }
    ~MessageQueue() { clear(); }

    bool empty() const { return head_ == nullptr; }
    // Any thread may read it (a pool's least-loaded choice); one thread writes at a time.
    std::size_t size() const { return size_.load(std::memory_order_relaxed); }

    void push(Term message) {
        Node* node = make_node(std::move(message));
        *tail_ = node;
        tail_ = &node->next;
        count(1);
    }

    // Moves every message of `other` to the end of this queue, in order.
    void append(MessageQueue& other) {
        if (other.empty()) return;
        *tail_ = other.head_;
        tail_ = other.tail_;
        count(other.size());
        other.reset();
    }

    Term pop() {
        Node* node = head_;
        head_ = node->next;
        if (head_ == nullptr) tail_ = &head_;
        uncount(1);
        Term message = std::move(node->message);
        free_node(node);
        return message;
    }

    // Where a selective receive resumes: the messages before it were refused already. Valid
    // while only this receive takes messages out and others are only appended; a default one
    // starts at the front.
    class Cursor {
        friend class MessageQueue;
        Node** link_ = nullptr;
    };

    // The first message at or after `at` that `match` accepts, taken out of the queue; `at`
    // moves past the refused ones. `match` may do anything but touch this queue.
    template <class Match>
    bool take_first(Cursor& at, Match&& match, Term& out) {
        Node** link = at.link_ != nullptr ? at.link_ : &head_;
        for (; *link != nullptr; link = &(*link)->next) {
            Node* node = *link;
            if (!match(node->message)) continue;
            *link = node->next;
            if (tail_ == &node->next) tail_ = link;
            uncount(1);
            out = std::move(node->message);
            free_node(node);
            at.link_ = link;
            return true;
        }
        at.link_ = link;  // the empty link at the end: what is appended is examined next time
        return false;
    }

    // Removes every message `match` accepts (demonitor's flush, dropping late replies).
    template <class Match>
    std::size_t remove_if(Match&& match) {
        std::size_t removed = 0;
        for (Node** link = &head_; *link != nullptr;) {
            Node* node = *link;
            if (!match(node->message)) {
                link = &node->next;
                continue;
            }
            *link = node->next;
            if (tail_ == &node->next) tail_ = link;
            uncount(1);
            ++removed;
            free_node(node);
        }
        return removed;
    }

    void clear() {
        for (Node* node = head_; node != nullptr;) {
            Node* next = node->next;
            free_node(node);
            node = next;
        }
        reset();
    }

  private:
    void reset() {
        head_ = nullptr;
        tail_ = &head_;
        size_.store(0, std::memory_order_relaxed);
    }
    void take(MessageQueue& other) {
        if (other.empty()) {
            reset();
            return;
        }
        head_ = other.head_;
        tail_ = other.tail_;
        size_.store(other.size(), std::memory_order_relaxed);
        other.reset();
    }

    Node* head_ = nullptr;
    Node** tail_ = &head_;
    void count(std::size_t n) { size_.store(size() + n, std::memory_order_relaxed); }
    void uncount(std::size_t n) { size_.store(size() - n, std::memory_order_relaxed); }

    std::atomic<std::size_t> size_{0};
};

// A process's messages in two lanes: priority messages (OTP 28, through a priority alias) are
// taken before every ordinary one, in the order they arrived. Each lane keeps its own cursor, so
// a selective receive also examines a priority message that lands after it began.
class LanedQueue {
  public:
    bool empty() const { return priority_.empty() && ordinary_.empty(); }
    std::size_t size() const { return priority_.size() + ordinary_.size(); }

    void push(Term message, bool priority = false) {
        (priority ? priority_ : ordinary_).push(std::move(message));
    }
    void append(LanedQueue& other) {
        priority_.append(other.priority_);
        ordinary_.append(other.ordinary_);
    }
    Term pop() { return priority_.empty() ? ordinary_.pop() : priority_.pop(); }

    struct Cursor {
        MessageQueue::Cursor priority;
        MessageQueue::Cursor ordinary;
    };
    template <class Match>
    bool take_first(Cursor& at, Match&& match, Term& out) {
        return priority_.take_first(at.priority, match, out) ||
               ordinary_.take_first(at.ordinary, match, out);
    }
    template <class Match>
    std::size_t remove_if(Match&& match) {
        return priority_.remove_if(match) + ordinary_.remove_if(match);
    }
    void clear() {
        priority_.clear();
        ordinary_.clear();
    }

  private:
    MessageQueue priority_;
    MessageQueue ordinary_;
};

}  // namespace distribute::node
