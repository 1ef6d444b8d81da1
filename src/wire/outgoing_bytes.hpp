// Encoded frames waiting to be written, whose large binaries are not copied in: the encoded
// bytes, with each gathered binary's bytes belonging at an offset of them (etf_gathered.hpp).
// What goes on the wire is the encoded bytes up to the first binary's offset, that binary's own
// bytes, the encoded bytes up to the next one's, and so on; a write gathers these views. The
// binaries' terms are held until the bytes are written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "term/etf_gathered.hpp"

namespace distribute::wire {

using ByteViews = std::vector<std::span<const std::uint8_t>>;

class OutgoingBytes {
  public:
    // A point in the queue to cut back to (a frame that was encoded and must not go).
    struct Mark {
        std::size_t encoded;
        std::size_t binaries;
        std::size_t wire;  // size() at the mark
    };

    // Where encoders append; their gathered binaries go to gathered().
    std::vector<std::uint8_t>& encoded() { return encoded_; }
    etf::Gathered& gathered() { return gathered_; }
    const etf::Gathered& gathered() const { return gathered_; }

    // Bytes on the wire: the encoded ones and the gathered binaries'.
    std::size_t size() const { return encoded_.size() + gathered_.bytes; }
    bool empty() const { return encoded_.empty() && gathered_.binaries.empty(); }
    // Whether all of it is in encoded() (nothing gathered): one contiguous span.
    bool contiguous() const { return gathered_.binaries.empty(); }
    Mark mark() const { return {encoded_.size(), gathered_.binaries.size(), size()}; }

    void append(std::span<const std::uint8_t> bytes) {
        encoded_.insert(encoded_.end(), bytes.begin(), bytes.end());
    }
    // Drops what was appended after `mark`.
    void cut(const Mark& mark);
    // Moves what was appended after `mark` to the end of `to`.
    void move_tail(const Mark& mark, OutgoingBytes& to);
    // Empty; the encoded buffer's memory is given back when it grew past `kept_capacity`.
    void clear(std::size_t kept_capacity);
    void swap(OutgoingBytes& other) noexcept;

    // Reads the wire bytes front to back as views into the buffer and the binaries (valid while
    // this object lives and is not changed).
    class Reader {
      public:
        explicit Reader(const OutgoingBytes& bytes) : bytes_(&bytes) {}
        // The same position in `bytes`, which the read bytes were moved into.
        Reader moved_to(const OutgoingBytes& bytes) const {
            Reader moved = *this;
            moved.bytes_ = &bytes;
            return moved;
        }
        // The next `n` bytes (at most what is left) appended to `views`; the bytes taken.
        std::size_t take(std::size_t n, ByteViews& views);

      private:
        const OutgoingBytes* bytes_;
        std::size_t encoded_ = 0;  // next encoded byte
        std::size_t binary_ = 0;   // next gathered binary
        std::size_t within_ = 0;   // bytes of it already taken
    };

    // All of it, appended to `views`.
    void views(ByteViews& views) const { Reader(*this).take(size(), views); }

  private:
    std::vector<std::uint8_t> encoded_;
    etf::Gathered gathered_;
};

}  // namespace distribute::wire
