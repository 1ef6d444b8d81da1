#include "distribute/codec.hpp"

#include "term/utf8.hpp"

namespace distribute {

namespace {
constexpr std::size_t shown_bytes = 200;
}

std::string CodecError::to_string() const {
    std::string out = path.empty() ? std::string() : path + ": ";
    return out + "expected " + expected + ", got " + found;
}

namespace codec_detail {

CodecError mismatch(const Term& found, std::string expected) {
    std::string text = distribute::to_string(found);
    if (text.size() > shown_bytes) text = text.substr(0, shown_bytes) + "...";
    return {{}, std::move(expected), std::move(text)};
}

CodecError nested(CodecError inner, std::string_view step) {
    if (inner.path.empty())
        inner.path = std::string(step);
    else if (inner.path.front() == '[' || inner.path.front() == '{')
        inner.path = std::string(step) + inner.path;
    else
        inner.path = std::string(step) + "." + inner.path;
    return inner;
}

}  // namespace codec_detail

Expected<double, CodecError> Codec<double>::decode(const Term& t) {
    if (auto d = t.to<double>()) return *d;
    if (auto i = t.to<std::int64_t>()) return static_cast<double>(*i);
    if (auto b = t.to<BigInt>()) return b->to_double();
    return unexpected(codec_detail::mismatch(t, "a number"));
}

Expected<std::string, CodecError> Codec<std::string>::decode(const Term& t) {
    if (t.is_binary()) return std::string(t.text());
    if (t.is_proper_list()) {
        // An Erlang string: code points, written back as UTF-8.
        std::string out;
        for (const Term& e : t.elements()) {
            auto c = e.to<std::uint32_t>();
            if (!c || *c > 0x10FFFF || (*c >= 0xD800 && *c <= 0xDFFF))
                return unexpected(codec_detail::mismatch(t, "a binary or a list of code points"));
            utf8::append(out, static_cast<char32_t>(*c));
        }
        return out;
    }
    return unexpected(codec_detail::mismatch(t, "a binary or a list of code points"));
}

Expected<std::vector<std::uint8_t>, CodecError> Codec<std::vector<std::uint8_t>>::decode(
    const Term& t) {
    if (!t.is_binary()) return unexpected(codec_detail::mismatch(t, "a binary"));
    auto bytes = t.bytes();
    return std::vector<std::uint8_t>(bytes.begin(), bytes.end());
}

}  // namespace distribute
