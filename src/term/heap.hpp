// Memory for term objects (and the nodes of process message queues, which come and go with
// them): per-thread free lists by size class in front of operator new.
//
// A decoded tree is thousands of small objects (tuples, binaries, pids) that are made together and
// freed together. malloc's own per-thread cache keeps 7 blocks of a size, so a tree of 10,000
// records took malloc's slow path for almost every object; these lists keep up to cache_limit
// bytes per thread instead, and a pop or a push is a few instructions.
//
// Every block comes from operator new and may go back to it: a block freed on another thread
// joins that thread's lists. A thread whose lists are full hands a batch of blocks of one size to
// a shared depot (one lock per batch), where a thread whose list of that size is empty takes a
// batch before it asks operator new: a session decoding on one thread and a process freeing the
// messages on another trade whole batches instead of each free going to operator delete and each
// allocation to malloc's slow path (a third of a small message's receive, between two of our
// nodes). The depot holds at most depot_limit bytes, past which batches go to operator delete, as
// do the blocks of an exiting thread; so the lists cannot grow without bound. When the lists are
// full, a block of a size the thread holds less than a batch of displaces blocks of the size the
// lists hold most of: the lists follow the shapes the thread decodes now, not the ones it freed
// once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

#include "distribute/term.hpp"

#if __has_include(<sanitizer/asan_interface.h>)
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif

namespace distribute::detail::heap {

// Classes 1..32 are 16-byte steps up to 512 bytes (tuples, small binaries, pids, references);
// classes 33..60 are 128-byte steps up to 4 KiB (a 1 KiB binary). Class 0: not pooled.
inline constexpr std::size_t fine_step = 16;
inline constexpr std::size_t fine_limit = 512;
inline constexpr std::size_t coarse_step = 128;
inline constexpr std::size_t max_pooled = 4096;
inline constexpr std::size_t class_count =
    1 + fine_limit / fine_step + (max_pooled - fine_limit) / coarse_step;
// A 10,000-record message is about 2 MiB of objects; twice that covers it with room to spare.
inline constexpr std::size_t cache_limit = std::size_t{4} << 20;
// What the depot holds for all threads together.
inline constexpr std::size_t depot_limit = std::size_t{64} << 20;

constexpr std::uint8_t class_of(std::size_t bytes) noexcept {
    if (bytes <= fine_limit) return static_cast<std::uint8_t>((bytes + fine_step - 1) / fine_step);
    return static_cast<std::uint8_t>(fine_limit / fine_step +
                                     (bytes - fine_limit + coarse_step - 1) / coarse_step);
}
constexpr std::size_t class_size(std::uint8_t c) noexcept {
    constexpr std::uint8_t fine_classes = fine_limit / fine_step;
    return c <= fine_classes ? c * fine_step : fine_limit + (c - fine_classes) * coarse_step;
}
// Blocks moved to or from the depot at once: 16 KiB of them, 4 to 64 blocks.
constexpr std::size_t batch_blocks(std::uint8_t c) noexcept {
    const std::size_t n = (std::size_t{16} << 10) / class_size(c);
    return n < 4 ? 4 : n > 64 ? 64 : n;
}
static_assert(class_of(max_pooled) == class_count - 1);
static_assert(class_size(class_of(fine_limit + 1)) == fine_limit + coarse_step);
// The same as a table: the fast paths read it instead of computing it.
inline constexpr auto class_bytes = [] {
    std::array<std::uint32_t, class_count> sizes{};
    for (std::size_t c = 0; c < class_count; ++c)
        sizes[c] = static_cast<std::uint32_t>(class_size(static_cast<std::uint8_t>(c)));
    return sizes;
}();

// Trivially constructible and destructible, so that every access is a plain thread-local load
// (no guard); a thread_local helper object flushes it at thread exit.
struct ThreadCache {
    void* head[class_count];            // singly linked through each free block's first word
    std::uint32_t blocks[class_count];  // in each list
    std::size_t bytes;                  // held in all lists
    std::size_t limit;                  // 0 until the exit flush is registered, and after it ran
    bool exited;
};
extern constinit thread_local ThreadCache cache;

// Under AddressSanitizer a block in a list is poisoned, so that a term used after it was freed is
// still caught; these open it to follow its link and close it again (no-ops otherwise).
inline void* follow(void* block, std::uint8_t c) noexcept {
    ASAN_UNPOISON_MEMORY_REGION(block, class_bytes[c]);
    return *static_cast<void**>(block);
}
inline void chain(void* block, void* next, std::uint8_t c) noexcept {
    *static_cast<void**>(block) = next;
    ASAN_POISON_MEMORY_REGION(block, class_bytes[c]);
}

// Bytes of free blocks the depot holds for all threads (for tests and stats).
std::size_t depot_held() noexcept;

// The slow halves: out of line, since the fast halves are inlined everywhere.
void* refill(std::uint8_t c);
void overflow(void* block, std::uint8_t c) noexcept;

// Memory for `bytes`, aligned like operator new's; `c` receives what release() needs back.
inline void* allocate(std::size_t bytes, std::uint8_t& c) {
    if (bytes > max_pooled) {
        c = 0;
        return ::operator new(bytes);
    }
    c = class_of(bytes);
    ThreadCache& k = cache;
    void* block = k.head[c];
    if (block == nullptr) return refill(c);
    k.head[c] = follow(block, c);
    --k.blocks[c];
    k.bytes -= class_bytes[c];
    return block;
}

inline void release(void* block, std::uint8_t c) noexcept {
    if (c == 0) {
        ::operator delete(block);
        return;
    }
    ThreadCache& k = cache;
    if (k.bytes + class_bytes[c] > k.limit) {
        overflow(block, c);
        return;
    }
    chain(block, k.head[c], c);
    k.head[c] = block;
    ++k.blocks[c];
    k.bytes += class_bytes[c];
}

// Constructs O in `bytes` (its size and what follows it) from the thread's free lists; O's
// constructor must not throw, or the memory would be lost.
template <class O, class... Args>
O* make(std::size_t bytes, Args&&... args) {
    std::uint8_t c;
    void* memory = allocate(bytes, c);
    O* o = new (memory) O(std::forward<Args>(args)...);
    o->size_class = c;
    return o;
}

// Gives back the memory of an object whose destructor has run (or has nothing to do).
inline void dispose(HeapObject* o) noexcept {
    release(o, o->size_class);
}

}  // namespace distribute::detail::heap
