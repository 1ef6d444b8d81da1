// Building, reading and freeing terms. Freeing never recurses: a million-deep term dies in a loop.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <stdexcept>

#include "distribute/term.hpp"
#include "term/heap.hpp"
#include "term/utf8.hpp"

namespace distribute {
namespace detail {
namespace {

template <class O, class Element>
O* allocate_with(std::size_t n) {
    return heap::make<O>(sizeof(O) + n * sizeof(Element), n);
}

bool holds_references(Tag tag) noexcept {
    // A binary's owner is a plain buffer: releasing it cannot cascade.
    constexpr unsigned containers =
        1u << static_cast<unsigned>(Tag::tuple) | 1u << static_cast<unsigned>(Tag::list) |
        1u << static_cast<unsigned>(Tag::map) | 1u << static_cast<unsigned>(Tag::closure) |
        1u << static_cast<unsigned>(Tag::record);
    return ((1u << static_cast<unsigned>(tag)) & containers) != 0;
}

// An object without references to other terms (a binary's buffer cannot cascade).
void free_leaf(const HeapObject* object) noexcept {
    auto* o = const_cast<HeapObject*>(object);
    if (o->tag == Tag::binary) {
        auto* b = static_cast<BinaryObject*>(o);
        if (b->owner) release(b->owner);
    }
    heap::dispose(o);
}

// The slots of a tuple, a map (an entry is a key and a value side by side) or a list (without
// its tail).
struct Slots {
    const Term* first;
    const Term* end;
};
Slots slots_of(const HeapObject* o) noexcept {
    static_assert(sizeof(MapEntry) == 2 * sizeof(Term));
    switch (o->tag) {
        case Tag::tuple: {
            const auto* t = static_cast<const TupleObject*>(o);
            return {t->data(), t->data() + t->size};
        }
        case Tag::list: {
            const auto* l = static_cast<const ListObject*>(o);
            return {l->data(), l->data() + l->size};
        }
        case Tag::map: {
            const auto* m = static_cast<const MapObject*>(o);
            const auto* first = reinterpret_cast<const Term*>(m->data());
            return {first, first + 2 * m->size};
        }
        default:
            return {nullptr, nullptr};
    }
}

// The object `t` refers to when `t` held its last reference, else null.
const HeapObject* last_reference(const Term& t) noexcept {
    if (!TermAccess::boxed(t)) return nullptr;
    const HeapObject* o = TermAccess::heap_object(t);
    // A sole owner cannot race with anybody, so it skips the atomic read-modify-write.
    if (o->refs.load(std::memory_order_acquire) != 1 &&
        o->refs.fetch_sub(1, std::memory_order_acq_rel) != 1)
        return nullptr;
    return o;
}

// Releases slots from `next` while they are immediates and leaves; returns the first
// container that dies (`next` is then past it), or null at `end`.
[[gnu::always_inline]] inline const HeapObject* release_leaves(const Term*& next,
                                                               const Term* end) noexcept {
    while (next != end) {
        const HeapObject* c = last_reference(*next++);
        if (c == nullptr) continue;
        if (holds_references(c->tag)) return c;
        free_leaf(c);
    }
    return nullptr;
}

// Freeing a tree walks it depth first without recursion: the walk goes down into a container that
// dies with its parent and keeps the rest of the parent's slots on this explicit stack, which
// a chain nested in last slots ({1, {2, ...}}, [[[...]]]) never needs. The first entries live in
// the reaper itself, so freeing a shallow tree allocates nothing.
class Reaper {
  public:
    Reaper() = default;
    Reaper(const Reaper&) = delete;
    Reaper& operator=(const Reaper&) = delete;
    ~Reaper() {
        if (entries_ != inline_) ::operator delete(entries_);
    }

    // `object` reached zero while this reaper runs (a closure's destructor released it).
    void open(const HeapObject* object) noexcept { push(object, nullptr, nullptr); }
    // The slots of `object` from `next` to `end` are still to release; it is freed after them.
    void keep(const HeapObject* object, const Term* next, const Term* end) noexcept {
        if (next != end)
            push(object, next, end);
        else
            heap::dispose(const_cast<HeapObject*>(object));
    }

    // Frees `object` and everything only it held.
    void run(const HeapObject* object) noexcept {
        Entry e{const_cast<HeapObject*>(object), nullptr, nullptr};
        for (;;) {
            walk(e.object, e.next, e.end);
            if (size_ == 0) return;
            e = entries_[--size_];
        }
    }

  private:
    struct Entry {
        HeapObject* object;
        const Term* next;  // null: none of its slots is released yet, a list's tail included
        const Term* end;
    };
    static constexpr std::size_t inline_entries = 32;

    // Releases the slots of `o` from `next` on, then frees `o`; a container that dies on the way
    // is walked next, in the same loop.
    void walk(HeapObject* o, const Term* next, const Term* end) noexcept {
        for (;;) {
            if (next == nullptr) {
                if (o->tag == Tag::closure || o->tag == Tag::record) {
                    // Its fields are members: the destructor releases them, and what dies of
                    // that comes back through open().
                    if (o->tag == Tag::closure)
                        static_cast<ClosureObject*>(o)->~ClosureObject();
                    else
                        static_cast<RecordObject*>(o)->~RecordObject();
                    heap::dispose(o);
                    return;
                }
                const Slots slots = slots_of(o);
                next = slots.first;
                end = slots.end;
                if (o->tag == Tag::list) {
                    const HeapObject* tail = last_reference(static_cast<ListObject*>(o)->tail);
                    if (tail != nullptr && !holds_references(tail->tag)) {
                        free_leaf(tail);
                    } else if (tail != nullptr) {
                        o = descend(o, next, end, tail);
                        next = nullptr;
                        continue;
                    }
                }
            }
            const HeapObject* child = release_leaves(next, end);
            if (child == nullptr) {
                heap::dispose(o);
                return;
            }
            if (child->tag == Tag::tuple || child->tag == Tag::map) {
                // Most die flat, their slots immediates and leaves: then the walk of `o` goes
                // on without keeping an entry for it.
                const Slots slots = slots_of(child);
                const Term* at = slots.first;
                const HeapObject* grandchild = release_leaves(at, slots.end);
                if (grandchild == nullptr) {
                    heap::dispose(const_cast<HeapObject*>(child));
                    continue;
                }
                keep(o, next, end);
                o = descend(const_cast<HeapObject*>(child), at, slots.end, grandchild);
            } else {
                o = descend(o, next, end, child);
            }
            next = nullptr;
        }
    }

    // Keeps what is left of `o` for later (or frees it: nothing is left) and returns `child`.
    HeapObject* descend(HeapObject* o, const Term* next, const Term* end,
                        const HeapObject* child) noexcept {
        keep(o, next, end);
        return const_cast<HeapObject*>(child);
    }

    void push(const HeapObject* object, const Term* next, const Term* end) noexcept {
        if (size_ == capacity_) grow();
        entries_[size_++] = Entry{const_cast<HeapObject*>(object), next, end};
    }

    // Out of memory here would leak the tree, and a destructor cannot report it: terminate.
    [[gnu::noinline]] void grow() noexcept {
        auto* bigger = static_cast<Entry*>(::operator new(2 * capacity_ * sizeof(Entry)));
        std::copy_n(entries_, size_, bigger);
        if (entries_ != inline_) ::operator delete(entries_);
        entries_ = bigger;
        capacity_ *= 2;
    }

    Entry inline_[inline_entries];
    Entry* entries_ = inline_;
    std::size_t size_ = 0;
    std::size_t capacity_ = inline_entries;
};

// The reaper of the destroy() running on this thread: a closure's destructor releases its fields
// from inside it, and what they free must join that walk instead of starting a nested one.
constinit thread_local Reaper* active_reaper = nullptr;

// Frees `object` with a reaper; or, when `child` is given, the slots of `object` from `next` to
// `end` and `child`, a container that died with it (the earlier slots are released already).
[[gnu::noinline]] void reap(const HeapObject* object, const Term* next, const Term* end,
                            const HeapObject* child) noexcept {
    Reaper reaper;
    active_reaper = &reaper;
    if (child == nullptr) {
        reaper.run(object);
    } else {
        reaper.keep(object, next, end);
        reaper.run(child);
    }
    active_reaper = nullptr;
}

// Frees `object`, a container whose last reference is gone, and what dies with it. Without a
// reaper while each container that dies holds only immediates and leaves, or one more such
// container in its last slot ({ok, [1, 2]}): nothing of the parent is then left to keep. The
// reaper takes over at a container that dies in another slot or in a list's tail, and at
// closures and records.
[[gnu::noinline]] void free_chain(const HeapObject* object) noexcept {
    for (;;) {
        if (object->tag == Tag::closure || object->tag == Tag::record) {
            reap(object, nullptr, nullptr, nullptr);
            return;
        }
        const Slots slots = slots_of(object);
        if (object->tag == Tag::list) {
            if (const HeapObject* tail =
                    last_reference(static_cast<const ListObject*>(object)->tail)) {
                if (holds_references(tail->tag)) {
                    reap(object, slots.first, slots.end, tail);
                    return;
                }
                free_leaf(tail);
            }
        }
        const Term* next = slots.first;
        const HeapObject* child = release_leaves(next, slots.end);
        if (child != nullptr && next != slots.end) {
            reap(object, next, slots.end, child);
            return;
        }
        heap::dispose(const_cast<HeapObject*>(object));
        if (child == nullptr) return;
        object = child;
    }
}

}  // namespace

void destroy(const HeapObject* object) noexcept {
    if (!holds_references(object->tag)) {
        free_leaf(object);
        return;
    }
    if (active_reaper != nullptr) {
        active_reaper->open(object);
        return;
    }
    if (object->tag != Tag::tuple && object->tag != Tag::map) {
        free_chain(object);
        return;
    }
    // Most tuples and maps hold only immediates and leaves: they need no reaper, which takes
    // over at the first container that dies with them (unless it is in their last slot).
    const Slots slots = slots_of(object);
    const Term* next = slots.first;
    if (const HeapObject* child = release_leaves(next, slots.end)) {
        if (next != slots.end) {
            reap(object, next, slots.end, child);
            return;
        }
        heap::dispose(const_cast<HeapObject*>(object));
        free_chain(child);
        return;
    }
    heap::dispose(const_cast<HeapObject*>(object));
}

TupleObject* TermAccess::new_tuple(std::size_t n) {
    auto* t = allocate_with<TupleObject, Term>(n);
    std::uninitialized_default_construct_n(t->data(), n);
    return t;
}

ListObject* TermAccess::new_list(std::size_t n) {
    auto* l = allocate_with<ListObject, Term>(n);
    std::uninitialized_default_construct_n(l->data(), n);
    return l;
}

MapObject* TermAccess::new_map(std::size_t n) {
    auto* m = allocate_with<MapObject, MapEntry>(n);
    std::uninitialized_default_construct_n(m->data(), n);
    return m;
}

bool TermAccess::finish_map(MapObject* map) noexcept {
    MapEntry* begin = map->data();
    MapEntry* end = begin + map->size;
    std::sort(begin, end, [](const MapEntry& a, const MapEntry& b) { return a.key < b.key; });
    bool unique = std::adjacent_find(begin, end, [](const MapEntry& a, const MapEntry& b) {
                      return a.key == b.key;
                  }) == end;
    if (!unique) release(map);
    return unique;
}

BinaryObject* TermAccess::new_binary(std::size_t size, std::uint8_t tail_bits) {
    auto* b = heap::make<BinaryObject>(sizeof(BinaryObject) + size);
    b->data = b->inline_data();
    b->size = size;
    b->tail_bits = tail_bits;
    return b;
}

BinaryObject* TermAccess::slice_binary(const HeapObject* owner, const std::uint8_t* data,
                                       std::size_t size, std::uint8_t tail_bits) {
    auto* b = heap::make<BinaryObject>(sizeof(BinaryObject));
    retain(owner);
    b->owner = owner;
    b->data = data;
    b->size = size;
    b->tail_bits = tail_bits;
    return b;
}

BufferObject* TermAccess::new_buffer(std::size_t size) {
    return allocate_with<BufferObject, std::uint8_t>(size);
}

Term TermAccess::make_integer(bool negative, std::span<const std::uint8_t> magnitude_le) {
    std::size_t size = magnitude_le.size();
    while (size > 0 && magnitude_le[size - 1] == 0)
        --size;
    if (size <= 8) {
        std::uint64_t mag = 0;
        for (std::size_t i = size; i-- > 0;)
            mag = (mag << 8) | magnitude_le[i];
        if (!negative && mag <= static_cast<std::uint64_t>(INT64_MAX))
            return Term(static_cast<std::int64_t>(mag));
        if (negative && mag <= std::uint64_t{1} << 63)
            return Term(static_cast<std::int64_t>(~mag + 1));
    }
    auto* big = allocate_with<BigObject, std::uint8_t>(size);
    big->negative = negative;
    std::memcpy(big->data(), magnitude_le.data(), size);
    return adopt(big);
}

}  // namespace detail

using detail::TermAccess;

// ---------------------------------------------------------------------------------------------
// Construction

namespace {
template <class O, class T>
Term boxed(T value) {
    return TermAccess::adopt(detail::heap::make<O>(sizeof(O), std::move(value)));
}
}  // namespace

Term::Term(double value) : tag_(detail::Tag::float_) {
    if (!std::isfinite(value)) throw std::domain_error("Erlang floats are finite");
    raw_.number = value;
}

Term::Term(const BigInt& value) : Term() {
    *this = TermAccess::make_integer(value.negative(), value.magnitude());
}

Term Term::from_unsigned(std::uint64_t value) {
    std::uint8_t bytes[8];
    for (auto& b : bytes)
        b = static_cast<std::uint8_t>(value), value >>= 8;
    return TermAccess::make_integer(false, bytes);
}

Term::Term(const Pid& pid) : Term(boxed<detail::PidObject>(pid)) {}
Term::Term(const Port& port) : Term(boxed<detail::PortObject>(port)) {}
Term::Term(const Reference& ref) : Term() {
    if (ref.size == 0 || ref.size > Reference::max_words)
        throw std::invalid_argument("a reference has 1 to 5 words");
    *this = boxed<detail::ReferenceObject>(ref);
}
Term::Term(const ExportFun& fun) : Term(boxed<detail::ExportFunObject>(fun)) {}
Term::Term(Closure fun) : Term(boxed<detail::ClosureObject>(std::move(fun))) {}

Term::Term(NativeRecord record) : Term() {
    if (record.values.size() != record.fields.size())
        throw std::invalid_argument("a native record needs one value for each field");
    for (std::size_t i = 0; i < record.fields.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (record.fields[i] == record.fields[j])
                throw std::invalid_argument("a native record names the field " +
                                            std::string(record.fields[i].name()) + " twice");
    *this = boxed<detail::RecordObject>(std::move(record));
}

const Term* NativeRecord::get(Atom field) const noexcept {
    for (std::size_t i = 0; i < fields.size() && i < values.size(); ++i)
        if (fields[i] == field) return &values[i];
    return nullptr;
}

Term tuple_from(std::span<const Term> elements) {
    auto* t = TermAccess::new_tuple(elements.size());
    std::copy(elements.begin(), elements.end(), t->data());
    return TermAccess::adopt(t);
}

Term list_from(std::span<const Term> elements, Term tail) {
    if (elements.empty()) return tail;
    // [a, b | [c | d]] is [a, b, c | d]: keep one flat representation so equality is simple.
    std::span<const Term> more = tail.elements();
    bool tail_is_list = TermAccess::tag(tail) == detail::Tag::list;
    std::size_t n = elements.size() + (tail_is_list ? more.size() : 0);
    auto* l = TermAccess::new_list(n);
    Term* out = std::copy(elements.begin(), elements.end(), l->data());
    if (tail_is_list) {
        std::copy(more.begin(), more.end(), out);
        l->tail = tail.tail();
    } else {
        l->tail = std::move(tail);
    }
    return TermAccess::adopt(l);
}

Term map_from(std::span<const MapEntry> entries) {
    std::vector<MapEntry> sorted(entries.begin(), entries.end());
    // Stable, so that among equal keys the last one given is the last one kept.
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const MapEntry& a, const MapEntry& b) { return a.key < b.key; });
    std::vector<MapEntry> unique;
    unique.reserve(sorted.size());
    for (auto& e : sorted) {
        if (!unique.empty() && unique.back().key == e.key)
            unique.back() = std::move(e);
        else
            unique.push_back(std::move(e));
    }
    auto* m = TermAccess::new_map(unique.size());
    std::move(unique.begin(), unique.end(), m->data());
    return TermAccess::adopt(m);
}

Term map(std::initializer_list<std::pair<Term, Term>> entries) {
    std::vector<MapEntry> list;
    list.reserve(entries.size());
    for (const auto& [k, v] : entries)
        list.push_back({k, v});
    return map_from(list);
}

Term binary(std::span<const std::uint8_t> bytes) {
    auto* b = TermAccess::new_binary(bytes.size(), 8);
    if (!bytes.empty()) std::memcpy(b->inline_data(), bytes.data(), bytes.size());
    return TermAccess::adopt(b);
}

Term binary(std::string_view bytes) {
    return binary(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

Term bitstring(std::span<const std::uint8_t> bytes, std::uint8_t tail_bits) {
    if (tail_bits < 1 || tail_bits > 8 || (bytes.empty() && tail_bits != 8))
        throw std::invalid_argument("a bitstring uses 1 to 8 bits of a last byte it must have");
    Term t = binary(bytes);
    if (tail_bits < 8) {
        auto* b = const_cast<detail::BinaryObject*>(&TermAccess::object<detail::BinaryObject>(t));
        b->tail_bits = tail_bits;
        // Unused low bits are zero, so equal bitstrings have equal bytes.
        b->inline_data()[bytes.size() - 1] &= static_cast<std::uint8_t>(0xFF << (8 - tail_bits));
    }
    return t;
}

std::optional<Term> charlist(std::string_view utf8) {
    std::vector<Term> points;
    points.reserve(utf8.size());
    for (std::size_t pos = 0; pos < utf8.size();) {
        auto cp = utf8::next(utf8, pos);
        if (!cp) return std::nullopt;
        points.emplace_back(static_cast<std::int64_t>(*cp));
    }
    return list_from(points);
}

// ---------------------------------------------------------------------------------------------
// Reading

TermKind Term::kind() const noexcept {
    using detail::Tag;
    switch (tag_) {
        case Tag::small_int:
        case Tag::big_int:
            return TermKind::integer;
        case Tag::float_:
            return TermKind::float_;
        case Tag::atom:
            return TermKind::atom;
        case Tag::reference:
            return TermKind::reference;
        case Tag::export_fun:
        case Tag::closure:
            return TermKind::fun;
        case Tag::port:
            return TermKind::port;
        case Tag::pid:
            return TermKind::pid;
        case Tag::tuple:
            return TermKind::tuple;
        case Tag::record:
            return TermKind::record;
        case Tag::map:
            return TermKind::map;
        case Tag::nil:
            return TermKind::nil;
        case Tag::list:
            return TermKind::list;
        case Tag::binary:
        case Tag::buffer:
            break;
    }
    return TermKind::bitstring;
}

bool Term::is_binary() const noexcept {
    return tag_ == detail::Tag::binary &&
           TermAccess::object<detail::BinaryObject>(*this).tail_bits == 8;
}

std::span<const Term> Term::elements() const noexcept {
    if (tag_ == detail::Tag::tuple) {
        const auto& t = TermAccess::object<detail::TupleObject>(*this);
        return {t.data(), t.size};
    }
    if (tag_ == detail::Tag::list) {
        const auto& l = TermAccess::object<detail::ListObject>(*this);
        return {l.data(), l.size};
    }
    return {};
}

const Term& Term::tail() const noexcept {
    static const Term nil;
    if (tag_ != detail::Tag::list) return nil;
    return TermAccess::object<detail::ListObject>(*this).tail;
}

bool Term::is_proper_list() const noexcept {
    return is_nil() || (is_list() && tail().is_nil());
}

const Term& Term::operator[](std::size_t i) const {
    if (!is_tuple()) throw std::out_of_range("Term::operator[] on a term that is not a tuple");
    auto all = elements();
    if (i >= all.size()) throw std::out_of_range("tuple element index out of range");
    return all[i];
}

std::span<const MapEntry> Term::entries() const noexcept {
    if (tag_ != detail::Tag::map) return {};
    const auto& m = TermAccess::object<detail::MapObject>(*this);
    return {m.data(), m.size};
}

const Term* Term::find(const Term& key) const noexcept {
    auto all = entries();
    auto it = std::lower_bound(all.begin(), all.end(), key,
                               [](const MapEntry& e, const Term& k) { return e.key < k; });
    if (it == all.end() || !(it->key == key)) return nullptr;
    return &it->value;
}

std::span<const std::uint8_t> Term::bytes() const noexcept {
    if (tag_ != detail::Tag::binary) return {};
    const auto& b = TermAccess::object<detail::BinaryObject>(*this);
    return {b.data, b.size};
}

std::uint8_t Term::tail_bits() const noexcept {
    if (tag_ != detail::Tag::binary) return 8;
    return TermAccess::object<detail::BinaryObject>(*this).tail_bits;
}

std::string_view Term::text() const noexcept {
    auto b = bytes();
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// ---------------------------------------------------------------------------------------------
// SharedBuffer

SharedBuffer::SharedBuffer(std::size_t size) : object_(TermAccess::new_buffer(size)) {}

SharedBuffer::SharedBuffer(std::span<const std::uint8_t> bytes) : SharedBuffer(bytes.size()) {
    if (!bytes.empty()) std::memcpy(object_->data(), bytes.data(), bytes.size());
}

SharedBuffer::SharedBuffer(const SharedBuffer& other) noexcept : object_(other.object_) {
    if (object_) detail::retain(object_);
}

SharedBuffer::~SharedBuffer() {
    if (object_) detail::release(object_);
}

std::uint8_t* SharedBuffer::data() noexcept {
    return object_ ? object_->data() : nullptr;
}
const std::uint8_t* SharedBuffer::data() const noexcept {
    return object_ ? object_->data() : nullptr;
}
std::size_t SharedBuffer::size() const noexcept {
    return object_ ? object_->size : 0;
}

}  // namespace distribute
