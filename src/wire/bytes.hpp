// Big-endian reading and writing of protocol fields. The reader never reads past its span: each
// read returns nullopt once the bytes run out, and so does every read after that one, so parsers of
// peer input stay bounded.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace distribute::wire {

class ByteReader {
  public:
    explicit ByteReader(std::span<const std::uint8_t> input) : input_(input) {}

    std::optional<std::uint8_t> u8() { return number<std::uint8_t>(); }
    std::optional<std::uint16_t> u16() { return number<std::uint16_t>(); }
    std::optional<std::uint32_t> u32() { return number<std::uint32_t>(); }
    std::optional<std::uint64_t> u64() { return number<std::uint64_t>(); }
    std::optional<std::span<const std::uint8_t>> bytes(std::size_t n) {
        if (failed_ || remaining() < n) return fail<std::span<const std::uint8_t>>();
        auto out = input_.subspan(pos_, n);
        pos_ += n;
        return out;
    }
    std::span<const std::uint8_t> rest() {
        auto out = input_.subspan(pos_);
        pos_ = input_.size();
        return out;
    }
    std::size_t remaining() const { return input_.size() - pos_; }
    std::size_t position() const { return pos_; }

  private:
    template <class T>
    std::optional<T> number() {
        if (failed_ || remaining() < sizeof(T)) return fail<T>();
        T v = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i)
            v = static_cast<T>((v << 8) | input_[pos_ + i]);
        pos_ += sizeof(T);
        return v;
    }
    // A read past the end fails every read after it, even a shorter one that would fit: a
    // caller may check only the last of several reads.
    template <class T>
    std::optional<T> fail() {
        failed_ = true;
        return std::nullopt;
    }
    std::span<const std::uint8_t> input_;
    std::size_t pos_ = 0;
    bool failed_ = false;
};

class ByteWriter {
  public:
    void u8(std::uint8_t v) { out_.push_back(v); }
    void u16(std::uint16_t v) { number(v); }
    void u32(std::uint32_t v) { number(v); }
    void u64(std::uint64_t v) { number(v); }
    void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
    const std::vector<std::uint8_t>& data() const { return out_; }
    std::vector<std::uint8_t> take() { return std::move(out_); }

  private:
    template <class T>
    void number(T v) {
        for (std::size_t i = sizeof(T); i-- > 0;)
            out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    std::vector<std::uint8_t> out_;
};

}  // namespace distribute::wire
