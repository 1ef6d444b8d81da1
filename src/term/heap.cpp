#include "term/heap.hpp"

namespace distribute::detail::heap {

constinit thread_local ThreadCache cache{};

namespace {

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

}  // namespace

void* refill(std::uint8_t c) {
    return ::operator new(class_size(c));
}

void overflow(void* block, std::uint8_t c) noexcept {
    ThreadCache& k = cache;
    if (k.limit == 0 && !k.exited) {
        // The first free on this thread: from here on the thread keeps blocks, so it must also
        // give them back when it ends.
        static thread_local ExitFlush flush;
        static_cast<void>(flush);
        k.limit = cache_limit;
    }
    if (k.bytes + class_size(c) > k.limit) {
        std::uint8_t most = largest_list(k);
        if (most == c || k.blocks[most] * class_size(most) < class_size(c)) {
            ::operator delete(block);
            return;
        }
        // Make room by giving back blocks of the size held most of.
        while (k.bytes + class_size(c) > k.limit && k.head[most] != nullptr) {
            void* victim = k.head[most];
            k.head[most] = follow(victim, most);
            --k.blocks[most];
            k.bytes -= class_size(most);
            ::operator delete(victim);
        }
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
