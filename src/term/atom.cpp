// The process-wide atom table. Lookups (name by index, index by name) take no lock: entries are
// written once and published with a release store; only inserting a new atom takes the mutex.
#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>

#include "distribute/term.hpp"
#include "term/utf8.hpp"

namespace distribute {
namespace {

constexpr std::size_t max_atom_chars = 255;
constexpr std::size_t segment_bits = 16;
constexpr std::size_t segment_size = std::size_t{1} << segment_bits;
// 256 segments of 65,536: room for 16,777,216 atoms, the most set_limit accepts.
constexpr std::size_t max_segments = 256;
constexpr std::size_t hard_limit = segment_size * max_segments;

struct Entry {
    std::uint64_t hash;
    std::uint32_t size;
    char text[1];  // `size` bytes follow
    std::string_view name() const noexcept { return {text, size}; }
};

std::uint64_t hash_name(std::string_view s) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
    for (unsigned char c : s)
        h = (h ^ c) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

// Open addressing, slots hold index + 1 (0 is empty). Grown by copying into a bigger table that
// replaces it; the old one is kept (readers may still be probing it) and is at most as large as
// the sum of its successors, so the waste is bounded.
struct Index {
    std::size_t mask;
    std::unique_ptr<std::atomic<std::uint32_t>[]> slots;
    std::unique_ptr<Index> previous;
    explicit Index(std::size_t capacity)
        : mask(capacity - 1), slots(new std::atomic<std::uint32_t>[capacity]) {
        for (std::size_t i = 0; i < capacity; ++i)
            slots[i].store(0, std::memory_order_relaxed);
    }
};

class Table {
  public:
    Table() {
        index_.store(new Index(4096), std::memory_order_release);
        for (std::string_view name : detail::well_known_atoms)
            insert_locked(name);
    }

    const Entry* entry(std::uint32_t i) const noexcept {
        const Entry* const* segment = segments_[i >> segment_bits].load(std::memory_order_acquire);
        return segment[i & (segment_size - 1)];
    }

    std::optional<std::uint32_t> find(std::string_view name, std::uint64_t h) const noexcept {
        const Index* index = index_.load(std::memory_order_acquire);
        for (std::size_t probe = h & index->mask;; probe = (probe + 1) & index->mask) {
            std::uint32_t slot = index->slots[probe].load(std::memory_order_acquire);
            if (slot == 0) return std::nullopt;
            const Entry* e = entry(slot - 1);
            if (e->hash == h && e->name() == name) return slot - 1;
        }
    }

    Expected<std::uint32_t, AtomErrc> intern(std::string_view name) {
        std::uint64_t h = hash_name(name);
        if (auto found = find(name, h)) return *found;
        std::lock_guard lock(mutex_);
        if (auto found = find(name, h)) return *found;
        if (count_.load(std::memory_order_relaxed) >= limit_.load(std::memory_order_relaxed))
            return unexpected(AtomErrc::table_full);
        return insert_locked(name);
    }

    std::size_t size() const noexcept { return count_.load(std::memory_order_acquire); }
    std::atomic<std::size_t> limit_{AtomTable::default_limit};

  private:
    std::uint32_t insert_locked(std::string_view name) {
        std::uint32_t i = static_cast<std::uint32_t>(count_.load(std::memory_order_relaxed));
        auto* e = static_cast<Entry*>(
            ::operator new(sizeof(Entry) + name.size() + detail::atom_name_padding));
        e->hash = hash_name(name);
        e->size = static_cast<std::uint32_t>(name.size());
        std::memcpy(e->text, name.data(), name.size());
        std::memset(e->text + name.size(), 0, detail::atom_name_padding);

        auto& segment_slot = segments_[i >> segment_bits];
        const Entry** segment = segment_slot.load(std::memory_order_relaxed);
        if (segment == nullptr) {
            segment = new const Entry*[segment_size]();
            segment_slot.store(segment, std::memory_order_release);
        }
        segment[i & (segment_size - 1)] = e;

        Index* index = index_.load(std::memory_order_relaxed);
        if ((i + 1) * 2 > index->mask + 1) index = grow(index);  // re-places atoms 0..i-1
        place(*index, e->hash, i);
        count_.store(i + 1, std::memory_order_release);
        return i;
    }

    static void place(Index& index, std::uint64_t h, std::uint32_t i) noexcept {
        std::size_t probe = h & index.mask;
        while (index.slots[probe].load(std::memory_order_relaxed) != 0)
            probe = (probe + 1) & index.mask;
        index.slots[probe].store(i + 1, std::memory_order_release);
    }

    Index* grow(Index* old) {
        auto bigger = std::make_unique<Index>((old->mask + 1) * 2);
        std::uint32_t n = static_cast<std::uint32_t>(count_.load(std::memory_order_relaxed));
        for (std::uint32_t i = 0; i < n; ++i)
            place(*bigger, entry(i)->hash, i);
        bigger->previous.reset(old);
        Index* fresh = bigger.release();
        index_.store(fresh, std::memory_order_release);
        return fresh;
    }

    std::mutex mutex_;
    std::atomic<std::size_t> count_{0};
    std::atomic<Index*> index_{nullptr};
    std::atomic<const Entry**> segments_[max_segments] = {};
};

Table& table() {
    // Never destroyed: atoms must stay readable while other static objects shut down.
    static Table* instance = new Table();
    return *instance;
}

Expected<std::string_view, AtomErrc> check_name(std::string_view utf8) {
    auto chars = utf8::count_code_points(utf8);
    if (!chars) return unexpected(AtomErrc::invalid_utf8);
    if (*chars > max_atom_chars) return unexpected(AtomErrc::too_long);
    return utf8;
}

const char* message_of(AtomErrc e) noexcept {
    switch (e) {
        case AtomErrc::too_long:
            return "atom longer than 255 characters";
        case AtomErrc::invalid_utf8:
            return "atom name is not valid UTF-8";
        case AtomErrc::table_full:
            return "atom table is full";
        case AtomErrc::not_existing:
            return "atom does not exist";
    }
    return nullptr;
}

}  // namespace

const std::error_category& atom_category() noexcept {
    static const ErrorCategory<AtomErrc> category("distribute.atom", message_of);
    return category;
}

std::error_code make_error_code(AtomErrc e) noexcept {
    return {static_cast<int>(e), atom_category()};
}

Expected<Atom, AtomErrc> Atom::make(std::string_view utf8) {
    auto checked = check_name(utf8);
    if (!checked) return unexpected(checked.error());
    auto index = table().intern(utf8);
    if (!index) return unexpected(index.error());
    return Atom(*index);
}

std::optional<Atom> Atom::existing(std::string_view utf8) {
    auto index = table().find(utf8, hash_name(utf8));
    if (!index) return std::nullopt;
    return Atom(*index);
}

std::string_view Atom::name() const noexcept {
    return table().entry(index_)->name();
}

std::strong_ordering Atom::operator<=>(const Atom& other) const noexcept {
    if (index_ == other.index_) return std::strong_ordering::equal;
    int c = name().compare(other.name());  // UTF-8 byte order is code point order
    return c < 0 ? std::strong_ordering::less : std::strong_ordering::greater;
}

void AtomTable::set_limit(std::size_t max_atoms) noexcept {
    table().limit_.store(
        std::clamp<std::size_t>(max_atoms, std::size(detail::well_known_atoms), hard_limit),
        std::memory_order_relaxed);
}

std::size_t AtomTable::limit() noexcept {
    return table().limit_.load(std::memory_order_relaxed);
}

std::size_t AtomTable::size() noexcept {
    return table().size();
}

inline namespace literals {
Atom operator""_a(const char* text, std::size_t size) {
    auto atom = Atom::make(std::string_view(text, size));
    if (!atom) throw std::invalid_argument("not a valid atom: " + std::string(text, size));
    return *atom;
}
}  // namespace literals

}  // namespace distribute
