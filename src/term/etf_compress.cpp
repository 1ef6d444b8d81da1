#include "term/etf_compress.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <stdexcept>

namespace distribute::etf::zlib {
namespace {

// zlib counts in uInt; feed larger buffers in pieces.
constexpr std::size_t max_chunk = UINT_MAX;

class Inflater {
  public:
    Inflater() { ok_ = inflateInit(&stream_) == Z_OK; }
    ~Inflater() {
        if (ok_) inflateEnd(&stream_);
    }
    Inflater(const Inflater&) = delete;
    Inflater& operator=(const Inflater&) = delete;
    bool ok() const noexcept { return ok_; }
    z_stream& stream() noexcept { return stream_; }

  private:
    z_stream stream_{};
    bool ok_ = false;
};

}  // namespace

bool inflate_exact(std::span<const std::uint8_t> in, std::span<std::uint8_t> out,
                   std::size_t& consumed, std::string& why) {
    Inflater inflater;
    if (!inflater.ok()) {
        why = "zlib could not start";
        return false;
    }
    z_stream& s = inflater.stream();
    std::size_t in_pos = 0;
    std::size_t out_pos = 0;
    for (;;) {
        std::size_t in_chunk = std::min(in.size() - in_pos, max_chunk);
        std::size_t out_chunk = std::min(out.size() - out_pos, max_chunk);
        s.next_in = const_cast<Bytef*>(in.data() + in_pos);
        s.avail_in = static_cast<uInt>(in_chunk);
        s.next_out = out.data() + out_pos;
        s.avail_out = static_cast<uInt>(out_chunk);
        int rc = inflate(&s, Z_NO_FLUSH);
        in_pos += in_chunk - s.avail_in;
        out_pos += out_chunk - s.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc == Z_OK) continue;
        if (rc == Z_BUF_ERROR && out_pos == out.size() && in_pos < in.size()) {
            why = "the data inflates to more than the declared " + std::to_string(out.size()) +
                  " bytes";
            return false;
        }
        if (rc == Z_BUF_ERROR) {
            why = "the compressed data ends early";
            return false;
        }
        why = std::string("corrupt zlib data: ") + (s.msg ? s.msg : "error");
        return false;
    }
    if (out_pos != out.size()) {
        why = "the data inflates to " + std::to_string(out_pos) + " bytes, not the declared " +
              std::to_string(out.size());
        return false;
    }
    consumed = in_pos;
    return true;
}

void deflate_append(std::span<const std::uint8_t> in, int level, std::vector<std::uint8_t>& out) {
    z_stream s{};
    if (deflateInit(&s, std::clamp(level, 0, 9)) != Z_OK) throw std::bad_alloc();
    std::size_t in_pos = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        std::size_t in_chunk = std::min(in.size() - in_pos, max_chunk);
        std::size_t room = deflateBound(&s, static_cast<uLong>(in_chunk)) + 64;
        std::size_t used = out.size();
        out.resize(used + room);
        s.next_in = const_cast<Bytef*>(in.data() + in_pos);
        s.avail_in = static_cast<uInt>(in_chunk);
        s.next_out = out.data() + used;
        s.avail_out = static_cast<uInt>(room);
        bool last = in_pos + in_chunk == in.size();
        rc = deflate(&s, last ? Z_FINISH : Z_NO_FLUSH);
        in_pos += in_chunk - s.avail_in;
        out.resize(out.size() - s.avail_out);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            deflateEnd(&s);
            throw std::runtime_error("zlib deflate failed");
        }
    }
    deflateEnd(&s);
}

}  // namespace distribute::etf::zlib
