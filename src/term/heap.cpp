#include "term/heap.hpp"

#include <atomic>
#include <mutex>

namespace distribute::detail::heap {

constinit thread_local ThreadCache cache{};

namespace {

// Batches of free blocks of one size, given by threads with full lists to threads with empty
// ones. A batch is batch_blocks(c) blocks chained through their first words (the last one's is
// null); batches are chained through their first blocks' second words.
struct Depot {
    std::mutex mutex;
    std::atomic<void*> batches{nullptr};  // written under mutex; read without it to skip a lock
};
constinit Depot depots[class_count];
constinit std::atomic<std::size_t> depot_bytes{0};
constinit std::atomic<bool> depot_closed{false};

// The next block of a list, leaving `block` poisoned (follow() opens a block being handed out).
void* peek(void* block, std::uint8_t c) noexcept {
    void* next = follow(block, c);
    ASAN_POISON_MEMORY_REGION(block, class_bytes[c]);
    return next;
}
void* next_batch(void* first, std::uint8_t c) noexcept {
    ASAN_UNPOISON_MEMORY_REGION(first, class_bytes[c]);
    void* next = static_cast<void**>(first)[1];
    ASAN_POISON_MEMORY_REGION(first, class_bytes[c]);
    return next;
}
void link_batch(void* first, void* next, std::uint8_t c) noexcept {
    ASAN_UNPOISON_MEMORY_REGION(first, class_bytes[c]);
    static_cast<void**>(first)[1] = next;
    ASAN_POISON_MEMORY_REGION(first, class_bytes[c]);
}

// Gives every cached block back when its thread ends; later frees on that thread (from other
// thread_local destructors) go straight to operator delete.
struct ExitFlush {
    ExitFlush() = default;
    ExitFlush(const ExitFlush&) = delete;
    ExitFlush& operator=(const ExitFlush&) = delete;
    ~ExitFlush() {
        for (std::size_t c = 0; c < class_count; ++c) {
            while (cache.head[c] != nullptr) {
                void* next = follow(cache.head[c], static_cast<std::uint8_t>(c));
                ::operator delete(cache.head[c]);
                cache.head[c] = next;
            }
            cache.blocks[c] = 0;
        }
        cache.bytes = 0;
        cache.limit = 0;
        cache.exited = true;
    }
};

// The class whose list holds the most bytes.
std::uint8_t largest_list(const ThreadCache& k) noexcept {
    std::uint8_t most = 1;
    for (std::uint8_t c = 2; c < class_count; ++c)
        if (k.blocks[c] * class_size(c) > k.blocks[most] * class_size(most)) most = c;
    return most;
}

// True when the thread may keep blocks: the first time, it registers giving them back when the
// thread ends; false once that has happened (frees then go straight to operator delete).
bool keeps_blocks(ThreadCache& k) noexcept {
    if (k.limit == 0 && !k.exited) {
        static thread_local ExitFlush flush;
        static_cast<void>(flush);
        k.limit = cache_limit;
    }
    return !k.exited;
}

void delete_batch(void* first, std::uint8_t c) noexcept {
    while (first != nullptr) {
        void* next = follow(first, c);
        ::operator delete(first);
        first = next;
    }
}

// Gives the depot's blocks back when the process exits (static destruction), as a thread's
// lists are at its end, so that a leak checker finds nothing held (under AddressSanitizer the
// links are in poisoned memory, which LeakSanitizer does not follow); batches given after that
// go to operator delete.
struct DepotFlush {
    ~DepotFlush() {
        depot_closed.store(true);
        for (std::uint8_t c = 0; c < class_count; ++c) {
            Depot& d = depots[c];
            std::lock_guard lock(d.mutex);
            for (void* first = d.batches.load(std::memory_order_relaxed); first != nullptr;) {
                void* next = next_batch(first, c);
                delete_batch(first, c);
                first = next;
            }
            d.batches.store(nullptr, std::memory_order_relaxed);
        }
        depot_bytes.store(0);
    }
};

// Moves the first batch_blocks(c) blocks of the thread's list of class c (it holds as many) to
// the depot, or to operator delete when the depot is full or the process is exiting.
void give_batch(ThreadCache& k, std::uint8_t c) noexcept {
    static DepotFlush flush;
    static_cast<void>(flush);
    const std::size_t n = batch_blocks(c);
    void* first = k.head[c];
    void* last = first;
    for (std::size_t i = 1; i < n; ++i)
        last = peek(last, c);
    k.head[c] = follow(last, c);  // left open: chain() writes its end mark and closes it
    chain(last, nullptr, c);
    const std::size_t bytes = n * class_bytes[c];
    k.blocks[c] -= static_cast<std::uint32_t>(n);
    k.bytes -= bytes;
    if (depot_bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes <= depot_limit) {
        Depot& d = depots[c];
        std::lock_guard lock(d.mutex);
        if (!depot_closed.load()) {
            link_batch(first, d.batches.load(std::memory_order_relaxed), c);
            d.batches.store(first, std::memory_order_relaxed);
            return;
        }
    }
    depot_bytes.fetch_sub(bytes, std::memory_order_relaxed);
    delete_batch(first, c);
}

// Takes a batch of class c from the depot onto the thread's (empty) list of that class.
bool take_batch(ThreadCache& k, std::uint8_t c) noexcept {
    Depot& d = depots[c];
    if (d.batches.load(std::memory_order_relaxed) == nullptr || !keeps_blocks(k)) return false;
    void* first;
    {
        std::lock_guard lock(d.mutex);
        first = d.batches.load(std::memory_order_relaxed);
        if (first == nullptr) return false;
        d.batches.store(next_batch(first, c), std::memory_order_relaxed);
    }
    const std::size_t n = batch_blocks(c);
    depot_bytes.fetch_sub(n * class_bytes[c], std::memory_order_relaxed);
    k.head[c] = first;
    k.blocks[c] += static_cast<std::uint32_t>(n);
    k.bytes += n * class_bytes[c];
    return true;
}

}  // namespace

std::size_t depot_held() noexcept {
    return depot_bytes.load(std::memory_order_relaxed);
}

void* refill(std::uint8_t c) {
    ThreadCache& k = cache;
    if (!take_batch(k, c)) return ::operator new(class_size(c));
    void* block = k.head[c];
    k.head[c] = follow(block, c);
    --k.blocks[c];
    k.bytes -= class_bytes[c];
    return block;
}

void overflow(void* block, std::uint8_t c) noexcept {
    ThreadCache& k = cache;
    if (!keeps_blocks(k)) {
        ::operator delete(block);
        return;
    }
    if (k.bytes + class_size(c) > k.limit) {
        // Batches of this size go to the depot; a size held too little of to make a batch makes
        // room by giving up the size the lists hold most of.
        const std::uint8_t from = k.blocks[c] >= batch_blocks(c) ? c : largest_list(k);
        while (k.bytes + class_size(c) > k.limit && k.blocks[from] >= batch_blocks(from))
            give_batch(k, from);
        if (k.bytes + class_size(c) > k.limit) {
            ::operator delete(block);
            return;
        }
    }
    chain(block, k.head[c], c);
    k.head[c] = block;
    ++k.blocks[c];
    k.bytes += class_size(c);
}

}  // namespace distribute::detail::heap
