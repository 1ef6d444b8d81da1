// Encoding terms as a current BEAM does over distribution: UTF-8 atoms, the smallest integer tag,
// STRING_EXT for byte lists, NEW_PID/NEW_PORT/V4_PORT/NEWER_REFERENCE with 32-bit creation.
// Bytes go straight into the caller's vector; nesting lives on an explicit stack.
#include <bit>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "distribute/etf.hpp"
#include "term/etf_compress.hpp"
#include "term/etf_encoded_size.hpp"
#include "term/etf_gathered.hpp"
#include "term/etf_outgoing_atoms.hpp"
#include "term/etf_tags.hpp"

namespace distribute::etf {
namespace {

using detail::Tag;
using detail::TermAccess;
using wire::store16;
using wire::store32;
using wire::store64;

constexpr std::size_t no_size_field = std::numeric_limits<std::size_t>::max();
// OTP 25 writes a port number above 28 bits as V4_PORT_EXT, even when 32 bits would hold it.
constexpr std::uint64_t max_new_port_id = 0x0FFFFFFF;
constexpr std::size_t first_stack_frames = 64;
constexpr std::size_t kept_stack_frames = 4096;

// Appends to a vector through raw pointers. The vector is kept a little longer than what was
// written (so a write is a bounds check and a store) and cut to size at the end; long runs of
// bytes are appended without that, since growing by resize zeroes what is about to be copied.
class Writer {
  public:
    explicit Writer(std::vector<std::uint8_t>& out)
        : out_(out), start_(out.size()), cur_(out.data() + out.size()), limit_(cur_) {}
    ~Writer() { out_.resize(position()); }
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    std::uint8_t* room(std::size_t n) {
        if (static_cast<std::size_t>(limit_ - cur_) < n) [[unlikely]]
            grow(n);
        return cur_;
    }
    void advance(std::size_t n) noexcept { cur_ += n; }
    void put(std::uint8_t byte) {
        *room(1) = byte;
        ++cur_;
    }
    void bytes(const std::uint8_t* data, std::size_t n) {
        if (n >= bulk) {
            append(data, n);
            return;
        }
        if (n > 0) std::memcpy(room(n), data, n);
        cur_ += n;
    }
    std::size_t position() const noexcept { return static_cast<std::size_t>(cur_ - out_.data()); }
    std::uint8_t* at(std::size_t pos) noexcept { return out_.data() + pos; }

  private:
    static constexpr std::size_t bulk = 1024;
    static constexpr std::size_t slack = 256;
    // std::vector grows its capacity geometrically underneath, so this stays amortised O(1); the
    // slack grows with this term's output so that a large term takes few trips here. Not with
    // what `out` held before: a session's queue of a megabyte had every small message zero an
    // eighth of it (a third of a sender's CPU).
    [[gnu::noinline]] void grow(std::size_t n) {
        std::size_t pos = position();
        out_.resize(pos + n + slack + (pos - start_) / 8);
        cur_ = out_.data() + pos;
        limit_ = out_.data() + out_.size();
    }
    [[gnu::noinline]] void append(const std::uint8_t* data, std::size_t n) {
        out_.resize(position());
        out_.insert(out_.end(), data, data + n);
        cur_ = limit_ = out_.data() + out_.size();
    }

    std::vector<std::uint8_t>& out_;
    std::size_t start_;  // where this term's bytes begin in out_
    std::uint8_t* cur_;
    std::uint8_t* limit_;
};

// A container being written: its slots from `next` to `end` (a map's entries are 2n slots, key
// and value side by side), then a list's tail.
struct Frame {
    const Term* next;
    const Term* end;
    const Term* tail;
    std::size_t size_field;   // a closure's: where its Size goes, patched after its free variables
    std::size_t gathered_at;  // the gathered bytes when the closure began (they count in its Size)
};

// Reused by every encode on a thread: no allocation for the stack once it has grown.
struct FrameStack {
    std::unique_ptr<Frame[]> frames;
    std::size_t count = 0;
};
FrameStack& frame_stack() {
    thread_local FrameStack stack;
    return stack;
}

class Encoder {
  public:
    explicit Encoder(std::vector<std::uint8_t>& out, OutgoingAtomCache* cache = nullptr,
                     Gathered* gathered = nullptr)
        : w_(out), stack_(frame_stack()), cache_(cache), gathered_(gathered) {
        if (stack_.count == 0) [[unlikely]] {
            stack_.frames = std::make_unique<Frame[]>(first_stack_frames);
            stack_.count = first_stack_frames;
        }
        base_ = top_ = stack_.frames.get();
        cap_ = base_ + stack_.count;
    }
    ~Encoder() {
        if (stack_.count > kept_stack_frames) {
            stack_.frames.reset();
            stack_.count = 0;
        }
    }
    Encoder(const Encoder&) = delete;
    Encoder& operator=(const Encoder&) = delete;

    void version() { w_.put(version_magic); }

    void run(const Term& root) {
        const Term* t = &root;
        for (;;) {
            head(*t);
            // The next slot of the innermost container; finished ones are popped on the way.
            for (;;) {
                if (top_ == base_) return;
                Frame& f = *top_;
                if (f.next != f.end) {
                    t = f.next++;
                    break;
                }
                t = f.tail;
                if (f.size_field != no_size_field)
                    store32(w_.at(f.size_field),
                            static_cast<std::uint32_t>(w_.position() - f.size_field +
                                                       gathered_bytes() - f.gathered_at));
                --top_;
                if (t != nullptr) break;
            }
        }
    }

  private:
    void head(const Term& t);
    void integer(std::int64_t v);
    void big(const detail::BigObject& b);
    void atom(std::uint32_t index);
    void list(const Term& t);
    void closure(const Closure& c);
    void record(const NativeRecord& r);
    void elements(const Term* first, std::size_t n, const Term* tail = nullptr,
                  std::size_t size_field = no_size_field) {
        if (top_ + 1 == cap_) [[unlikely]]
            grow_stack();
        *++top_ = Frame{first, first + n, tail, size_field, gathered_bytes()};
    }
    [[gnu::noinline]] void grow_stack();
    std::size_t gathered_bytes() const noexcept { return gathered_ ? gathered_->bytes : 0; }
    // A large binary's bytes, when gathering: left where the term keeps them.
    bool gather(const Term& t, const detail::BinaryObject& b) {
        if (gathered_ == nullptr || b.size < gathered_binary_bytes) return false;
        gathered_->binaries.push_back(
            GatheredBinary{w_.position(), std::span<const std::uint8_t>(b.data, b.size), t});
        gathered_->bytes += b.size;
        return true;
    }

    Writer w_;
    FrameStack& stack_;
    Frame* base_;  // never written: the stack is empty when top_ is here
    Frame* top_;
    Frame* cap_;
    OutgoingAtomCache* cache_;  // after a distribution header with atom cache references
    Gathered* gathered_;        // null: every binary copied
};

void Encoder::grow_stack() {
    std::size_t depth = static_cast<std::size_t>(top_ - base_);
    std::size_t count = stack_.count * 2;
    auto bigger = std::make_unique_for_overwrite<Frame[]>(count);
    std::copy(base_, top_ + 1, bigger.get());
    stack_.frames = std::move(bigger);
    stack_.count = count;
    base_ = stack_.frames.get();
    top_ = base_ + depth;
    cap_ = base_ + count;
}

[[gnu::always_inline]] inline void Encoder::head(const Term& t) {
    switch (TermAccess::tag(t)) {
        case Tag::small_int:
            integer(TermAccess::small(t));
            return;
        case Tag::big_int:
            big(TermAccess::object<detail::BigObject>(t));
            return;
        case Tag::float_: {
            std::uint8_t* p = w_.room(9);
            p[0] = tag::new_float;
            store64(p + 1, std::bit_cast<std::uint64_t>(TermAccess::number(t)));
            w_.advance(9);
            return;
        }
        case Tag::atom:
            atom(TermAccess::atom(t));
            return;
        case Tag::nil:
            w_.put(tag::nil);
            return;
        case Tag::list:
            list(t);
            return;
        case Tag::tuple: {
            const auto& tuple = TermAccess::object<detail::TupleObject>(t);
            std::uint8_t* p = w_.room(5);
            if (tuple.size <= 255) {
                p[0] = tag::small_tuple;
                p[1] = static_cast<std::uint8_t>(tuple.size);
                w_.advance(2);
            } else {
                p[0] = tag::large_tuple;
                store32(p + 1, static_cast<std::uint32_t>(tuple.size));
                w_.advance(5);
            }
            if (tuple.size > 0) elements(tuple.data(), tuple.size);
            return;
        }
        case Tag::map: {
            const auto& map = TermAccess::object<detail::MapObject>(t);
            std::uint8_t* p = w_.room(5);
            p[0] = tag::map;
            store32(p + 1, static_cast<std::uint32_t>(map.size));
            w_.advance(5);
            // Key and value side by side: the entries are 2n slots in wire order.
            static_assert(sizeof(MapEntry) == 2 * sizeof(Term));
            if (map.size > 0) elements(reinterpret_cast<const Term*>(map.data()), 2 * map.size);
            return;
        }
        case Tag::binary: {
            const auto& b = TermAccess::object<detail::BinaryObject>(t);
            std::uint8_t* p = w_.room(6);
            if (b.tail_bits == 8) {
                p[0] = tag::binary;
                store32(p + 1, static_cast<std::uint32_t>(b.size));
                w_.advance(5);
            } else {
                p[0] = tag::bit_binary;
                store32(p + 1, static_cast<std::uint32_t>(b.size));
                p[5] = b.tail_bits;
                w_.advance(6);
            }
            if (!gather(t, b)) w_.bytes(b.data, b.size);
            return;
        }
        case Tag::pid: {
            const Pid& pid = TermAccess::object<detail::PidObject>(t).value;
            w_.put(tag::new_pid);
            atom(pid.node.index());
            std::uint8_t* p = w_.room(12);
            store32(p, pid.id);
            store32(p + 4, pid.serial);
            store32(p + 8, pid.creation);
            w_.advance(12);
            return;
        }
        case Tag::port: {
            const Port& port = TermAccess::object<detail::PortObject>(t).value;
            bool v4 = port.id > max_new_port_id;
            w_.put(v4 ? tag::v4_port : tag::new_port);
            atom(port.node.index());
            std::uint8_t* p = w_.room(12);
            std::size_t id_size = v4 ? 8 : 4;
            if (v4)
                store64(p, port.id);
            else
                store32(p, static_cast<std::uint32_t>(port.id));
            store32(p + id_size, port.creation);
            w_.advance(id_size + 4);
            return;
        }
        case Tag::reference: {
            const Reference& ref = TermAccess::object<detail::ReferenceObject>(t).value;
            std::uint8_t* p = w_.room(3);
            p[0] = tag::newer_reference;
            store16(p + 1, ref.size);
            w_.advance(3);
            atom(ref.node.index());
            p = w_.room(4 + 4 * Reference::max_words);
            store32(p, ref.creation);
            for (std::size_t i = 0; i < ref.size; ++i)
                store32(p + 4 + 4 * i, ref.words[i]);
            w_.advance(4 + 4 * std::size_t{ref.size});
            return;
        }
        case Tag::export_fun: {
            const ExportFun& fun = TermAccess::object<detail::ExportFunObject>(t).value;
            w_.put(tag::export_);
            atom(fun.module.index());
            atom(fun.function.index());
            std::uint8_t* p = w_.room(2);
            p[0] = tag::small_integer;
            p[1] = fun.arity;
            w_.advance(2);
            return;
        }
        case Tag::closure:
            closure(TermAccess::object<detail::ClosureObject>(t).value);
            return;
        case Tag::record:
            record(TermAccess::object<detail::RecordObject>(t).value);
            return;
        case Tag::buffer:
            break;
    }
}

[[gnu::always_inline]] inline void Encoder::integer(std::int64_t v) {
    std::uint8_t* p = w_.room(11);
    if (v >= 0 && v <= 255) {
        p[0] = tag::small_integer;
        p[1] = static_cast<std::uint8_t>(v);
        w_.advance(2);
    } else if (v >= std::numeric_limits<std::int32_t>::min() &&
               v <= std::numeric_limits<std::int32_t>::max()) {
        p[0] = tag::integer;
        store32(p + 1, static_cast<std::uint32_t>(v));
        w_.advance(5);
    } else {
        std::uint64_t magnitude = v < 0 ? ~static_cast<std::uint64_t>(v) + 1 : v;
        std::size_t n = (static_cast<std::size_t>(std::bit_width(magnitude)) + 7) / 8;
        p[0] = tag::small_big;
        p[1] = static_cast<std::uint8_t>(n);
        p[2] = v < 0 ? 1 : 0;
        for (std::size_t i = 0; i < n; ++i, magnitude >>= 8)
            p[3 + i] = static_cast<std::uint8_t>(magnitude);
        w_.advance(3 + n);
    }
}

void Encoder::big(const detail::BigObject& b) {
    std::uint8_t* p = w_.room(6);
    if (b.size <= 255) {
        p[0] = tag::small_big;
        p[1] = static_cast<std::uint8_t>(b.size);
        p[2] = b.negative ? 1 : 0;
        w_.advance(3);
    } else {
        p[0] = tag::large_big;
        store32(p + 1, static_cast<std::uint32_t>(b.size));
        p[5] = b.negative ? 1 : 0;
        w_.advance(6);
    }
    w_.bytes(b.data(), b.size);
}

inline void Encoder::atom(std::uint32_t index) {
    if (cache_ != nullptr) {
        const int ref = cache_->ref(Atom::from_index(index));
        if (ref >= 0) {
            std::uint8_t* p = w_.room(2);
            p[0] = tag::atom_cache_ref;
            p[1] = static_cast<std::uint8_t>(ref);
            w_.advance(2);
            return;
        }
    }
    std::string_view name = Atom::from_index(index).name();
    std::size_t n = name.size();
    // The name is copied in whole words: the table pads it with zeros, and the room taken here
    // covers the last word; what lands past the name is overwritten or cut off.
    static_assert(detail::atom_name_padding >= 8);
    std::uint8_t* p = w_.room(3 + n + 8);
    if (n <= 255) {
        p[0] = tag::small_atom_utf8;
        p[1] = static_cast<std::uint8_t>(n);
        p += 2;
        w_.advance(2 + n);
    } else {
        p[0] = tag::atom_utf8;
        store16(p + 1, static_cast<std::uint16_t>(n));
        p += 3;
        w_.advance(3 + n);
    }
    for (std::size_t i = 0; i < n; i += 8)
        std::memcpy(p + i, name.data() + i, 8);
}

// STRING_EXT where encodes_as_string_ext says so, else LIST_EXT.
void Encoder::list(const Term& t) {
    const auto& l = TermAccess::object<detail::ListObject>(t);
    const Term* items = l.data();
    if (encodes_as_string_ext(l)) {
        std::uint8_t* p = w_.room(3 + l.size);
        p[0] = tag::string;
        store16(p + 1, static_cast<std::uint16_t>(l.size));
        for (std::size_t i = 0; i < l.size; ++i)
            p[3 + i] = static_cast<std::uint8_t>(TermAccess::small(items[i]));
        w_.advance(3 + l.size);
        return;
    }
    std::uint8_t* p = w_.room(5);
    p[0] = tag::list;
    store32(p + 1, static_cast<std::uint32_t>(l.size));
    w_.advance(5);
    elements(items, l.size, &l.tail);
}

// NEW_FUN_EXT rebuilt from its fields; Size is patched once the free variables are written.
void Encoder::closure(const Closure& c) {
    std::uint8_t* p = w_.room(30);
    p[0] = tag::new_fun;
    std::size_t size_field = w_.position() + 1;
    p[5] = c.arity;
    std::memcpy(p + 6, c.uniq.data(), 16);
    store32(p + 22, c.index);
    store32(p + 26, static_cast<std::uint32_t>(c.free_vars.size()));
    w_.advance(30);
    atom(c.module.index());
    // Popped in reverse: OldIndex, OldUniq, Pid, then the free variables.
    elements(c.free_vars.data(), c.free_vars.size(), nullptr, size_field);
    elements(&c.pid, 1);
    elements(&c.old_uniq, 1);
    elements(&c.old_index, 1);
}

// RECORD_EXT (OTP 29): Arity:32, Flags:8 (bit 0: exported), Module, Name, the field names, then
// the values. Bytes taken from term_to_binary on OTP 29.1.
void Encoder::record(const NativeRecord& r) {
    std::uint8_t* p = w_.room(6);
    p[0] = tag::record;
    store32(p + 1, static_cast<std::uint32_t>(r.fields.size()));
    p[5] = r.exported ? 1 : 0;
    w_.advance(6);
    atom(r.module.index());
    atom(r.name.index());
    for (Atom field : r.fields)
        atom(field.index());
    if (!r.values.empty()) elements(r.values.data(), r.values.size());
}

}  // namespace

void encode_body(std::vector<std::uint8_t>& out, const Term& term) {
    Encoder(out).run(term);
}

void encode_body(std::vector<std::uint8_t>& out, const Term& term, OutgoingAtomCache* cache) {
    Encoder(out, cache).run(term);
}

void encode_body(std::vector<std::uint8_t>& out, const Term& term, OutgoingAtomCache* cache,
                 Gathered& gathered) {
    Encoder(out, cache, &gathered).run(term);
}

void encode_to(std::vector<std::uint8_t>& out, const Term& term, const EncodeOptions& options) {
    std::size_t start = out.size();
    {
        Encoder encoder(out);
        encoder.version();
        encoder.run(term);
    }
    std::size_t body = out.size() - start - 1;
    if (options.compression < 0 || body > std::numeric_limits<std::uint32_t>::max()) return;
    std::vector<std::uint8_t> packed(6);
    packed[0] = version_magic;
    packed[1] = tag::compressed;
    store32(packed.data() + 2, static_cast<std::uint32_t>(body));
    zlib::deflate_append(std::span(out.data() + start + 1, body), options.compression, packed);
    // Like term_to_binary: the compressed form only when it is smaller.
    if (packed.size() >= body + 1) return;
    out.resize(start);
    out.insert(out.end(), packed.begin(), packed.end());
}

std::vector<std::uint8_t> encode(const Term& term, const EncodeOptions& options) {
    std::vector<std::uint8_t> out;
    out.reserve(64);
    encode_to(out, term, options);
    return out;
}

}  // namespace distribute::etf
