// The Erlang term as a C++ value: what every message, call and reply is made of.
//
// A Term is 16 bytes. Integers that fit 64 bits, floats, atoms and [] live inside it; everything
// else is a reference-counted, immutable heap object, so copying a Term is cheap and a Term can be
// handed to another thread. Terms compare and order as Erlang does.
#pragma once

#include <array>
#include <atomic>
#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "distribute/error.hpp"
#include "distribute/expected.hpp"

namespace distribute {

// ---------------------------------------------------------------------------------------------
// Atoms

enum class AtomErrc {
    too_long = 1,  // more than 255 characters
    invalid_utf8,  // the name is not valid UTF-8
    table_full,    // the atom table reached its limit (see AtomTable::set_limit)
    not_existing,  // safe lookup of an atom nobody created yet
};
const std::error_category& atom_category() noexcept;
std::error_code make_error_code(AtomErrc e) noexcept;

// An interned atom: an index into the process-wide atom table. Like the BEAM's, the table only
// grows, so an Atom stays valid for the life of the process and compares in one instruction.
class Atom {
  public:
    // The empty atom ''.
    constexpr Atom() noexcept = default;

    // Interns `utf8` (at most 255 characters). Fails when the name is invalid or the table is full.
    [[nodiscard]] static Expected<Atom, AtomErrc> make(std::string_view utf8);
    // The atom only if somebody already created it: what decoding in safe mode uses, so that a
    // peer cannot fill the table.
    [[nodiscard]] static std::optional<Atom> existing(std::string_view utf8);
    // For the implementation and for constants; the index must come from this table.
    static constexpr Atom from_index(std::uint32_t index) noexcept { return Atom(index); }

    std::string_view name() const noexcept;
    constexpr std::uint32_t index() const noexcept { return index_; }

    constexpr bool operator==(const Atom&) const noexcept = default;
    // Erlang orders atoms by their text, not by when they were created.
    std::strong_ordering operator<=>(const Atom& other) const noexcept;

  private:
    constexpr explicit Atom(std::uint32_t index) noexcept : index_(index) {}
    std::uint32_t index_ = 0;
};

// The one process-wide table, as on the BEAM: terms from any node in this process share atoms.
struct AtomTable {
    // The BEAM's default limit; decoding and Atom::make fail with table_full past it.
    static constexpr std::size_t default_limit = 1'048'576;
    static void set_limit(std::size_t max_atoms) noexcept;
    static std::size_t limit() noexcept;
    static std::size_t size() noexcept;
};

namespace detail {
// Interned first, in this order, so that their indexes are compile-time constants.
inline constexpr std::string_view well_known_atoms[] = {
    "",          "true",
    "false",     "ok",
    "error",     "undefined",
    "nil",       "normal",
    "kill",      "killed",
    "noproc",    "noconnection",
    "timeout",   "badarg",
    "badrpc",    "EXIT",
    "DOWN",      "process",
    "port",      "infinity",
    "$gen_call", "$gen_cast",
    "alias",     "nonode@nohost",
    "throw",     "exit",
    "shutdown",  "call",
    "cast",      "reply",
    "not_found", "undef",
    "badarith",  "function_clause",
};
// Atom::name() is followed by this many zero bytes in the table, so that code comparing names can
// load them a word at a time.
inline constexpr std::size_t atom_name_padding = 8;
consteval Atom well_known(std::string_view name) {
    for (std::uint32_t i = 0; i < std::size(well_known_atoms); ++i)
        if (well_known_atoms[i] == name) return Atom::from_index(i);
    throw "not a well-known atom";
}
}  // namespace detail

// Constants for the atoms every program needs, free of any table lookup.
namespace atoms {
inline constexpr Atom empty = detail::well_known("");
inline constexpr Atom true_ = detail::well_known("true");
inline constexpr Atom false_ = detail::well_known("false");
inline constexpr Atom ok = detail::well_known("ok");
inline constexpr Atom error = detail::well_known("error");
inline constexpr Atom undefined = detail::well_known("undefined");
inline constexpr Atom nil = detail::well_known("nil");
inline constexpr Atom normal = detail::well_known("normal");
inline constexpr Atom kill = detail::well_known("kill");
inline constexpr Atom killed = detail::well_known("killed");
inline constexpr Atom noproc = detail::well_known("noproc");
inline constexpr Atom noconnection = detail::well_known("noconnection");
inline constexpr Atom timeout = detail::well_known("timeout");
inline constexpr Atom badarg = detail::well_known("badarg");
inline constexpr Atom badrpc = detail::well_known("badrpc");
inline constexpr Atom EXIT = detail::well_known("EXIT");
inline constexpr Atom DOWN = detail::well_known("DOWN");
inline constexpr Atom process = detail::well_known("process");
inline constexpr Atom port = detail::well_known("port");
inline constexpr Atom infinity = detail::well_known("infinity");
inline constexpr Atom gen_call = detail::well_known("$gen_call");
inline constexpr Atom gen_cast = detail::well_known("$gen_cast");
inline constexpr Atom alias = detail::well_known("alias");
inline constexpr Atom nonode = detail::well_known("nonode@nohost");
inline constexpr Atom throw_ = detail::well_known("throw");
inline constexpr Atom exit = detail::well_known("exit");
inline constexpr Atom shutdown = detail::well_known("shutdown");
inline constexpr Atom call = detail::well_known("call");
inline constexpr Atom cast = detail::well_known("cast");
inline constexpr Atom reply = detail::well_known("reply");
inline constexpr Atom not_found = detail::well_known("not_found");
inline constexpr Atom undef = detail::well_known("undef");
inline constexpr Atom badarith = detail::well_known("badarith");
inline constexpr Atom function_clause = detail::well_known("function_clause");
}  // namespace atoms

// ---------------------------------------------------------------------------------------------
// Arbitrary-precision integers

// An integer of any size, for values outside int64_t. Kept as sign and magnitude bytes
// (little-endian, as the external term format has them), so encoding and decoding are copies.
class BigInt {
  public:
    BigInt() = default;
    BigInt(std::int64_t value);
    // From magnitude bytes, least significant first; leading zero bytes are allowed.
    BigInt(bool negative, std::span<const std::uint8_t> magnitude_le);

    // Digits in base 2..36, optional leading '-', no prefix. nullopt when the text is not a number.
    [[nodiscard]] static std::optional<BigInt> parse(std::string_view digits, int base = 10);
    std::string to_string(int base = 10) const;

    bool negative() const noexcept { return negative_; }
    bool is_zero() const noexcept { return magnitude_.empty(); }
    // Magnitude bytes, least significant first, without high zero bytes.
    std::span<const std::uint8_t> magnitude() const noexcept { return magnitude_; }
    // The value when it fits.
    std::optional<std::int64_t> to_int64() const noexcept;
    double to_double() const noexcept;

    friend BigInt operator+(const BigInt& a, const BigInt& b);
    friend BigInt operator-(const BigInt& a, const BigInt& b);
    friend BigInt operator*(const BigInt& a, const BigInt& b);
    BigInt operator-() const;

    bool operator==(const BigInt&) const = default;
    friend std::strong_ordering operator<=>(const BigInt& a, const BigInt& b) noexcept;

  private:
    void trim() noexcept;
    bool negative_ = false;
    std::vector<std::uint8_t> magnitude_;
};

// ---------------------------------------------------------------------------------------------
// Identifiers that belong to a node

// A process identifier. `creation` tells incarnations of a node apart: a pid from an earlier
// incarnation names a process that is gone.
struct Pid {
    Atom node;
    std::uint32_t id = 0;
    std::uint32_t serial = 0;
    std::uint32_t creation = 0;
    bool operator==(const Pid&) const = default;
    // Erlang's order: serial, then id, then node name, then creation.
    friend std::strong_ordering operator<=>(const Pid& a, const Pid& b) noexcept;
};

struct Port {
    Atom node;
    std::uint64_t id = 0;
    std::uint32_t creation = 0;
    bool operator==(const Port&) const = default;
    friend std::strong_ordering operator<=>(const Port& a, const Port& b) noexcept;
};

// A reference: 1 to 5 32-bit words (the BEAM makes 3; pid references have more).
struct Reference {
    static constexpr std::size_t max_words = 5;
    Atom node;
    std::uint32_t creation = 0;
    std::uint8_t size = 0;
    std::array<std::uint32_t, max_words> words{};

    std::span<const std::uint32_t> ids() const noexcept { return {words.data(), size}; }
    friend bool operator==(const Reference& a, const Reference& b) noexcept;
    friend std::strong_ordering operator<=>(const Reference& a, const Reference& b) noexcept;
};

// `fun Module:Function/Arity`: the only kind of fun another node can call by name.
struct ExportFun {
    Atom module;
    Atom function;
    std::uint8_t arity = 0;
    bool operator==(const ExportFun&) const = default;
    auto operator<=>(const ExportFun&) const = default;
};

class Term;
struct Closure;
struct NativeRecord;

// ---------------------------------------------------------------------------------------------
// The term

// Kinds in Erlang's term order: number < atom < reference < fun < port < pid < tuple < record <
// map < nil < list < bitstring. Records are OTP 29's native records.
enum class TermKind : std::uint8_t {
    integer,
    float_,
    atom,
    reference,
    fun,
    port,
    pid,
    tuple,
    record,
    map,
    nil,
    list,
    bitstring,
};

namespace detail {

// The representation behind a Term; the implementation switches on it.
enum class Tag : std::uint8_t {
    small_int,
    big_int,
    float_,
    atom,
    reference,
    export_fun,
    closure,
    port,
    pid,
    tuple,
    record,
    map,
    nil,
    list,
    binary,  // binaries and bitstrings
    buffer,  // raw bytes owned by binaries sliced from them; never the tag of a Term
};

// The tags of values held inside the Term, as a set of bits: one test tells them from objects.
inline constexpr unsigned immediate_tags =
    1u << static_cast<unsigned>(Tag::small_int) | 1u << static_cast<unsigned>(Tag::float_) |
    1u << static_cast<unsigned>(Tag::atom) | 1u << static_cast<unsigned>(Tag::nil);

struct HeapObject {
    explicit HeapObject(Tag t) noexcept : tag(t) {}
    mutable std::atomic<std::uint32_t> refs{1};
    Tag tag;
    std::uint8_t size_class = 0;  // which free list the memory goes back to (0: operator delete)
};

void destroy(const HeapObject* object) noexcept;

inline void retain(const HeapObject* object) noexcept {
    object->refs.fetch_add(1, std::memory_order_relaxed);
}
inline void release(const HeapObject* object) noexcept {
    // A sole owner cannot race with anybody, so it skips the atomic read-modify-write.
    if (object->refs.load(std::memory_order_acquire) == 1 ||
        object->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
        destroy(object);
}

struct TermAccess;
}  // namespace detail

struct MapEntry;

class Term {
  public:
    // [] (nil).
    Term() noexcept : tag_(detail::Tag::nil) { raw_.integer = 0; }

    template <std::integral I>
    requires(!std::same_as<I, bool>) Term(I value) : tag_(detail::Tag::nil) {
        if constexpr (std::is_unsigned_v<I> && sizeof(I) >= sizeof(std::int64_t)) {
            if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                *this = from_unsigned(static_cast<std::uint64_t>(value));
                return;
            }
        }
        tag_ = detail::Tag::small_int;
        raw_.integer = static_cast<std::int64_t>(value);
    }
    // The atoms true and false.
    Term(bool value) noexcept : tag_(detail::Tag::atom) {
        raw_.atom = (value ? atoms::true_ : atoms::false_).index();
    }
    // Floats must be finite: Erlang has no inf or NaN (std::domain_error otherwise).
    Term(double value);
    Term(Atom atom) noexcept : tag_(detail::Tag::atom) { raw_.atom = atom.index(); }
    // Normalised: a value that fits int64_t becomes a small integer, as on the BEAM.
    Term(const BigInt& value);
    Term(const Pid& pid);
    Term(const Port& port);
    Term(const Reference& ref);
    Term(const ExportFun& fun);
    Term(Closure fun);
    // Throws std::invalid_argument for a record with a field named twice or a value missing.
    Term(NativeRecord record);
    // Text is ambiguous in Erlang (atom, binary or charlist?): say which with "x"_a, binary("x")
    // or charlist("x").
    Term(const char*) = delete;

    Term(const Term& other) noexcept : raw_(other.raw_), tag_(other.tag_) {
        if (is_boxed()) detail::retain(raw_.object);
    }
    Term(Term&& other) noexcept : raw_(other.raw_), tag_(other.tag_) {
        other.tag_ = detail::Tag::nil;
    }
    Term& operator=(const Term& other) noexcept {
        Term copy(other);
        swap(copy);
        return *this;
    }
    Term& operator=(Term&& other) noexcept {
        Term moved(std::move(other));
        swap(moved);
        return *this;
    }
    ~Term() {
        if (is_boxed()) detail::release(raw_.object);
    }
    void swap(Term& other) noexcept {
        std::swap(raw_, other.raw_);
        std::swap(tag_, other.tag_);
    }

    TermKind kind() const noexcept;

    bool is_integer() const noexcept {
        return tag_ == detail::Tag::small_int || tag_ == detail::Tag::big_int;
    }
    bool is_float() const noexcept { return tag_ == detail::Tag::float_; }
    bool is_number() const noexcept { return is_integer() || is_float(); }
    bool is_atom() const noexcept { return tag_ == detail::Tag::atom; }
    bool is_atom(Atom a) const noexcept { return is_atom() && raw_.atom == a.index(); }
    bool is_nil() const noexcept { return tag_ == detail::Tag::nil; }
    // Like Erlang's is_list/1: [] or a non-empty list, proper or not.
    bool is_list() const noexcept { return is_nil() || tag_ == detail::Tag::list; }
    bool is_tuple() const noexcept { return tag_ == detail::Tag::tuple; }
    bool is_tuple(std::size_t arity) const noexcept;
    bool is_map() const noexcept { return tag_ == detail::Tag::map; }
    // A bitstring whose size is a whole number of bytes.
    bool is_binary() const noexcept;
    bool is_bitstring() const noexcept { return tag_ == detail::Tag::binary; }
    bool is_pid() const noexcept { return tag_ == detail::Tag::pid; }
    bool is_port() const noexcept { return tag_ == detail::Tag::port; }
    bool is_reference() const noexcept { return tag_ == detail::Tag::reference; }
    bool is_fun() const noexcept {
        return tag_ == detail::Tag::export_fun || tag_ == detail::Tag::closure;
    }
    // A native record (OTP 29); read it with to<NativeRecord>().
    bool is_record() const noexcept { return tag_ == detail::Tag::record; }

    // The value as T when the term is one (see Convert<T> below for what T may be), else nullopt.
    template <class T>
    std::optional<T> to() const;

    // Tuple elements, or the elements of a list before its tail; empty for other terms.
    std::span<const Term> elements() const noexcept;
    // The tail of a list: [] for a proper list, the last cdr of an improper one, and [] for
    // anything that is not a list.
    const Term& tail() const noexcept;
    bool is_proper_list() const noexcept;
    // Tuple element i (0-based). Out of range or not a tuple is a programmer error: throws.
    const Term& operator[](std::size_t i) const;
    // Map entries sorted by key in Erlang's term order; empty for other terms.
    std::span<const MapEntry> entries() const noexcept;
    // The value under `key`, or nullptr (also when the term is not a map).
    const Term* find(const Term& key) const noexcept;
    // Bitstring bytes; the last byte holds tail_bits() bits counted from its most significant.
    std::span<const std::uint8_t> bytes() const noexcept;
    std::uint8_t tail_bits() const noexcept;
    // The bytes of a binary as text (no UTF-8 check); empty for other terms.
    std::string_view text() const noexcept;

    // {Tag, A, B...} with Tag == tag: the other elements converted, or nullopt. It reads as a
    // match on a gen_server request:
    //   if (auto put = request.tagged<Term, Term>("put"_a)) { auto& [key, value] = *put; ... }
    template <class... Ts>
    std::optional<std::tuple<Ts...>> tagged(Atom tag) const;
    // {A, B...} of exactly sizeof...(Ts) elements, each converted.
    template <class... Ts>
    std::optional<std::tuple<Ts...>> unpack() const;

    // Exact equality (Erlang's =:=): 1 and 1.0 differ.
    friend bool operator==(const Term& a, const Term& b) noexcept;
    // Exact term order: Erlang's order, with an integer before an equal float. A total order,
    // usable as a key in std::map and the order of map keys.
    friend std::strong_ordering operator<=>(const Term& a, const Term& b) noexcept;

  private:
    friend struct detail::TermAccess;
    static Term from_unsigned(std::uint64_t value);
    bool is_boxed() const noexcept {
        return ((1u << static_cast<unsigned>(tag_)) & detail::immediate_tags) == 0;
    }

    union Raw {
        std::int64_t integer;
        double number;
        std::uint32_t atom;
        const detail::HeapObject* object;
    } raw_;
    detail::Tag tag_;
};

struct MapEntry {
    Term key;
    Term value;
};

// A fun defined in Erlang code. A C++ node cannot run it; it keeps every field so that the fun
// goes back to a BEAM exactly as it came.
struct Closure {
    std::uint8_t arity = 0;
    std::array<std::uint8_t, 16> uniq{};
    std::uint32_t index = 0;
    Atom module;
    Term old_index;
    Term old_uniq;
    Term pid;
    std::vector<Term> free_vars;
    bool operator==(const Closure&) const = default;
};

// A native record (OTP 29), #Module:Name{Field = Value, ...}: the fields in the record's own
// order, no name twice, a value for each. `exported` (records:is_exported/1) belongs to the
// value, as on the BEAM: two records that differ only in it are not equal. Records order after
// tuples and before maps; among themselves by module, name, exported, field count, the field
// names in order, then the values.
struct NativeRecord {
    Atom module;
    Atom name;
    std::vector<Atom> fields;
    std::vector<Term> values;  // values[i] is the value of fields[i]
    bool exported = true;
    bool operator==(const NativeRecord&) const = default;
    // The value of `field`, or nullptr when the record has no such field (records:get/2).
    const Term* get(Atom field) const noexcept;
};

// Erlang's == : numbers compare by value, so 1 == 1.0.
bool equal(const Term& a, const Term& b) noexcept;
// Erlang's < and == order: equivalent when Erlang's == says so.
std::weak_ordering compare(const Term& a, const Term& b) noexcept;
// Consistent with operator== (exact equality).
std::size_t hash(const Term& t) noexcept;

// ---------------------------------------------------------------------------------------------
// Building terms

template <class... Ts>
Term tuple(Ts&&... elements);
Term tuple_from(std::span<const Term> elements);
// A proper list, or an improper one when `tail` is not a list.
template <class... Ts>
Term list(Ts&&... elements);
Term list_from(std::span<const Term> elements, Term tail = Term());
// Later keys replace earlier equal ones, as maps:from_list/1 does.
Term map(std::initializer_list<std::pair<Term, Term>> entries);
Term map_from(std::span<const MapEntry> entries);
Term binary(std::span<const std::uint8_t> bytes);
Term binary(std::string_view bytes);
// `bits` (1..8) bits of the last byte are used, counted from its most significant bit.
Term bitstring(std::span<const std::uint8_t> bytes, std::uint8_t tail_bits);
// A list of the Unicode code points of `utf8` (as Erlang's "..." is); std::nullopt when the text
// is not valid UTF-8.
std::optional<Term> charlist(std::string_view utf8);

inline namespace literals {
// "ok"_a is the atom ok. Throws std::invalid_argument for a name no atom can have.
Atom operator""_a(const char* text, std::size_t size);
}  // namespace literals

// ---------------------------------------------------------------------------------------------
// Text: Erlang syntax in and out

// As io:format("~p") prints it, on one line. Pids, ports and references carry their node's name
// (`<node@host.85.0>`), since a C++ program has no node table to number them by.
std::string to_string(const Term& t);
std::ostream& operator<<(std::ostream& out, const Term& t);

struct ParseError {
    std::size_t line = 0;    // 1-based
    std::size_t column = 0;  // 1-based, in bytes
    std::string message;     // what was expected or what is wrong
    std::string to_string() const;
};

// How deep containers (tuples, lists, maps, funs' free variables) may nest in a term read by any
// of our parsers: the external term format decoder (etf::DecodeOptions::max_depth defaults to
// it) and parse_term. Real data nests a few levels; a million-deep term still fits, while input
// made only of brackets cannot make a parser hold gigabytes.
inline constexpr std::size_t max_term_depth = std::size_t{1} << 21;

// Reads one Erlang term literal, with an optional final `.`: atoms, integers (any size, 16#ff,
// $a, 1_000), floats, strings, binaries with bit syntax sizes, lists, tuples, maps, `fun M:F/A`.
// Containers nested deeper than max_term_depth are an error.
[[nodiscard]] Expected<Term, ParseError> parse_term(std::string_view text);

// ---------------------------------------------------------------------------------------------
// Conversions used by Term::to, Term::tagged and Term::unpack

template <class T>
struct Convert;

template <>
struct Convert<Term> {
    static std::optional<Term> from(const Term& t) { return t; }
};
template <>
struct Convert<Atom> {
    static std::optional<Atom> from(const Term& t);
};
template <>
struct Convert<bool> {
    static std::optional<bool> from(const Term& t);
};
template <>
struct Convert<std::int64_t> {
    static std::optional<std::int64_t> from(const Term& t);
};
template <>
struct Convert<double> {
    static std::optional<double> from(const Term& t);
};
template <>
struct Convert<BigInt> {
    static std::optional<BigInt> from(const Term& t);
};
// Other integer types: range-checked through int64_t (uint64_t also reads big values).
template <std::integral I>
requires(!std::same_as<I, bool> && !std::same_as<I, std::int64_t>) struct Convert<I> {
    // Defined in the class: clang 14 rejects an out-of-line member of a constrained specialization.
    static std::optional<I> from(const Term& t) {
        if constexpr (std::is_unsigned_v<I> && sizeof(I) >= sizeof(std::int64_t)) {
            if (auto big = Convert<BigInt>::from(t); big && !big->negative()) {
                auto mag = big->magnitude();
                if (mag.size() > sizeof(std::uint64_t)) return std::nullopt;
                std::uint64_t v = 0;
                for (std::size_t i = mag.size(); i-- > 0;)
                    v = (v << 8) | mag[i];
                return static_cast<I>(v);
            }
            return std::nullopt;
        } else {
            auto v = Convert<std::int64_t>::from(t);
            if (!v || *v < static_cast<std::int64_t>(std::numeric_limits<I>::min()) ||
                (*v > 0 && static_cast<std::uint64_t>(*v) > std::numeric_limits<I>::max()))
                return std::nullopt;
            return static_cast<I>(*v);
        }
    }
};
// A binary, or a list of bytes (a latin-1 charlist).
template <>
struct Convert<std::string> {
    static std::optional<std::string> from(const Term& t);
};
// A binary only; the view points into the term, which must outlive it.
template <>
struct Convert<std::string_view> {
    static std::optional<std::string_view> from(const Term& t);
};
template <>
struct Convert<Pid> {
    static std::optional<Pid> from(const Term& t);
};
template <>
struct Convert<Port> {
    static std::optional<Port> from(const Term& t);
};
template <>
struct Convert<Reference> {
    static std::optional<Reference> from(const Term& t);
};
template <>
struct Convert<ExportFun> {
    static std::optional<ExportFun> from(const Term& t);
};
template <>
struct Convert<Closure> {
    static std::optional<Closure> from(const Term& t);
};
template <>
struct Convert<NativeRecord> {
    static std::optional<NativeRecord> from(const Term& t);
};
// A proper list whose every element converts.
template <class T>
struct Convert<std::vector<T>> {
    static std::optional<std::vector<T>> from(const Term& t) {
        if (!t.is_proper_list()) return std::nullopt;
        std::vector<T> out;
        out.reserve(t.elements().size());
        for (const Term& e : t.elements()) {
            auto v = Convert<T>::from(e);
            if (!v) return std::nullopt;
            out.push_back(std::move(*v));
        }
        return out;
    }
};

// ---------------------------------------------------------------------------------------------
// Implementation details that must be visible to inline code

namespace detail {

struct TupleObject : HeapObject {
    explicit TupleObject(std::size_t n) noexcept : HeapObject(Tag::tuple), size(n) {}
    std::size_t size;
    Term* data() noexcept { return reinterpret_cast<Term*>(this + 1); }
    const Term* data() const noexcept { return reinterpret_cast<const Term*>(this + 1); }
};
struct ListObject : HeapObject {
    explicit ListObject(std::size_t n) noexcept : HeapObject(Tag::list), size(n) {}
    std::size_t size;
    Term tail;
    Term* data() noexcept { return reinterpret_cast<Term*>(this + 1); }
    const Term* data() const noexcept { return reinterpret_cast<const Term*>(this + 1); }
};
struct MapObject : HeapObject {
    explicit MapObject(std::size_t n) noexcept : HeapObject(Tag::map), size(n) {}
    std::size_t size;
    MapEntry* data() noexcept { return reinterpret_cast<MapEntry*>(this + 1); }
    const MapEntry* data() const noexcept { return reinterpret_cast<const MapEntry*>(this + 1); }
};
// Raw bytes that binaries can be sliced from (a receive buffer).
struct BufferObject : HeapObject {
    explicit BufferObject(std::size_t n) noexcept : HeapObject(Tag::buffer), size(n) {}
    std::size_t size;
    std::uint8_t* data() noexcept { return reinterpret_cast<std::uint8_t*>(this + 1); }
};
struct BinaryObject : HeapObject {
    BinaryObject() noexcept : HeapObject(Tag::binary) {}
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;
    std::uint8_t tail_bits = 8;         // 1..8
    const HeapObject* owner = nullptr;  // the buffer holding the bytes; null: they follow inline
    std::uint8_t* inline_data() noexcept { return reinterpret_cast<std::uint8_t*>(this + 1); }
};
struct BigObject : HeapObject {
    explicit BigObject(std::size_t n) noexcept : HeapObject(Tag::big_int), size(n) {}
    bool negative = false;
    std::size_t size;  // magnitude bytes, the highest non-zero
    std::uint8_t* data() noexcept { return reinterpret_cast<std::uint8_t*>(this + 1); }
    const std::uint8_t* data() const noexcept {
        return reinterpret_cast<const std::uint8_t*>(this + 1);
    }
};
template <class T, Tag K>
struct ValueObject : HeapObject {
    explicit ValueObject(T v) : HeapObject(K), value(std::move(v)) {}
    T value;
};
using PidObject = ValueObject<Pid, Tag::pid>;
using PortObject = ValueObject<Port, Tag::port>;
using ReferenceObject = ValueObject<Reference, Tag::reference>;
using ExportFunObject = ValueObject<ExportFun, Tag::export_fun>;
using ClosureObject = ValueObject<Closure, Tag::closure>;
using RecordObject = ValueObject<NativeRecord, Tag::record>;

// What the codec and the implementation use to build and read terms in place.
struct TermAccess {
    static Tag tag(const Term& t) noexcept { return t.tag_; }
    static bool boxed(const Term& t) noexcept { return t.is_boxed(); }
    static const HeapObject* heap_object(const Term& t) noexcept { return t.raw_.object; }
    static std::int64_t small(const Term& t) noexcept { return t.raw_.integer; }
    static double number(const Term& t) noexcept { return t.raw_.number; }
    static std::uint32_t atom(const Term& t) noexcept { return t.raw_.atom; }
    template <class O>
    static const O& object(const Term& t) noexcept {
        return *static_cast<const O*>(t.raw_.object);
    }
    // Takes over the reference the caller holds on `object`.
    static Term adopt(const HeapObject* object) noexcept {
        Term t;
        t.tag_ = object->tag;
        t.raw_.object = object;
        return t;
    }
    // A float without the finiteness check, for decoders that checked already.
    static Term unchecked_float(double value) noexcept {
        Term t;
        t.tag_ = Tag::float_;
        t.raw_.number = value;
        return t;
    }

    // Fresh objects with `n` nil elements, to be filled through data() before sharing.
    static TupleObject* new_tuple(std::size_t n);
    static ListObject* new_list(std::size_t n);
    // Entries must then be sorted and unique: finish_map does it and reports duplicates.
    static MapObject* new_map(std::size_t n);
    // Sorts by exact key order; false when two keys are equal (the object is then released).
    [[nodiscard]] static bool finish_map(MapObject* map) noexcept;
    static BinaryObject* new_binary(std::size_t size, std::uint8_t tail_bits);
    static BinaryObject* slice_binary(const HeapObject* owner, const std::uint8_t* data,
                                      std::size_t size, std::uint8_t tail_bits);
    static BufferObject* new_buffer(std::size_t size);
    // From little-endian magnitude bytes; normalised to a small integer when it fits.
    static Term make_integer(bool negative, std::span<const std::uint8_t> magnitude_le);
};

}  // namespace detail

// A reference-counted block of bytes, such as a receive buffer: decoding from it slices large
// binaries out of it instead of copying them.
class SharedBuffer {
  public:
    SharedBuffer() = default;
    explicit SharedBuffer(std::size_t size);
    explicit SharedBuffer(std::span<const std::uint8_t> bytes);
    SharedBuffer(const SharedBuffer& other) noexcept;
    SharedBuffer(SharedBuffer&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
    SharedBuffer& operator=(SharedBuffer other) noexcept {
        std::swap(object_, other.object_);
        return *this;
    }
    ~SharedBuffer();

    std::uint8_t* data() noexcept;
    const std::uint8_t* data() const noexcept;
    std::size_t size() const noexcept;
    std::span<const std::uint8_t> span() const noexcept { return {data(), size()}; }
    const detail::HeapObject* object() const noexcept { return object_; }

  private:
    detail::BufferObject* object_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Template definitions

inline bool Term::is_tuple(std::size_t arity) const noexcept {
    return is_tuple() && detail::TermAccess::object<detail::TupleObject>(*this).size == arity;
}

template <class T>
std::optional<T> Term::to() const {
    return Convert<T>::from(*this);
}

namespace detail {
template <class... Ts, std::size_t... Is>
std::optional<std::tuple<Ts...>> convert_elements(const Term* elements,
                                                  std::index_sequence<Is...>) {
    std::tuple<std::optional<Ts>...> parts{Convert<Ts>::from(elements[Is])...};
    if (!(std::get<Is>(parts).has_value() && ...)) return std::nullopt;
    return std::tuple<Ts...>{std::move(*std::get<Is>(parts))...};
}
}  // namespace detail

template <class... Ts>
std::optional<std::tuple<Ts...>> Term::tagged(Atom tag) const {
    if (!is_tuple(sizeof...(Ts) + 1) || !elements()[0].is_atom(tag)) return std::nullopt;
    return detail::convert_elements<Ts...>(elements().data() + 1, std::index_sequence_for<Ts...>{});
}

template <class... Ts>
std::optional<std::tuple<Ts...>> Term::unpack() const {
    if (!is_tuple(sizeof...(Ts))) return std::nullopt;
    return detail::convert_elements<Ts...>(elements().data(), std::index_sequence_for<Ts...>{});
}

template <class... Ts>
Term tuple(Ts&&... elements) {
    const Term parts[] = {Term(std::forward<Ts>(elements))..., Term()};
    return tuple_from(std::span<const Term>(parts, sizeof...(Ts)));
}

template <class... Ts>
Term list(Ts&&... elements) {
    const Term parts[] = {Term(std::forward<Ts>(elements))..., Term()};
    return list_from(std::span<const Term>(parts, sizeof...(Ts)));
}

}  // namespace distribute

template <>
struct std::hash<distribute::Term> {
    std::size_t operator()(const distribute::Term& t) const noexcept { return distribute::hash(t); }
};
template <>
struct std::is_error_code_enum<distribute::AtomErrc> : std::true_type {};
